"""Core metadata of a wheel, as cheaply as the index allows, and never trusted further than it was checked.

In order: the on-disk metadata cache; the PEP 658/714 `<wheel-url>.metadata` file when the index offers it
(checked against the hash the index announces for it); the `METADATA` member read through HTTP range requests
(the zip central directory from the tail, then only that member); a full download, streamed to a temporary
file and checked against the wheel's sha256, when the server ignores `Range`. Local files are read directly.

What each record is worth is kept with it (`CoreMetadata.check`, recorded in the lock as `metadata_check`):

- `sha256`: read from the whole wheel, whose sha256 matched the one announced;
- `index-hash`: a PEP 658 file that matched the hash the index announced for it (the wheel was not fetched);
- `unverified`: read from byte ranges of the wheel, which nothing checked against its sha256;
- `local`: read from a local file.

The cache never lets one index's claim reach another: a record is stored under the bare sha256 only when the
whole file was hashed (`sha256`); everything else is stored under the file's URL plus the claimed hash. A
record is used only for the name and version it describes. A verified record whose name or version differs
from the file that claims its sha256 proves the claim false: RS403, nothing is locked.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import tempfile
import threading
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve._redact import redact_url
from envresolve.diagnostics import make
from envresolve.errors import InputError
from envresolve.net import HttpClient, NetError, Response, Stream, hash_mismatch

if TYPE_CHECKING:
    from collections.abc import Mapping

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
    check: str = "unverified"  # what vouches for it: sha256, index-hash, unverified, local (see the module doc)


_CHECK_OF = {"download": "sha256", "pep658": "index-hash", "range": "unverified", "local": "local"}


def parse_metadata(data: bytes, how: str) -> CoreMetadata:
    """Parse a METADATA / PKG-INFO file. Raises ValueError when it has no name or version (or names either twice)."""
    # The standard library's header parser (http.client has loaded it already; packaging.metadata would add its
    # SPDX licence table, ~15 ms of import, for fields read here). Every field read here is a header: the body
    # (the long description, often a whole README) is not parsed.
    from email.parser import HeaderParser
    from email.policy import compat32

    end = min((i for i in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if i >= 0), default=-1)
    head = (data if end < 0 else data[: end + 1]).decode("utf-8", "replace")
    msg = HeaderParser(policy=compat32).parsestr(head)

    def all_of(field: str) -> list[str]:
        return [str(v).strip() for v in msg.get_all(field) or ()]

    names, versions, pythons = all_of("Name"), all_of("Version"), all_of("Requires-Python")
    if len(names) != 1 or len(versions) != 1 or not names[0] or not versions[0]:
        raise ValueError("metadata without one Name and one Version")
    return CoreMetadata(
        name=names[0],
        version=versions[0],
        requires_dist=tuple(all_of("Requires-Dist")),
        requires_python=pythons[0] if len(pythons) == 1 else None,
        provides_extra=tuple(all_of("Provides-Extra")),
        how=how,
        check=_CHECK_OF.get(how, "unverified"),
    )


def describes(md: CoreMetadata, dist: DistFile) -> bool:
    """Is `md` the metadata of this file's project and version (names compared canonically, versions by PEP 440)?"""
    if canonicalize_name(md.name) != dist.name:
        return False
    try:
        return Version(md.version) == dist.version
    except InvalidVersion:
        return False


# The metadata cache keeps what `parse_metadata` made of a METADATA file, one small JSON record per wheel:
# parsing with the email parser costs about 0.5 ms a file, and a warm lock reads dozens. The bytes themselves
# are not kept (a record of an older format is a miss, and the METADATA is fetched again).
_CACHE_FORMAT = 3


def _cache_read(path: Path, check: str) -> CoreMetadata | None:
    """The metadata cached at `path` ('cache'); None when absent, unreadable or of another format.

    `check` is what the entry's key vouches for (a record under a bare sha256 was verified when it was stored).
    """
    try:
        row = json.loads(path.read_bytes())
        fmt, name, version, requires_dist, requires_python, provides_extra, stored_check = row
        if fmt != _CACHE_FORMAT or not (isinstance(name, str) and name and isinstance(version, str) and version):
            return None
        return CoreMetadata(
            name=name,
            version=version,
            requires_dist=tuple(str(r) for r in requires_dist),
            requires_python=None if requires_python is None else str(requires_python),
            provides_extra=tuple(str(e) for e in provides_extra),
            how="cache",
            check=str(stored_check) if check != "sha256" else "sha256",
        )
    except (OSError, ValueError, TypeError):
        return None


