"""Wheels by URL: HTTP range requests when the server supports them, one streamed download otherwise.

With ranges, the zip's central directory comes from one suffix request for the tail, small reads
(local headers, the first bytes of members) go through a bounded block cache, and each ELF member's
compressed bytes arrive as one streamed range request. Without ranges the body is streamed into a
temporary file (hashed on the way) and read like a local wheel. URLs are shown with credentials
masked; user:password in the URL is sent as Basic auth to that host only (never across a redirect).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import re
import socket
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from envresolve._redact import redact_text, redact_url
from envresolve.binary.model import ArtifactReport
from envresolve.binary.wheel import DEFAULT_LIMITS, FileSource, Limits, wheel_report
from envresolve.diagnostics import make
from envresolve.errors import InputError

__all__ = ["HttpRangeSource", "inspect_url"]

_BLOCK = 32 << 10  # small: a peek needs ~300 bytes at each member start
_MAX_BLOCKS = 256
_CHUNK = 1 << 20
_TAIL = 256 << 10
_USER_AGENT = "envresolve-inspect"
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+)$")
_SHA_FRAGMENT = re.compile(r"(?:^|&)sha256=([0-9a-fA-F]{64})(?:&|$)")


class _Request:
    """URL without user info, plus the Authorization header it implies."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(make("GN104", f"not an http(s) URL: {redact_url(url)}", subject=redact_url(url)))
        self.display = redact_url(url)
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.fragment = parts.fragment
        self.auth: str | None = None
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
            self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])

    def open(self, timeout: float, byte_range: str | None = None) -> http.client.HTTPResponse:
        req = urllib.request.Request(self.url, headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
        if byte_range:
            req.add_header("Range", byte_range)
        if self.auth:
            req.add_unredirected_header("Authorization", self.auth)
        try:
            resp: http.client.HTTPResponse = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise self.error(f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, socket.timeout) or isinstance(exc, TimeoutError):
                raise self.error(f"timed out after {timeout:g} s") from None
            raise self.error(str(reason)) from None
        return resp

    def error(self, what: str) -> InputError:
        return InputError(
            make(
                "BN701",
                f"cannot fetch {self.display}: {redact_text(what)}",
                subject=self.display,
                hint="check the URL and the network; credentials in URLs are masked in messages",
            )
        )


class HttpRangeSource:
    """A ByteSource over an HTTP resource whose server honours Range requests."""

    def __init__(self, req: _Request, size: int, *, timeout: float, tail: bytes = b"") -> None:
        self._req = req
        self.size = size
        self._timeout = timeout
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._tail_start = size - len(tail)
        self._tail = tail

    def _fetch(self, start: int, end: int) -> bytes:
        """Bytes [start, end) in one request."""
        resp = self._req.open(self._timeout, f"bytes={start}-{end - 1}")
        with contextlib.closing(resp):
            if resp.status != 206:
                raise self._req.error(f"server answered {resp.status} to a range request it had honoured before")
            try:
                data = resp.read(end - start + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise self._req.error(f"connection broke: {exc}") from None
        if len(data) != end - start:
            raise self._req.error(f"short range answer: {len(data)} of {end - start} bytes")
        return data

    def _block(self, index: int) -> bytes:
        with self._lock:
            hit = self._blocks.get(index)
            if hit is not None:
                self._blocks.move_to_end(index)
                return hit
        start = index * _BLOCK
        end = min(start + _BLOCK, self.size)
        data = self._tail[start - self._tail_start :] if start >= self._tail_start else self._fetch(start, end)
        with self._lock:
            self._blocks[index] = data
            while len(self._blocks) > _MAX_BLOCKS:
                self._blocks.popitem(last=False)
        return data

    def read_at(self, offset: int, n: int) -> bytes:
        if n <= 0 or offset >= self.size:
            return b""
        end = min(offset + n, self.size)
        if offset >= self._tail_start:
            return self._tail[offset - self._tail_start : end - self._tail_start]
        if end - offset > 4 * _BLOCK:
            return self._fetch(offset, end)
        parts = []
        for index in range(offset // _BLOCK, (end - 1) // _BLOCK + 1):
            block = self._block(index)
            lo = max(offset - index * _BLOCK, 0)
            hi = min(end - index * _BLOCK, len(block))
            parts.append(block[lo:hi])
        return b"".join(parts)

    def stream(self, offset: int, length: int) -> Iterator[bytes]:
        end = min(offset + length, self.size)
        if end <= offset:
            return
        resp = self._req.open(self._timeout, f"bytes={offset}-{end - 1}")
        with contextlib.closing(resp):
            if resp.status != 206:
                raise self._req.error(f"server answered {resp.status} to a range request")
            left = end - offset
            while left > 0:
                try:
                    data = resp.read(min(_CHUNK, left))
                except (OSError, http.client.HTTPException) as exc:
                    raise self._req.error(f"connection broke: {exc}") from None
                if not data:
                    raise self._req.error(f"range answer ended {left} bytes early")
                left -= len(data)
                yield data


def inspect_url(
    url: str,
    *,
    symbols: bool = False,
    cache: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
    timeout: float = 30.0,
) -> ArtifactReport:
    """Inspect the wheel at `url` (http or https). Raises InputError (BN701) when it cannot be fetched."""
    from envresolve.binary.cache import ReportCache

    limits = limits or DEFAULT_LIMITS
    req = _Request(url)
    store = ReportCache(cache_root) if cache else None
    m = _SHA_FRAGMENT.search(req.fragment)
    known_sha = m.group(1).lower() if m else None
    if store is not None and known_sha:
        hit = store.get(known_sha, symbols=symbols)
        if hit is not None:
            return hit.model_copy(update={"artifact": req.display})

    if req.filename.lower().endswith((".conda", ".tar.bz2")):
        # A conda package is read front to back (zstd/bz2 tarballs), so ranges would not save anything.
        resp = req.open(timeout)
        with contextlib.closing(resp):
            return _download_and_inspect(
                req, resp, symbols=symbols, store=store, limits=limits, known_sha=known_sha, ranged=False
            )

    resp = req.open(timeout, f"bytes=-{_TAIL}")
    with contextlib.closing(resp):
        status = resp.status
        content_range = resp.headers.get("Content-Range", "")
        validators = "|".join(resp.headers.get(h, "") for h in ("ETag", "Last-Modified"))
        cr = _CONTENT_RANGE.match(content_range.strip())
        if status == 206 and cr:
            size = int(cr.group(3))
            try:
                tail = resp.read(int(cr.group(2)) - int(cr.group(1)) + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise req.error(f"connection broke: {exc}") from None
            ranged = True
        elif status == 200:
            ranged = False
        else:
            raise req.error(f"unexpected answer {status} {content_range!r} to a range request")

        if ranged:
            url_key = None
            if store is not None and not known_sha and validators.strip("|"):
                url_key = hashlib.sha256(f"{req.url}\n{size}\n{validators}".encode()).hexdigest()
                hit = store.get(url_key, symbols=symbols)
                if hit is not None:
                    return hit.model_copy(update={"artifact": req.display})
            source = HttpRangeSource(req, size, timeout=timeout, tail=tail)
            report = wheel_report(
                source, artifact=req.display, filename=req.filename, symbols=symbols, limits=limits, sha256=known_sha
            )
            key = known_sha or url_key
            if store is not None and key:
                store.put(key, report, symbols=symbols)
            return report
        return _download_and_inspect(req, resp, symbols=symbols, store=store, limits=limits, known_sha=known_sha)


def _download_and_inspect(
    req: _Request,
    resp: Any,
    *,
    symbols: bool,
    store: Any,
    limits: Limits,
    known_sha: str | None,
    ranged: bool = True,
) -> ArtifactReport:
    """Stream the body to a temporary file, hashing it on the way, and read that like a local file.

    `ranged=True` means we asked for a range and the server sent everything (worth a BN702 note).
    """
    h = hashlib.sha256()
    cap = 2 * limits.max_member_bytes
    with tempfile.TemporaryDirectory(prefix="envresolve-inspect-") as tmp:
        path = os.path.join(tmp, req.filename or "download.whl")
        total = 0
        with open(path, "wb") as fh:
            while True:
                try:
                    data = resp.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise req.error(f"connection broke after {total} bytes: {exc}") from None
                if not data:
                    break
                total += len(data)
                if total > cap:
                    raise req.error(f"download larger than {cap} bytes")
                h.update(data)
                fh.write(data)
        sha = h.hexdigest()
        if known_sha and sha != known_sha:
            raise req.error(f"sha256 mismatch: the URL says {known_sha}, the download is {sha}")
        notes = [make("BN702", "server ignores Range requests: downloaded the whole file", subject=req.display)]
        if store is not None:
            hit = store.get(sha, symbols=symbols)
            if hit is not None:
                return hit.model_copy(update={"artifact": req.display})  # type: ignore[no-any-return]
        report: ArtifactReport
        if not ranged:
            from envresolve.binary.conda_pkg import conda_report

            notes = []
            report = conda_report(path, symbols=symbols, limits=limits, sha256=sha, artifact=req.display)
        else:
            with FileSource(path) as source:
                report = wheel_report(
                    source, artifact=req.display, filename=req.filename, symbols=symbols, limits=limits, sha256=sha
                )
    if store is not None:
        store.put(sha, report, symbols=symbols)
    return report.model_copy(update={"diagnostics": (*report.diagnostics, *notes)})
