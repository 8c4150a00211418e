"""Core metadata of a wheel, as cheaply as the index allows.

In order: the on-disk metadata cache (keyed by the wheel's sha256, or its URL); the PEP 658/714
`<wheel-url>.metadata` file when the index offers it (hash-checked); the `METADATA` member read through
HTTP range requests (the zip central directory from the tail, then only that member); a full download
when the server ignores `Range`. Local files are read directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import struct
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.metadata import parse_email

from envresolve._atomic import atomic_write_bytes
from envresolve._redact import redact_url
from envresolve.diagnostics import make
from envresolve.errors import InputError
from envresolve.net import HttpClient, NetError, Response

if TYPE_CHECKING:
    from envresolve.solve.pip.index import DistFile

__all__ = ["CoreMetadata", "MetadataFetcher", "parse_metadata"]

_TAIL = 64 * 1024
_MIN_READ = 64 * 1024
_MAX_METADATA = 16 * 1024 * 1024


@dataclass(frozen=True)
class CoreMetadata:
    """The parts of core metadata the resolver uses."""

    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]
    how: str  # where it came from: cache, pep658, range, download, local


def parse_metadata(data: bytes, how: str) -> CoreMetadata:
    """Parse a METADATA / PKG-INFO file. Raises ValueError when it has no name or version."""
    raw, _unparsed = parse_email(data)
    name = raw.get("name")
    version = raw.get("version")
    if not name or not version:
        raise ValueError("metadata without Name or Version")
    return CoreMetadata(
        name=name,
        version=version,
        requires_dist=tuple(raw.get("requires_dist", ())),
        requires_python=raw.get("requires_python"),
        provides_extra=tuple(raw.get("provides_extra", ())),
        how=how,
    )


# The metadata cache keeps, beside each METADATA file, what `parse_metadata` made of it (`<key>.json`, tied to
# the METADATA bytes by their sha256): parsing METADATA with the email parser costs about 0.5 ms a file, and a
# warm lock reads dozens of them.
_PARSED_FORMAT = 1


def _cache_read(path: Path) -> CoreMetadata | None:
    """The cached metadata at `path` ('cache'), from its parsed sidecar when that matches; None when absent."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    try:
        row = json.loads(path.with_suffix(".json").read_bytes())
        fmt, sha, name, version, requires_dist, requires_python, provides_extra = row
        if fmt == _PARSED_FORMAT and sha == digest and name and version:
            return CoreMetadata(
                name=str(name),
                version=str(version),
                requires_dist=tuple(str(r) for r in requires_dist),
                requires_python=None if requires_python is None else str(requires_python),
                provides_extra=tuple(str(e) for e in provides_extra),
                how="cache",
            )
    except (OSError, ValueError, TypeError):
        pass
    try:
        md = parse_metadata(data, "cache")
    except ValueError:
        return None
    _cache_write_parsed(path, data, md)
    return md


def _cache_write_parsed(path: Path, data: bytes, md: CoreMetadata) -> None:
    row = [
        _PARSED_FORMAT,
        hashlib.sha256(data).hexdigest(),
        md.name,
        md.version,
        list(md.requires_dist),
        md.requires_python,
        list(md.provides_extra),
    ]
    with contextlib.suppress(OSError, InputError):
        atomic_write_bytes(path.with_suffix(".json"), json.dumps(row, separators=(",", ":")).encode())


