"""Wheels by URL: HTTP range requests when the server supports them, one streamed download otherwise.

Every request goes through the one HTTP client (`envresolve.net.HttpClient`), so `inspect URL` gets the same
credentials (URL, environment, netrc, keyring), retries, deadlines, size caps and redaction as `lock`. With
ranges, the zip's central directory comes from one suffix request for the tail, small reads (local headers,
the first bytes of members) go through a bounded block cache, and each ELF member's compressed bytes arrive
as one streamed range request. Without ranges the body is streamed into a temporary file (hashed on the way)
and read like a local wheel.

Reports are cached by sha256 only when the whole file was read and hashed here; a report made from ranges
is cached under the URL and its validators, never under a hash the URL merely claims.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from envresolve._redact import redact_url
from envresolve.binary.model import ArtifactReport
from envresolve.binary.wheel import DEFAULT_LIMITS, FileSource, Limits, wheel_report
from envresolve.diagnostics import make
from envresolve.errors import InputError
from envresolve.net import HttpClient, NetError, Stream, hash_mismatch

if TYPE_CHECKING:
    from envresolve.binary.cache import ReportCache

__all__ = ["HttpRangeSource", "inspect_url"]

_BLOCK = 32 << 10  # small: a peek needs ~300 bytes at each member start
_MAX_BLOCKS = 256
_TAIL = 256 << 10
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+)$")
_SHA_FRAGMENT = re.compile(r"(?:^|&)sha256=([0-9a-fA-F]{64})(?:&|$)")
#: these network codes say something precise; any other failure to fetch is BN701
_KEPT_CODES = frozenset({"RS402", "RS403", "RS410", "RS411", "RS412"})


class _Request:
    """One wheel URL (credentials registered with the client, never kept here) and how it is shown."""

    def __init__(self, client: HttpClient, url: str, *, trust: bool = True) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(make("GN104", f"not an http(s) URL: {redact_url(url)}", subject=redact_url(url)))
        self.client = client
        self.display = redact_url(url)
        self.fragment = parts.fragment
        # a URL the user named: its host gets the configured credentials; an index's file URL has its index's
        clean = client.trust_host(url) if trust else url
        self.url = clean.split("#", 1)[0]
        self.filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])

    def open(self, byte_range: str | None = None) -> Stream:
        headers = {"Accept-Encoding": "identity"}
        if byte_range:
            headers["Range"] = byte_range
        try:
            return self.client.stream(self.url, headers, ok_statuses=frozenset({200, 206}))
        except NetError as exc:
            raise self.wrap(exc) from None

    def read(self, stream: Stream, cap: int) -> bytes:
        try:
            return stream.read_all(cap)
        except NetError as exc:
            raise self.wrap(exc) from None

    def wrap(self, exc: NetError) -> InputError:
        if exc.code in _KEPT_CODES:
            return exc
        return self.error(exc.diagnostics[0].message)

    def error(self, what: str) -> InputError:
        return InputError(
            make(
                "BN701",
                f"cannot fetch {self.display}: {what}",
                subject=self.display,
                hint="check the URL and the network; credentials in URLs are masked in messages",
            )
        )


class HttpRangeSource:
    """A ByteSource over an HTTP resource whose server honours Range requests."""

    def __init__(self, req: _Request, size: int, *, tail: bytes = b"") -> None:
        self._req = req
        self.size = size
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._tail_start = size - len(tail)
        self._tail = tail

    def _fetch(self, start: int, end: int) -> bytes:
        """Bytes [start, end) in one request."""
        with self._req.open(f"bytes={start}-{end - 1}") as resp:
            if resp.status != 206:
                raise self._req.error(f"server answered {resp.status} to a range request it had honoured before")
            data = self._req.read(resp, end - start)
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
        with self._req.open(f"bytes={offset}-{end - 1}") as resp:
            if resp.status != 206:
                raise self._req.error(f"server answered {resp.status} to a range request")
            left = end - offset
            try:
                for data in resp.chunks(left):
                    left -= len(data)
                    yield data
            except NetError as exc:
                raise self._req.wrap(exc) from None
            if left > 0:
                raise self._req.error(f"range answer ended {left} bytes early")


def inspect_url(
    url: str,
    *,
    symbols: bool = False,
    cache: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
    timeout: float = 30.0,
    client: HttpClient | None = None,
) -> ArtifactReport:
    """Inspect the wheel or conda package at `url` (http or https) through `client` (default: a new one).

    Raises InputError: BN701 when it cannot be fetched; RS402 (auth refused), RS403 (the URL's `#sha256=` does
    not match), RS410 (deadline), RS411 (too large) and RS412 (redirect loop) as the client reports them.
    """
    from envresolve.binary.cache import ReportCache

    limits = limits or DEFAULT_LIMITS
    client = client or HttpClient(cache_dir=None, timeout=timeout, progress=False)
    req = _Request(client, url)
    store = ReportCache(cache_root) if cache else None
    m = _SHA_FRAGMENT.search(req.fragment)
    known_sha = m.group(1).lower() if m else None
    if store is not None and known_sha:
        hit = _matching(store.get(known_sha, symbols=symbols), req.filename)
        if hit is not None:  # stored under a sha256 only after hashing the whole file
            return hit.model_copy(update={"artifact": req.display})

    if req.filename.lower().endswith((".conda", ".tar.bz2")):
        # A conda package is read front to back (zstd/bz2 tarballs), so ranges would not save anything.
        with req.open() as resp:
            return _download_and_inspect(
                req, resp, symbols=symbols, store=store, limits=limits, known_sha=known_sha, ranged=False
            )

    with req.open(f"bytes=-{_TAIL}") as resp:
        status = resp.status
        content_range = resp.headers.get("content-range", "")
        validators = "|".join(resp.headers.get(h, "") for h in ("etag", "last-modified"))
        cr = _CONTENT_RANGE.match(content_range.strip())
        if status == 206 and cr:
            size = int(cr.group(3))
            tail = req.read(resp, int(cr.group(2)) - int(cr.group(1)) + 1)
            ranged = True
        elif status == 200:
            ranged = False
        else:
            raise req.error(f"unexpected answer {status} {content_range!r} to a range request")

        if ranged:
            # Nothing here reads the whole file, so its sha256 stays unknown: the report is cached under the
            # URL and its validators, and the sha256 the URL claims is neither trusted nor recorded.
            url_key = None
            if store is not None and validators.strip("|"):
                url_key = hashlib.sha256(f"{req.url}\n{size}\n{validators}".encode()).hexdigest()
                hit = _matching(store.get(url_key, symbols=symbols), req.filename)
                if hit is not None:
                    return hit.model_copy(update={"artifact": req.display})
            source = HttpRangeSource(req, size, tail=tail)
            report = wheel_report(
                source, artifact=req.display, filename=req.filename, symbols=symbols, limits=limits, sha256=None
            )
            if store is not None and url_key:
                store.put(url_key, report, symbols=symbols)
            return report
        return _download_and_inspect(req, resp, symbols=symbols, store=store, limits=limits, known_sha=known_sha)


def _matching(report: ArtifactReport | None, filename: str) -> ArtifactReport | None:
    """A cached report only when it is about a file of this name (a wrong claimed sha256 finds another file)."""
    if report is None:
        return None
    cached = urllib.parse.unquote(report.artifact.rsplit("/", 1)[-1].split("#", 1)[0])
    return report if cached == filename else None


def _download_and_inspect(
    req: _Request,
    resp: Stream,
    *,
    symbols: bool,
    store: ReportCache | None,
    limits: Limits,
    known_sha: str | None,
    ranged: bool = True,
) -> ArtifactReport:
    """Stream the body to a temporary file, hashing it on the way, and read that like a local file.

    `ranged=True` means we asked for a range and the server sent everything (worth a BN702 note).
    """
    h = hashlib.sha256()
    cap = min(2 * limits.max_member_bytes, req.client.max_download_bytes)
    with tempfile.TemporaryDirectory(prefix="envresolve-inspect-") as tmp:
        path = os.path.join(tmp, os.path.basename(req.filename) or "download.whl")
        with open(path, "wb") as fh:
            try:
                for data in resp.chunks(cap):
                    h.update(data)
                    fh.write(data)
            except NetError as exc:
                raise req.wrap(exc) from None
        sha = h.hexdigest()
        if known_sha and sha != known_sha:
            raise hash_mismatch(req.display, known_sha, sha)
        notes = [make("BN702", "server ignores Range requests: downloaded the whole file", subject=req.display)]
        if store is not None:
            hit = _matching(store.get(sha, symbols=symbols), req.filename)
            if hit is not None:
                return hit.model_copy(update={"artifact": req.display})
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