def _cache_record(md: CoreMetadata) -> bytes:
    """The cache record of `md` (see `_cache_read`)."""
    row = [
        _CACHE_FORMAT,
        md.name,
        md.version,
        list(md.requires_dist),
        md.requires_python,
        list(md.provides_extra),
        md.check,
    ]
    return json.dumps(row, separators=(",", ":")).encode()


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


def _scan_metadata(raw: _RangeFile, tail_start: int, tail: bytes, dist: DistFile) -> bytes | None:
    """The `<name>.dist-info/METADATA` member of a remote wheel, found without parsing the whole zip directory.

    `zipfile` builds a `ZipInfo` for every entry of the central directory (12,000 for a torch wheel, about 0.1 s of
    Python each time); this looks only at the entries whose name ends in `.dist-info/METADATA`. Wheel builders
    write the `.dist-info` files last, so their entries close the directory: when the tail already read holds
    the entry of the file's own `.dist-info` (its project and version), and no other, that member is read
    without fetching the rest of the directory (1.2 MB for a torch wheel). Otherwise the whole directory is
    read, and exactly one such entry must be in it. Anything unusual (ZIP64, an archive comment, a compression
    other than stored/deflate, encryption, a size or CRC that does not match) returns None, and the caller reads
    the wheel with `zipfile` as before.
    """
    if len(tail) < _EOCD.size or tail[-_EOCD.size : -_EOCD.size + 4] != b"PK\x05\x06":
        return None  # an archive comment, or not a zip: let zipfile judge
    _sig, disk, cd_disk, _n_here, n_entries, cd_size, cd_offset, comment_len = _EOCD.unpack(tail[-_EOCD.size :])
    if disk or cd_disk or comment_len or 0xFFFFFFFF in (cd_size, cd_offset) or n_entries == 0xFFFF:
        return None
    eocd_at = raw._size - _EOCD.size
    if cd_offset + cd_size != eocd_at:
        return None  # ZIP64 records or data between the directory and its end record
    hits = None
    if cd_offset >= tail_start:
        cd = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
        if len(cd) != cd_size:
            return None
    else:
        cd = tail[: len(tail) - _EOCD.size]  # the directory's last entries
        hits = _metadata_entries(cd)
        if len(hits) != 1 or not _own_dist_info(hits[0][7], dist):
            hits = None
            cd = raw._read(cd_offset, cd_size)
            if len(cd) != cd_size:
                return None
    if hits is None:
        hits = _metadata_entries(cd)
    if len(hits) != 1:
        return None
    flags, method, crc, csize, usize, name_len, offset, _name = hits[0]
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


def _metadata_entries(cd: bytes) -> list[tuple[int, int, int, int, int, int, int, bytes]]:
    """The central-directory entries of top-level `*.dist-info/METADATA` files in `cd` (whole entries only):
    (flags, method, crc, compressed size, size, name length, local header offset, name)."""
    hits: list[tuple[int, int, int, int, int, int, int, bytes]] = []
    pos = cd.find(_METADATA_NAME)
    while pos != -1:
        end = pos + len(_METADATA_NAME)
        head = cd.rfind(b"PK\x01\x02", 0, pos)
        if head != -1 and head + _CDH.size <= len(cd):
            fields = _CDH.unpack_from(cd, head)
            name_len = fields[10]
            name = cd[head + _CDH.size : head + _CDH.size + name_len]
            if head + _CDH.size + name_len == end and name.count(b"/") == 1:
                hits.append((fields[3], fields[4], fields[7], fields[8], fields[9], name_len, fields[16], name))
        pos = cd.find(_METADATA_NAME, end)
    return hits