class _RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file that fetches what zipfile reads with `Range` requests."""

    def __init__(self, client: HttpClient, url: str, size: int, first: tuple[int, bytes]) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._size = size
        self._pos = 0
        self._segments: list[tuple[int, bytes]] = [first]
        self.fetches = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._read(self._pos, n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _read(self, start: int, n: int) -> bytes:
        for seg_start, seg in self._segments:
            if seg_start <= start and start + n <= seg_start + len(seg):
                return seg[start - seg_start : start - seg_start + n]
        end = min(self._size, start + max(n, _MIN_READ)) - 1
        resp = self._client.get_range(self._url, start, end)
        self.fetches += 1
        if resp.status != 206:
            raise _NoRange(resp)
        self._segments.append((start, resp.body))
        return resp.body[:n]


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_CDH = struct.Struct("<4s6H3L5H2L")  # central directory file header
_LFH = struct.Struct("<4s5H3L2H")  # local file header
_METADATA_NAME = b".dist-info/METADATA"


def _scan_metadata(raw: _RangeFile, tail_start: int, tail: bytes) -> bytes | None:
    """The `<name>.dist-info/METADATA` member of a remote wheel, found without parsing the whole zip directory.

    `zipfile` builds a `ZipInfo` for every entry of the central directory (12,000 for a torch wheel, about 0.1 s of
    Python each time); this looks only at the entries whose name ends in `.dist-info/METADATA`. It reads the same
    byte ranges `zipfile` would. Anything unusual (ZIP64, an archive comment, not exactly one such entry, a
    compression other than stored/deflate, encryption, a size or CRC that does not match) returns None, and the
    caller reads the wheel with `zipfile` as before.
    """
    if len(tail) < _EOCD.size or tail[-_EOCD.size : -_EOCD.size + 4] != b"PK\x05\x06":
        return None  # an archive comment, or not a zip: let zipfile judge
    _sig, disk, cd_disk, _n_here, n_entries, cd_size, cd_offset, comment_len = _EOCD.unpack(tail[-_EOCD.size :])
    if disk or cd_disk or comment_len or 0xFFFFFFFF in (cd_size, cd_offset) or n_entries == 0xFFFF:
        return None
    eocd_at = raw._size - _EOCD.size
    if cd_offset + cd_size != eocd_at:
        return None  # ZIP64 records or data between the directory and its end record
    if cd_offset >= tail_start:
        cd = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
    else:
        cd = raw._read(cd_offset, cd_size)
    if len(cd) != cd_size:
        return None
    hits: list[tuple[int, int, int, int, int, int, int]] = []
    pos = cd.find(_METADATA_NAME)
    while pos != -1:
        end = pos + len(_METADATA_NAME)
        head = cd.rfind(b"PK\x01\x02", 0, pos)
        if head != -1 and head + _CDH.size <= len(cd):
            fields = _CDH.unpack_from(cd, head)
            flags, method, crc, csize, usize, name_len, offset = (
                fields[3],
                fields[4],
                fields[7],
                fields[8],
                fields[9],
                fields[10],
                fields[16],
            )
            name = cd[head + _CDH.size : head + _CDH.size + name_len]
            if head + _CDH.size + name_len == end and name.count(b"/") == 1:
                hits.append((flags, method, crc, csize, usize, name_len, offset))
        pos = cd.find(_METADATA_NAME, end)
    if len(hits) != 1:
        return None
    flags, method, crc, csize, usize, name_len, offset = hits[0]
    if flags & 0x1 or method not in (0, 8) or usize > _MAX_METADATA or offset >= cd_offset:
        return None
    local = raw._read(offset, min(_LFH.size + name_len + 1024 + csize, cd_offset - offset))
    if len(local) < _LFH.size or local[:4] != b"PK\x03\x04":
        return None
    lfh = _LFH.unpack_from(local)
    start = _LFH.size + lfh[9] + lfh[10]
    data = local[start : start + csize]
    if len(data) < csize:
        data = raw._read(offset + start, csize)
    if len(data) != csize:
        return None
    try:
        out = zlib.decompressobj(-15).decompress(data, _MAX_METADATA + 1) if method == 8 else data
    except zlib.error:
        return None
    if len(out) != usize or zlib.crc32(out) != crc:
        return None
    return out


class _NoRange(Exception):
    def __init__(self, resp: Response) -> None:
        self.resp = resp


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class MetadataFetcher:
    """Fetches and caches wheel metadata. Thread-safe; one fetch per file even when asked concurrently."""

    def __init__(self, client: HttpClient, cache_dir: Path | None = None) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._memo: dict[str, CoreMetadata] = {}
        self._inflight: dict[str, threading.Event] = {}
        self.stats: dict[str, int] = {}

    def get(self, dist: DistFile) -> CoreMetadata:
        """The metadata of `dist`. Raises InputError (RS205, or a network code) when it cannot be had."""
        key = dist.sha256 or dist.url
        while True:
            with self._lock:
                if key in self._memo:
                    return self._memo[key]
                event = self._inflight.get(key)
                if event is None:
                    event = threading.Event()
                    self._inflight[key] = event
                    owner = True
                else:
                    owner = False
            if not owner:
                event.wait()
                with self._lock:
                    if key in self._memo:
                        return self._memo[key]
                # the owner failed; try ourselves
                continue
            try:
                md = self._fetch(dist)
                with self._lock:
                    self._memo[key] = md
                    self.stats[md.how] = self.stats.get(md.how, 0) + 1
                return md
            finally:
                with self._lock:
                    self._inflight.pop(key, None)
                event.set()

    def _cache_path(self, dist: DistFile) -> Path | None:
        if self.cache_dir is None:
            return None
        key = "sha256-" + dist.sha256 if dist.sha256 else "url-" + hashlib.sha256(dist.url.encode()).hexdigest()
        return self.cache_dir / "metadata" / key[:9] / f"{key}.METADATA"

    def _fetch(self, dist: DistFile) -> CoreMetadata:
        if dist.local_path is not None:
            return self._parse(dist, self._from_zip_bytes(dist, dist.local_path.read_bytes()), "local")
        cache = self._cache_path(dist)
        if cache is not None:
            cached = _cache_read(cache)
            if cached is not None:
                return cached
        if dist.kind != "wheel":
            raise InputError(make("RS205", f"not a wheel: {dist.filename}", subject=dist.filename))
        data: bytes | None = None
        how = ""
        if dist.metadata:
            resp = self.client.get(dist.url + ".metadata", ok_statuses=frozenset({200, 404}))
            if resp.status == 200 and self._hash_ok(resp.body, dist):
                data, how = resp.body, "pep658"
        if data is None:
            data, how = self._from_range(dist)
        md = self._parse(dist, data, how)
        if cache is not None and (dist.sha256 or how != "download"):
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(cache, data)
            except (OSError, InputError):
                pass
            else:
                _cache_write_parsed(cache, data, md)
        return md

    @staticmethod
    def _hash_ok(body: bytes, dist: DistFile) -> bool:
        for algo, want in dist.metadata_hashes.items():
            if algo in hashlib.algorithms_available:
                return hashlib.new(algo, body).hexdigest() == want
        return True

    def _parse(self, dist: DistFile, data: bytes, how: str) -> CoreMetadata:
        try:
            return parse_metadata(data, how)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(
                make("RS205", f"cannot parse the metadata of {dist.filename}: {exc}", subject=dist.filename)
            ) from None

    def _from_range(self, dist: DistFile) -> tuple[bytes, str]:
        resp = self.client.get_range(dist.url, None, _TAIL)
        if resp.status == 200:  # no Range support: we got the whole wheel
            return self._check_and_extract(dist, resp.body), "download"
        m = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
        if not m:
            full = self.client.get(dist.url)
            return self._check_and_extract(dist, full.body), "download"
        start, size = int(m.group(1)), int(m.group(3))
        raw = _RangeFile(self.client, dist.url, size, (start, resp.body))
        try:
            found = _scan_metadata(raw, start, resp.body)
        except _NoRange as exc:
            return self._check_and_extract(dist, exc.resp.body), "download"
        if found is not None:
            return found, "range"
        try:
            with zipfile.ZipFile(io.BufferedReader(raw, buffer_size=_MIN_READ)) as zf:
                return self._member(dist, zf), "range"
        except _NoRange as exc:
            return self._check_and_extract(dist, exc.resp.body), "download"
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise InputError(
                make("RS205", f"cannot read {dist.filename} as a zip file: {exc}", subject=redact_url(dist.url))
            ) from None

    def _check_and_extract(self, dist: DistFile, body: bytes) -> bytes:
        if dist.sha256 and hashlib.sha256(body).hexdigest() != dist.sha256:
            raise NetError(
                make(
                    "RS403",
                    f"sha256 mismatch for {redact_url(dist.url)}",
                    subject=redact_url(dist.url),
                    evidence=[f"expected {dist.sha256}", f"got {hashlib.sha256(body).hexdigest()}"],
                )
            )
        return self._from_zip_bytes(dist, body)

    def _from_zip_bytes(self, dist: DistFile, body: bytes) -> bytes:
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                return self._member(dist, zf)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise InputError(
                make("RS205", f"cannot read {dist.filename} as a zip file: {exc}", subject=dist.filename)
            ) from None

    @staticmethod
    def _member(dist: DistFile, zf: zipfile.ZipFile) -> bytes:
        candidates = [
            i for i in zf.infolist() if i.filename.count("/") == 1 and i.filename.endswith(".dist-info/METADATA")
        ]
        if len(candidates) != 1:
            raise InputError(
                make("RS205", f"{dist.filename} has {len(candidates)} .dist-info/METADATA files", subject=dist.filename)
            )
        info = candidates[0]
        if info.file_size > _MAX_METADATA:
            raise InputError(make("RS205", f"{dist.filename}: METADATA is implausibly large", subject=dist.filename))
        with zf.open(info) as fh:
            return fh.read(_MAX_METADATA)