def _own_dist_info(name: bytes, dist: DistFile) -> bool:
    """Whether `<dir>/METADATA` is in the `.dist-info` directory of `dist`'s own project and version."""
    stem = name.split(b"/", 1)[0][: -len(b".dist-info")].decode("utf-8", "replace")
    project, _, version = stem.rpartition("-")
    try:
        return canonicalize_name(project) == dist.name and Version(version) == dist.version
    except InvalidVersion:
        return False


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
        """The metadata of `dist`. Raises InputError (RS205, RS403, RS413, or a network code) when it cannot be had."""
        key = f"{dist.url}#{dist.sha256 or ''}"
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

    def verify(self, dist: DistFile, md: CoreMetadata, *, path: Path | None = None) -> CoreMetadata:
        """Fetch the whole file, check it against `dist.sha256` (RS403) and that `md` is what it holds (RS403).

        `path`: the whole file, already fetched (the binary pass keeps small wheels); it is hashed again here.
        Returns the verified record (`check == "sha256"`, also cached as such); `md` as it is when there is no
        announced sha256 to check, or it was already verified or local.
        """
        if md.check in ("sha256", "local") or not dist.sha256 or dist.local_path is not None:
            return md
        with tempfile.TemporaryDirectory(prefix="envresolve-wheel-") as tmp:
            if path is not None and _file_sha256(path) == dist.sha256:
                data = self._from_zip_file(dist, path)
            else:
                path = self.client.download(dist.url, Path(tmp) / "wheel.zip", sha256=dist.sha256)
                data = self._from_zip_file(dist, path)
        full = self._described(dist, self._parse(dist, data, "download"))
        if (full.requires_dist, full.requires_python) != (md.requires_dist, md.requires_python):
            raise NetError(
                make(
                    "RS403",
                    f"the metadata read earlier for {dist.filename} is not what the verified file holds",
                    subject=redact_url(dist.url),
                    evidence=[f"verified Requires-Dist: {', '.join(full.requires_dist) or '-'}"],
                    hint="the index served different bytes for ranges, metadata and the whole file; do not use it",
                )
            )
        target = self._verified_path(dist)
        if target is not None:
            self.client.store((target, _cache_record(full)))
        return full

    def _verified_path(self, dist: DistFile) -> Path | None:
        """Where a record read from the whole file, hashed and matching `dist.sha256`, is kept."""
        if self.cache_dir is None or not dist.sha256:
            return None
        # not the `sha256-` names of earlier versions, which also held range reads: those are never trusted
        return self.cache_dir / "metadata" / f"verified-{dist.sha256}.json"

    def _scoped_path(self, dist: DistFile) -> Path | None:
        """Where any other record is kept: under the file's URL and the hash its index claims, for it alone."""
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(f"{dist.url}\n{dist.sha256 or ''}".encode()).hexdigest()
        return self.cache_dir / "metadata" / f"url-{key}.json"

    def _fetch(self, dist: DistFile) -> CoreMetadata:
        if dist.local_path is not None:
            return self._described(dist, self._parse(dist, self._from_zip_file(dist, dist.local_path), "local"))
        verified = self._verified_path(dist)
        if verified is not None:
            cached = _cache_read(verified, "sha256")
            if cached is not None:
                if not describes(cached, dist):
                    raise self._claim_refuted(dist, cached)
                return cached
        scoped = self._scoped_path(dist)
        if scoped is not None:
            cached = _cache_read(scoped, "unverified")
            if cached is not None and describes(cached, dist):
                return cached
        if dist.kind != "wheel":
            raise InputError(make("RS205", f"not a wheel: {dist.filename}", subject=dist.filename))
        data: bytes | None = None
        how = ""
        if dist.metadata:
            resp = self.client.get(dist.url + ".metadata", ok_statuses=frozenset({200, 404}))
            if resp.status == 200:
                if not self._hash_ok(resp.body, dist):
                    raise self._mismatch(dist.url + ".metadata", dist.metadata_hashes, resp.body)
                data, how = resp.body, "pep658"
        if data is None:
            data, how = self._from_range(dist)
        md = self._described(dist, self._parse(dist, data, how))
        if how == "download" and not dist.sha256:
            md = CoreMetadata(**{**md.__dict__, "check": "unverified"})  # hashed, but against no announced hash
        target = verified if md.check == "sha256" else scoped
        if target is not None:
            self.client.store((target, _cache_record(md)))
        return md

    @staticmethod
    def _described(dist: DistFile, md: CoreMetadata) -> CoreMetadata:
        """`md`, when it is the metadata of `dist`'s project and version; RS413 otherwise."""
        if describes(md, dist):
            return md
        raise InputError(
            make(
                "RS413",
                f"the metadata of {dist.filename} describes {md.name} {md.version}, not {dist.name} {dist.version}",
                subject=redact_url(dist.url),
                evidence=[f"file name: {dist.filename}", f"METADATA: Name {md.name}, Version {md.version}"],
                hint="the index serves a file under another project's name; do not use this index",
            )
        )

    @staticmethod
    def _claim_refuted(dist: DistFile, known: CoreMetadata) -> NetError:
        return NetError(
            make(
                "RS403",
                f"sha256 mismatch for {redact_url(dist.url)}: its index lists it under the sha256 of "
                f"{known.name} {known.version}",
                subject=redact_url(dist.url),
                evidence=[
                    f"claimed sha256 {dist.sha256}",
                    f"a file with that sha256 was downloaded and verified before: {known.name} {known.version}",
                ],
                hint="the index lists a wrong hash (or another file's hash); do not use it",
            )
        )

    @staticmethod
    def _mismatch(url: str, want: Mapping[str, str] | str | None, body: bytes) -> NetError:
        got = hashlib.sha256(body).hexdigest()
        wanted = want if isinstance(want, str) or want is None else ", ".join(f"{k}={v}" for k, v in want.items())
        return hash_mismatch(redact_url(url), str(wanted), f"sha256={got}")

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
        if urllib.parse.urlsplit(dist.url).scheme not in ("http", "https"):
            resp = self.client.get_range(dist.url, None, _TAIL)
            if resp.status == 200:  # no Range support: we got the whole file
                return self._check_and_extract(dist, resp.body), "download"
            tail_start, size, tail = self._tail_of(dist, resp.headers, resp.body)
        else:
            with self.client.stream(dist.url, {"Range": f"bytes=-{_TAIL}"}, ok_statuses=frozenset({200, 206})) as st:
                if st.status != 206 or not _CONTENT_RANGE.match(st.headers.get("content-range", "")):
                    return self._spool_and_extract(dist, st), "download"
                tail_start, size, tail = self._tail_of(dist, st.headers, st.read_all(_TAIL + 1))
        raw = _RangeFile(self.client, dist.url, size, (tail_start, tail))
        try:
            found = _scan_metadata(raw, tail_start, tail, dist)
        except _NoRange:
            return self._download_and_extract(dist), "download"
        if found is not None:
            return found, "range"
        try:
            with zipfile.ZipFile(io.BufferedReader(raw, buffer_size=_MIN_READ)) as zf:
                return self._member(dist, zf), "range"
        except _NoRange:
            return self._download_and_extract(dist), "download"
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise InputError(
                make("RS205", f"cannot read {dist.filename} as a zip file: {exc}", subject=redact_url(dist.url))
            ) from None

    @staticmethod
    def _tail_of(dist: DistFile, headers: Mapping[str, str], body: bytes) -> tuple[int, int, bytes]:
        m = _CONTENT_RANGE.match(headers.get("content-range", ""))
        if not m:
            raise InputError(
                make("RS205", f"a range answer for {dist.filename} has no Content-Range", subject=redact_url(dist.url))
            )
        return int(m.group(1)), int(m.group(3)), body

    def _spool_and_extract(self, dist: DistFile, stream: Stream) -> bytes:
        """The server sent the whole wheel: stream it to a temporary file, hashing it, then read METADATA."""
        with tempfile.TemporaryDirectory(prefix="envresolve-wheel-") as tmp:
            path = Path(tmp) / "wheel.zip"
            h = hashlib.sha256()
            with open(path, "wb") as out:
                for chunk in stream.chunks(self.client.max_download_bytes):
                    out.write(chunk)
                    h.update(chunk)
            if dist.sha256 and h.hexdigest() != dist.sha256:
                raise hash_mismatch(redact_url(dist.url), dist.sha256, h.hexdigest())
            return self._from_zip_file(dist, path)

    def _download_and_extract(self, dist: DistFile) -> bytes:
        """The whole wheel through the client (streamed to disk, sha256 checked), then its METADATA."""
        with tempfile.TemporaryDirectory(prefix="envresolve-wheel-") as tmp:
            path = self.client.download(dist.url, Path(tmp) / "wheel.zip", sha256=dist.sha256)
            return self._from_zip_file(dist, path)

    def _check_and_extract(self, dist: DistFile, body: bytes) -> bytes:
        if dist.sha256 and hashlib.sha256(body).hexdigest() != dist.sha256:
            raise self._mismatch(dist.url, dist.sha256, body)
        return self._from_zip_bytes(dist, body)

    def _from_zip_file(self, dist: DistFile, path: Path) -> bytes:
        try:
            with zipfile.ZipFile(path) as zf:
                return self._member(dist, zf)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise InputError(
                make("RS205", f"cannot read {dist.filename} as a zip file: {exc}", subject=dist.filename)
            ) from None

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


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
