"""Wheels (zip files): find ELF members and read them straight from the archive, streaming.

Nothing is extracted to disk and no member is held in memory whole: the central directory gives
each member's offset and sizes, and its raw deflate bytes are inflated chunk by chunk into the ELF
reader. Hostile archives (bombs, lying sizes, path traversal, duplicates, encryption, overlapping
members) yield BN5xx diagnostics and the reader moves on to the next member.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import signal
import struct
import threading
import types
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias

from envresolve.limits import (
    MAX_ARCHIVE_MEMBERS,
    MAX_FINDINGS_PER_CODE,
    MAX_MEMBER_NAME_BYTES,
    MAX_MEMBER_PATH_DEPTH,
)

if TYPE_CHECKING:  # pydantic models: imported on first use, after the helper process is forked
    from envresolve.binary.model import ArtifactReport, ElfFacts
    from envresolve.binary.report import TagPromise
    from envresolve.diagnostics import Diagnostic

_inflate_mod: types.ModuleType
try:  # ISA-L inflates about 2.3x faster than zlib (numbers in docs/performance.md); same API.
    from isal import isal_zlib as _isal_zlib

    _inflate_mod = _isal_zlib
except ImportError:  # pragma: no cover - isal is a dependency, but zlib is a correct fallback
    _inflate_mod = zlib
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflate_mod.error)


def make(code: str, message: str, **kw: Any) -> Diagnostic:
    """`envresolve.diagnostics.make`, imported on first use: the cold path stays free of pydantic until a
    finding or the report needs it (see `_read_members`)."""
    from envresolve.diagnostics import make as _make

    return _make(code, message, **kw)


__all__ = [
    "ELF_MAGIC",
    "ByteSource",
    "Cancelled",
    "FileSource",
    "Findings",
    "Limits",
    "MemberScan",
    "StreamRefused",
    "StreamState",
    "ZipMember",
    "data_offset",
    "is_unsafe_path",
    "list_zip_members",
    "looks_like_shared_object",
    "member_chunks",
    "member_name_problem",
    "parse_wheel_filename",
    "peek_member",
    "platform_tag_glibc",
    "platform_tag_musl",
    "platform_tag_promise",
    "read_elf_stream",
    "read_elf_stream_fields",
    "read_zip_member",
    "scan_zip",
    "vet_zip_members",
    "wheel_report",
    "worth_peeking",
]

ELF_MAGIC = b"\x7fELF"
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_STORED, _DEFLATED = 0, 8
#: compressed bytes read per step; output per step is capped at 4x this
_READ_CHUNK = 1 << 20
_OUT_CHUNK = 4 << 20

# Extensions of members that are never loaded as native code: not worth peeking at.
_TEXT_SUFFIXES = frozenset(
    (
        *(".py", ".pyi", ".pyc", ".pyx", ".pxd", ".pxi", ".h", ".hh", ".hpp", ".hxx", ".cuh", ".cu", ".c", ".cc"),
        *(".cpp", ".cxx", ".inl", ".txt", ".md", ".rst", ".json", ".yaml", ".yml", ".toml", ".cfg", ".ini"),
        *(".csv", ".html", ".css", ".js", ".typed", ".license", ".pem", ".proto", ".cmake", ".in", ".mako"),
    )
)
_SO_NAME = re.compile(r"\.so(\.[0-9][0-9A-Za-z.]*)?$")


class Cancelled(BaseException):
    """Raised inside a member stream when the caller asked to stop (e.g. a cache hit arrived).

    A BaseException (like GeneratorExit) so that no reader's `except Exception` swallows it.
    """


class StreamRefused(Exception):
    """Raised inside a member stream that stopped on a limit (a decompression bomb); the container reader
    turns it into its own diagnostic. The ELF reader reading that stream passes it on: not a reader bug."""


@dataclass(frozen=True)
class Limits:
    """Bounds that stop zip bombs: a ratio limit and an absolute limit per member."""

    max_ratio: float = 250.0
    max_member_bytes: int = 8 << 30
    #: uncompressed bytes always allowed before the ratio limit applies (tiny members compress oddly)
    ratio_slack: int = 1 << 20


DEFAULT_LIMITS = Limits()


class ByteSource(Protocol):
    """Random access to an artifact's bytes: a local file or an HTTP resource with range support."""

    size: int

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to `n` bytes at `offset` (fewer only at the end)."""

    def stream(self, offset: int, length: int) -> Iterator[bytes]:
        """`length` bytes from `offset`, in chunks."""


class FileSource:
    """A local file opened read-only; thread-safe (pread)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from envresolve._input import open_fd

        self.path = os.fspath(path)
        self._fd = -1
        self._fd, st = open_fd(self.path)  # regular files only: SpecialFileError (an OSError) otherwise
        self.size = st.st_size

    def read_at(self, offset: int, n: int) -> bytes:
        if n <= 0 or offset >= self.size:
            return b""
        return os.pread(self._fd, n, offset)

    def stream(self, offset: int, length: int) -> Iterator[bytes]:
        end = min(offset + length, self.size)
        while offset < end:
            chunk = os.pread(self._fd, min(_READ_CHUNK, end - offset), offset)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZipMember(NamedTuple):
    """One central directory entry (a tuple: cheap to build 12,000 of)."""

    name: str
    header_offset: int
    compress_size: int
    file_size: int
    method: int
    flags: int
    order: int  # position in the central directory

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 0x1)


def is_unsafe_path(name: str) -> bool:
    """True for absolute paths, drive letters, backslash paths and any `..` component."""
    if not name or name[0] in "/\\" or "\x00" in name or name[1:2] == ":":
        return True
    if ".." not in name:
        return False
    return any(part == ".." for part in name.replace("\\", "/").split("/"))


def member_name_problem(name: str) -> tuple[str, str] | None:
    """(BN517, message) for a member name over the length limit, (BN519, message) for one too deep, else None."""
    if len(name) > MAX_MEMBER_NAME_BYTES:
        return "BN517", f"member name of {len(name)} characters (the limit is {MAX_MEMBER_NAME_BYTES}); skipped"
    depth = name.count("/")
    if depth > MAX_MEMBER_PATH_DEPTH:
        return "BN519", f"member path {depth} directories deep (the limit is {MAX_MEMBER_PATH_DEPTH}); skipped"
    return None


def looks_like_shared_object(name: str) -> bool:
    """`libfoo.so`, `libfoo.so.1.2`, `mod.cpython-311-x86_64-linux-gnu.so`."""
    return bool(_SO_NAME.search(name.rsplit("/", 1)[-1]))


def worth_peeking(name: str) -> bool:
    """Whether a member could be native code: not a directory, metadata or a known text/source type."""
    if name.endswith("/"):
        return False
    base = name.rsplit("/", 1)[-1]
    if looks_like_shared_object(base):
        return True
    if ".dist-info/" in name or name.startswith("info/"):
        return False
    dot = base.rfind(".")
    return dot <= 0 or base[dot:].lower() not in _TEXT_SUFFIXES


_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD64_LOCATOR = struct.Struct("<4sIQI")
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_CDIR = struct.Struct("<4sHHHHHHIIIHHHHHII")
_U32, _U16 = 0xFFFFFFFF, 0xFFFF
#: a central directory larger than this is hostile (real wheels: torch has 12,248 entries in 1.3 MB); BN516
MAX_MEMBERS = MAX_ARCHIVE_MEMBERS
MAX_DIRECTORY_BYTES = 64 << 20


class _ZipError(ValueError):
    code = "BN501"


class _ZipLimit(_ZipError):
    code = "BN516"


def _parse_central_directory(source: ByteSource) -> list[ZipMember]:
    """The central directory as ZipMembers (zip64 aware). Raises _ZipError when it cannot be found or parsed."""
    size = source.size
    if size < _EOCD.size:
        raise _ZipError(f"{size} bytes is too short for a zip archive")
    tail_len = min(size, _EOCD.size + 0xFFFF)
    tail = source.read_at(size - tail_len, tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD.size > len(tail):
        raise _ZipError("no end of central directory record (truncated or not a zip file)")
    _sig, _disk, _cd_disk, _n_disk, count, cd_size, cd_offset, _clen = _EOCD.unpack_from(tail, pos)
    eocd_at = size - tail_len + pos
    cd_end = eocd_at
    if count == _U16 or cd_size == _U32 or cd_offset == _U32 or pos >= _EOCD64_LOCATOR.size:
        loc_at = eocd_at - _EOCD64_LOCATOR.size
        loc = source.read_at(loc_at, _EOCD64_LOCATOR.size) if loc_at >= 0 else b""
        if len(loc) == _EOCD64_LOCATOR.size and loc[:4] == b"PK\x06\x07":
            _s, _d, rec_at, _t = _EOCD64_LOCATOR.unpack(loc)
            rec = source.read_at(rec_at, _EOCD64.size)
            if len(rec) != _EOCD64.size or rec[:4] != b"PK\x06\x06":
                raise _ZipError("zip64 end of central directory record is missing")
            _s, _rs, _vm, _vn, _dn, _dc, _nd, count, cd_size, cd_offset = _EOCD64.unpack(rec)
            cd_end = rec_at
    # Bytes prepended to the archive shift every offset (as zipfile allows).
    concat = cd_end - cd_size - cd_offset
    if concat < 0 or cd_size > size:
        raise _ZipError("central directory lies outside the file")
    if count > MAX_MEMBERS or cd_size > MAX_DIRECTORY_BYTES:
        raise _ZipLimit(
            f"{count} entries in a {cd_size} byte directory: over the limit of {MAX_MEMBERS} entries "
            f"({MAX_DIRECTORY_BYTES} bytes); not read"
        )
    start = cd_offset + concat
    data = source.read_at(start, cd_size)
    if len(data) != cd_size:
        raise _ZipError("central directory is truncated")
    mv = memoryview(data)
    members: list[ZipMember] = []
    append = members.append
    new = tuple.__new__  # a ZipMember without the keyword handling of its constructor (12,000 per torch wheel)
    at = 0
    head = _CDIR.size
    unpack = _CDIR.unpack_from
    while at + head <= cd_size and len(members) < MAX_MEMBERS:
        (sig, _vm, _vn, flags, method, _t, _d, _crc, csize, usize, nlen, xlen, clen, _dk, _ia, _ea, offset) = unpack(
            mv, at
        )
        if sig != b"PK\x01\x02":
            raise _ZipError(f"bad central directory entry at offset {start + at}")
        name_end = at + head + nlen
        if name_end + xlen + clen > cd_size:
            raise _ZipError("central directory entry runs past the directory")
        name = str(data[at + head : name_end], "utf-8" if flags & 0x800 else "cp437", "replace")
        if usize == _U32 or csize == _U32 or offset == _U32:
            usize, csize, offset = _zip64_extra(mv[name_end : name_end + xlen], usize, csize, offset)
        append(new(ZipMember, (name, offset + concat, csize, usize, method, flags, len(members))))
        at = name_end + xlen + clen
    if len(members) >= MAX_MEMBERS and at + _CDIR.size <= cd_size:  # a 16-bit count of 0xFFFF hid the real one
        raise _ZipLimit(f"more than {MAX_MEMBERS} entries in the central directory; not read")
    if len(members) != count and count != _U16:
        raise _ZipError(f"central directory holds {len(members)} entries, the end record says {count}")
    return members


def _zip64_extra(extra: memoryview, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + length]
        if tag == 0x0001:
            vals = [v[0] for v in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            i = 0
            if usize == _U32 and i < len(vals):
                usize, i = vals[i], i + 1
            if csize == _U32 and i < len(vals):
                csize, i = vals[i], i + 1
            if offset == _U32 and i < len(vals):
                offset = vals[i]
            break
        at += 4 + length
    return usize, csize, offset


def list_zip_members(source: ByteSource, *, subject: str) -> tuple[list[ZipMember], list[Diagnostic]]:
    """Read the central directory. Raises nothing: a broken archive gives BN501 and no members."""
    try:
        return _parse_central_directory(source), []
    except _ZipLimit as exc:
        return [], [make(exc.code, f"archive refused: {exc}", subject=subject)]
    except (_ZipError, struct.error) as exc:
        return [], [make("BN501", f"not a readable zip archive: {exc}", subject=subject)]


def vet_zip_members(
    members: list[ZipMember], source: ByteSource, subject: str
) -> tuple[list[ZipMember], list[Diagnostic]]:
    """Drop members that must not be read, with a diagnostic each (the rest is read)."""
    diags: list[Diagnostic] = Findings()
    keep: list[ZipMember] = []
    seen: set[str] = set()
    limit = source.size - _LOCAL_HEADER.size
    for m in members:
        name = m.name
        if len(name) > MAX_MEMBER_NAME_BYTES or name.count("/") > MAX_MEMBER_PATH_DEPTH:
            problem = member_name_problem(name)
            if problem is not None:
                code, message = problem
                diags.append(make(code, message, subject=f"{subject}:{name[:MAX_MEMBER_NAME_BYTES]}"))
                continue
        if (name[:1] in "/\\" or ".." in name or ":" in name[1:2] or "\x00" in name) and is_unsafe_path(name):
            diags.append(make("BN504", f"member path is absolute or climbs out: {name!r}", subject=f"{subject}:{name}"))
            continue
        if name in seen:
            diags.append(make("BN506", f"member name appears more than once: {name!r}", subject=f"{subject}:{name}"))
            continue
        seen.add(name)
        if m.flags & 0x1:
            diags.append(make("BN507", f"member is encrypted: {name!r}", subject=f"{subject}:{name}"))
            continue
        if m.header_offset + m.compress_size > limit:
            diags.append(
                make(
                    "BN508",
                    f"member data runs past the end of the archive: {name!r}",
                    subject=f"{subject}:{name}",
                    evidence=[f"offset {m.header_offset} + {m.compress_size} bytes > archive size {source.size}"],
                )
            )
            continue
        keep.append(m)
    # Overlapping data ranges: each member's local header + data must end before the next begins.
    ordered = sorted(keep, key=lambda m: (m.header_offset, m.order))
    bad: set[int] = set()
    prev: ZipMember | None = None
    for cur in ordered:
        if prev is not None and cur.header_offset < (
            prev.header_offset + _LOCAL_HEADER.size + len(prev.name.encode()) + prev.compress_size
        ):
            bad.add(cur.order)
            diags.append(
                make(
                    "BN509",
                    f"member {cur.name!r} overlaps the data of {prev.name!r}",
                    subject=f"{subject}:{cur.name}",
                    evidence=[f"{cur.name} starts at {cur.header_offset}, inside {prev.name} at {prev.header_offset}"],
                )
            )
            continue  # a flagged member is not the reference for the next one
        prev = cur
    if bad:
        keep = [m for m in keep if m.order not in bad]
    return keep, diags


def data_offset(source: ByteSource, m: ZipMember) -> int:
    """Offset of the member's data, from its local header. Raises ValueError when the header is bad."""
    head = source.read_at(m.header_offset, _LOCAL_HEADER.size)
    if len(head) < _LOCAL_HEADER.size:
        raise ValueError("local header is truncated")
    sig, _ver, _flags, _method, _t, _d, _crc, _cs, _us, nlen, xlen = _LOCAL_HEADER.unpack(head)
    if sig != _LOCAL_SIG:
        raise ValueError("no local header signature at the offset the central directory gives")
    start = m.header_offset + _LOCAL_HEADER.size + int(nlen) + int(xlen)
    if start + m.compress_size > source.size:
        raise ValueError("member data runs past the end of the archive")
    return start


@dataclass
class StreamState:
    produced: int = 0
    problem: Diagnostic | None = None


def member_chunks(
    source: ByteSource,
    m: ZipMember,
    start: int,
    *,
    subject: str,
    limits: Limits = DEFAULT_LIMITS,
    state: StreamState | None = None,
    cancel: threading.Event | None = None,
    max_bytes: int | None = None,
) -> Iterator[bytes]:
    """Inflate one member chunk by chunk, enforcing the bomb limits.

    On a problem the stream ends early and `state.problem` holds the diagnostic. `max_bytes` stops
    after that many uncompressed bytes (used for peeking).
    """
    st = state if state is not None else StreamState()
    if m.method == _STORED:
        if m.compress_size != m.file_size:
            st.problem = make(
                "BN503",
                f"stored member declares {m.file_size} bytes but holds {m.compress_size}",
                subject=subject,
            )
        want = min(m.compress_size, m.file_size)
        if max_bytes is not None:
            want = min(want, max_bytes)
        for chunk in source.stream(start, want):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            st.produced += len(chunk)
            yield chunk
        return
    if m.method != _DEFLATED:
        st.problem = make("BN508", f"unsupported compression method {m.method} (stored/deflate only)", subject=subject)
        return
    limit = min(m.file_size, limits.max_member_bytes)
    if max_bytes is not None:
        limit = min(limit, max_bytes)
    d = _inflate_mod.decompressobj(-15)
    consumed = 0
    try:
        for raw in source.stream(start, m.compress_size):
            data = raw
            while data:
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                room = limit - st.produced
                out = d.decompress(data, min(_OUT_CHUNK, room + 1))
                consumed += len(data) - len(d.unconsumed_tail)
                data = d.unconsumed_tail
                if out:
                    if st.produced + len(out) > limit:
                        out = out[: max(0, limit - st.produced)]
                        st.produced += len(out)
                        if out:
                            yield out
                        if max_bytes is None or st.produced < max_bytes:
                            st.problem = _too_big(m, st.produced, consumed, limits, subject)
                        return
                    st.produced += len(out)
                    if st.produced > limits.ratio_slack and st.produced > limits.max_ratio * consumed:
                        st.problem = make(
                            "BN502",
                            f"member inflates more than {limits.max_ratio:g}x: stopped after "
                            f"{st.produced} bytes from {consumed} compressed",
                            subject=subject,
                        )
                        return
                    yield out
                if d.eof:
                    break
            if d.eof:
                break
    except _INFLATE_ERRORS as exc:
        st.problem = make("BN508", f"broken deflate data: {exc}", subject=subject)
        return
    if max_bytes is not None and st.produced >= max_bytes:
        return
    if not d.eof:
        st.problem = make(
            "BN508", f"deflate stream ends early: {st.produced} of {m.file_size} bytes inflated", subject=subject
        )
    elif st.produced != m.file_size:
        st.problem = make(
            "BN503",
            f"member declares {m.file_size} bytes but inflates to {st.produced}",
            subject=subject,
        )


def _too_big(m: ZipMember, produced: int, consumed: int, limits: Limits, subject: str) -> Diagnostic:
    if m.file_size > limits.max_member_bytes or produced >= limits.max_member_bytes:
        return make(
            "BN502",
            f"member is larger than the {limits.max_member_bytes} byte limit",
            subject=subject,
            evidence=[f"declared {m.file_size} bytes"],
        )
    return make(
        "BN503",
        f"member inflates past its declared size of {m.file_size} bytes",
        subject=subject,
        evidence=[f"stopped after {produced} bytes from {consumed} compressed bytes"],
    )


def read_zip_member(source: ByteSource, m: ZipMember, *, max_bytes: int, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """A small member whole (metadata files); raises ValueError when it is broken or too big."""
    if m.file_size > max_bytes:
        raise ValueError(f"{m.name} is larger than {max_bytes} bytes")
    st = StreamState()
    data = b"".join(member_chunks(source, m, data_offset(source, m), subject=m.name, limits=limits, state=st))
    if st.problem is not None:
        raise ValueError(st.problem.message)
    return data


def read_elf_stream(
    chunks_factory: Callable[[], Iterable[bytes]],
    *,
    path: str,
    size: int | None,
    symbols: bool,
) -> tuple[ElfFacts | None, list[Diagnostic]]:
    """Run the ELF reader over a chunk stream; a bug in it becomes GN103 for this member only."""
    return _to_facts(read_elf_stream_fields(chunks_factory, path=path, size=size, symbols=symbols), path)


def read_elf_stream_fields(
    chunks_factory: Callable[[], Iterable[bytes]],
    *,
    path: str,
    size: int | None,
    symbols: bool,
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """`read_elf_stream` without building the model (`ElfFacts` fields as a dict; see `elf.read_elf_fields`)."""
    from envresolve.binary.elf import read_elf_fields

    try:
        return read_elf_fields(chunks_factory(), path=path, size=size, symbols=symbols, reopen=chunks_factory)
    except (Cancelled, OSError, StreamRefused):
        raise
    except Exception as exc:  # a reader bug must not lose the other members
        return None, [make("GN103", f"ELF reader failed: {type(exc).__name__}: {exc}", subject=path)]


def _to_facts(result: tuple[dict[str, Any] | None, list[Diagnostic]], path: str) -> _Result:
    from envresolve.binary.elf import elf_facts

    fields, diags = result
    try:
        return elf_facts(fields), diags
    except Exception as exc:  # fields the model refuses are a reader bug: GN103 for this member only
        return None, [*diags, make("GN103", f"ELF reader failed: {type(exc).__name__}: {exc}", subject=path)]


class Findings(list["Diagnostic"]):
    """The diagnostics of one archive or prefix: each code kept at most `MAX_FINDINGS_PER_CODE` times.

    One more finding of a code past its limit says that the rest is not listed; later ones are only counted
    (`dropped`), so a hostile archive of 200,000 odd members costs 100 findings of memory and output, not 200,000.
    """

    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self.dropped = 0
        self.extend(items)

    def append(self, diag: Diagnostic) -> None:
        n = self.counts[diag.code] = self.counts.get(diag.code, 0) + 1
        if n <= MAX_FINDINGS_PER_CODE:
            super().append(diag)
        elif n == MAX_FINDINGS_PER_CODE + 1:
            message = f"more {diag.code} findings like this are not listed (at most {MAX_FINDINGS_PER_CODE})"
            super().append(diag.model_copy(update={"message": message, "evidence": ()}))
        else:
            self.dropped += 1

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        for diag in diags:
            self.append(diag)

    def __iadd__(self, diags: Iterable[Diagnostic]) -> Findings:  # type: ignore[override,misc]
        self.extend(diags)
        return self


@dataclass
class MemberScan:
    """What a container scan found: ELF facts per member, names provided, and diagnostics."""

    elf: list[ElfFacts] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=Findings)
    names: set[str] = field(default_factory=set)
    files: int = 0
    links: int = 0  # symlinks and hard links seen (bounded by MAX_SYMLINKS)
    metadata: dict[str, bytes] = field(default_factory=dict)
    side: Any = None  # result of scan_zip's side_job


def peek_member(source: ByteSource, m: ZipMember, start: int) -> bytes | None:
    """The first 4 uncompressed bytes, reading as little compressed input as possible; None if it will not inflate."""
    if m.method == _STORED:
        return source.read_at(start, min(4, m.compress_size))
    n = 256
    while True:
        raw = source.read_at(start, min(n, m.compress_size))
        try:
            out = _inflate_mod.decompressobj(-15).decompress(raw, 4)
        except _INFLATE_ERRORS:
            return None
        if len(out) >= 4 or n >= m.compress_size or n >= 1 << 16:
            return bytes(out[:4])
        n *= 16


def scan_zip(
    source: ByteSource,
    *,
    subject: str,
    symbols: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    workers: int | None = None,
    cancel: threading.Event | None = None,
    metadata: Callable[[str], bool] | None = None,
    side_job: Callable[[], Any] | None = None,
) -> MemberScan:
    """Find the ELF members of a zip archive by magic and read each one, streaming.

    `metadata(name)` selects small members to return whole in `MemberScan.metadata` (e.g. the WHEEL file).
    `side_job` (e.g. hashing the file) runs beside the member reads; its result is `MemberScan.side`.
    """
    out = MemberScan()
    members, diags = list_zip_members(source, subject=subject)
    out.diagnostics.extend(diags)
    if not members:
        out.side = side_job() if side_job else None
        return out
    members, diags = vet_zip_members(members, source, subject)
    out.diagnostics.extend(diags)
    candidates: list[tuple[ZipMember, int]] = []
    for m in members:
        if m.name.endswith("/"):
            continue
        out.files += 1
        base = m.name.rsplit("/", 1)[-1]
        if looks_like_shared_object(base):  # only library names can satisfy DT_NEEDED; keeps memory flat
            out.names.add(base)
        where = f"{subject}:{m.name}"
        if metadata is not None and metadata(m.name):
            try:
                out.metadata[m.name] = read_zip_member(source, m, max_bytes=1 << 20, limits=limits)
            except ValueError as exc:
                out.diagnostics.append(make("BN508", f"cannot read {m.name}: {exc}", subject=where))
            continue
        if not worth_peeking(m.name):
            continue
        is_so = looks_like_shared_object(base)
        if m.file_size < 4:
            if is_so:
                out.diagnostics.append(make("BN505", f"{m.name} has {m.file_size} bytes: not ELF", subject=where))
            continue
        try:
            start = data_offset(source, m)
        except ValueError as exc:
            out.diagnostics.append(make("BN508", f"{m.name}: {exc}", subject=where))
            continue
        if m.method not in (_STORED, _DEFLATED):
            out.diagnostics.append(make("BN508", f"{m.name}: unsupported compression method {m.method}", subject=where))
            continue
        ratio = m.file_size / m.compress_size if m.compress_size else 0.0
        if m.method == _DEFLATED and ratio > limits.max_ratio and m.file_size > limits.ratio_slack:
            out.diagnostics.append(
                make(
                    "BN502",
                    f"member declares a {ratio:.0f}x compression ratio (limit {limits.max_ratio:g}x); not read",
                    subject=where,
                    evidence=[f"{m.compress_size} compressed -> {m.file_size} declared bytes"],
                )
            )
            continue
        if m.file_size > limits.max_member_bytes:
            out.diagnostics.append(
                make("BN502", f"member declares {m.file_size} bytes (limit {limits.max_member_bytes})", subject=where)
            )
            continue
        head = peek_member(source, m, start)
        if head is None:
            out.diagnostics.append(make("BN508", f"{m.name}: broken deflate data at its start", subject=where))
            continue
        if head != ELF_MAGIC:
            if is_so:
                out.diagnostics.append(make("BN505", f"{m.name} is named like a shared object, not ELF", subject=where))
            continue
        candidates.append((m, start))
    if cancel is not None and cancel.is_set():
        raise Cancelled
    results, out.side = _read_members(source, candidates, subject, symbols, limits, workers, cancel, side_job)
    for facts, diags in results:
        if facts is not None:
            out.elf.append(facts)
            if facts.soname:
                out.names.add(facts.soname)
        out.diagnostics.extend(diags)
    return out


_Result: TypeAlias = "tuple[ElfFacts | None, list[Diagnostic]]"
_Fields: TypeAlias = "tuple[dict[str, Any] | None, list[Diagnostic]]"
#: wheels whose ELF members hold less compressed data than this are read in one process
_FORK_MIN_BYTES = 32 << 20


def _use_processes(candidates: Sequence[tuple[ZipMember, int]], source: ByteSource) -> bool:
    """Fork a helper process? Only for local files, with 2+ CPUs, enough work, and no other threads.

    isal holds the GIL while it inflates, so threads do not overlap inflating; a forked child does.
    `ENVRESOLVE_INSPECT_PROCESSES=0` turns it off. Forking a multi-threaded process risks deadlocks,
    so a caller with threads running gets the thread pool instead.
    """
    return (
        isinstance(source, FileSource)
        and hasattr(os, "fork")
        and (os.cpu_count() or 1) >= 2
        and os.environ.get("ENVRESOLVE_INSPECT_PROCESSES", "1") != "0"
        and threading.active_count() == 1
        and sum(m.compress_size for m, _ in candidates) >= _FORK_MIN_BYTES
    )


def _split(weights: list[int]) -> tuple[list[int], list[int]]:
    """Indices into two bins of about equal weight (largest first, each to the lighter bin)."""
    bins: tuple[list[int], list[int]] = ([], [])
    load = [0, 0]
    for i in sorted(range(len(weights)), key=lambda i: -weights[i]):
        k = 0 if load[0] <= load[1] else 1
        bins[k].append(i)
        load[k] += weights[i]
    return bins


def _in_child(job: Callable[[], Any]) -> Callable[[], Any]:
    """Run `job` in a forked child; the returned callable collects its (pickled) result.

    Raises RuntimeError from the collector when the child failed, so the caller can redo the work.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (coverage does not follow forks)
        code = 0
        try:
            os.close(r)
            payload = pickle.dumps(job(), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            payload, code = b"", 1
        try:
            with os.fdopen(w, "wb") as fh:
                fh.write(payload)
        finally:
            os._exit(code)
    os.close(w)

    def collect() -> Any:
        with os.fdopen(r, "rb") as fh:
            data = fh.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            raise RuntimeError("inspection helper process failed")
        return pickle.loads(data)

    def abandon() -> None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(r)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)

    collect.abandon = abandon  # type: ignore[attr-defined]
    return collect


def _read_members(
    source: ByteSource,
    candidates: Sequence[tuple[ZipMember, int]],
    subject: str,
    symbols: bool,
    limits: Limits,
    workers: int | None,
    cancel: threading.Event | None,
    side_job: Callable[[], Any] | None = None,
) -> tuple[list[_Result], Any]:
    """ELF facts for each candidate (in order), and the result of `side_job` run beside them."""

    def one(item: tuple[ZipMember, int]) -> _Fields:
        m, start = item
        where = f"{subject}:{m.name}"
        states: list[StreamState] = []

        def factory() -> Iterator[bytes]:
            st = StreamState()
            states.append(st)
            return member_chunks(source, m, start, subject=where, limits=limits, state=st, cancel=cancel)

        fields, diags = read_elf_stream_fields(factory, path=m.name, size=m.file_size, symbols=symbols)
        problems = [s.problem for s in states if s.problem is not None]
        if problems:
            # The container problem is the root cause; the ELF reader's "truncated" follows from it.
            return fields, [problems[0]]
        return fields, diags

    def facts(i: int, got: _Fields) -> _Result:
        return _to_facts(got, candidates[i][0].name)

    results: dict[int, _Result] = {}
    if cancel is None and _use_processes(candidates, source):
        # The helper takes the bin holding the largest member (the critical path) and returns plain fields, so
        # it never imports pydantic; this process reads the rest, runs the side job (the file's sha256) and
        # imports the models meanwhile.
        theirs, mine = _split([m.compress_size for m, _ in candidates])

        def child_job() -> dict[int, _Fields]:
            return {i: one(candidates[i]) for i in theirs}

        collect = _in_child(child_job)
        try:
            results = {i: facts(i, one(candidates[i])) for i in mine}
            side = side_job() if side_job else None
            import envresolve.binary.report  # noqa: F401  (the models, before the helper's results arrive)
        except BaseException:
            collect.abandon()  # type: ignore[attr-defined]
            raise
        try:
            child_results = collect()
            results.update({i: facts(i, got) for i, got in child_results.items()})
        except (RuntimeError, pickle.UnpicklingError, EOFError, OSError):
            results.update({i: facts(i, one(candidates[i])) for i in theirs})  # the helper died: redo its share
        return [results[i] for i in range(len(candidates))], side

    n = workers if workers is not None else min(2, os.cpu_count() or 1)
    # Largest first, so one big member does not start last.
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i][0].compress_size)
    if n <= 1 or (len(candidates) <= 1 and side_job is None):
        side = side_job() if side_job else None
        results = {i: facts(i, one(candidates[i])) for i in order}
    else:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="envresolve-inspect") as ex:
            side_future = ex.submit(side_job) if side_job else None
            futures = {i: ex.submit(one, candidates[i]) for i in order}
            results = {i: facts(i, f.result()) for i, f in futures.items()}
            side = side_future.result() if side_future else None
    return [results[i] for i in range(len(candidates))], side


# ---------------------------------------------------------------------------- tags

_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(.+)$")
_LEGACY = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}
_MUSL = re.compile(r"^musllinux_(\d+)_(\d+)_(.+)$")


def parse_wheel_filename(filename: str) -> dict[str, str] | None:
    """Split a wheel file name (PEP 427, checked by `packaging`) into name, version, build, py, abi and plat;
    None when it is not one. The tag parts are kept as written (compressed sets stay dot-joined)."""
    from packaging.utils import InvalidWheelFilename
    from packaging.utils import parse_wheel_filename as parse

    base = filename.rsplit("/", 1)[-1]
    try:
        parse(base)
    except InvalidWheelFilename:
        return None
    parts = base[:-4].split("-")
    out = {"name": parts[0], "version": parts[1], "py": parts[-3], "abi": parts[-2], "plat": parts[-1]}
    if len(parts) == 6:
        out["build"] = parts[2]
    return out


def _tag_parts(tag: str) -> tuple[str | None, str | None, str | None]:
    """(glibc, musl, arch) for one platform tag."""
    for legacy, glibc in _LEGACY.items():
        if tag.startswith(legacy + "_"):
            return glibc, None, tag[len(legacy) + 1 :]
    m = _MANYLINUX.match(tag)
    if m:
        return f"{int(m.group(1))}.{int(m.group(2))}", None, m.group(3)
    m = _MUSL.match(tag)
    if m:
        return None, f"{int(m.group(1))}.{int(m.group(2))}", m.group(3)
    if tag.startswith("linux_"):
        return None, None, tag[len("linux_") :]
    return None, None, None


def _lowest(versions: list[str]) -> str | None:
    if not versions:
        return None
    return min(versions, key=lambda v: tuple(int(p) for p in v.split(".")))


def platform_tag_glibc(plat: str) -> str | None:
    """glibc a (possibly compressed, dot-separated) platform tag promises: the lowest of its tags.

    >>> platform_tag_glibc("manylinux2014_x86_64.manylinux_2_17_x86_64")
    '2.17'
    """
    return _lowest([g for g, _m, _a in map(_tag_parts, plat.split(".")) if g])


def platform_tag_promise(plat: str) -> TagPromise | None:
    """The symbol ceilings of a (possibly compressed) manylinux platform tag: those of its lowest policy that
    pypa's policy data (matrices/abi.yaml) lists for the tag's architecture; None when it lists none."""
    from envresolve.binary.report import TagPromise
    from envresolve.matrices import manylinux_policy

    rows = [got for tag in plat.split(".") if (got := manylinux_policy(tag)) is not None]
    if not rows:
        return None
    low = min(rows, key=lambda r: tuple(int(p) for p in r.row.tag_glibc.split(".")))
    return TagPromise(low.row.policy, low.row.glibc, low.row.glibcxx, low.row.cxxabi, low.citation)


def platform_tag_musl(plat: str) -> str | None:
    """musl version a musllinux tag promises (the lowest of its tags)."""
    return _lowest([m for _g, m, _a in map(_tag_parts, plat.split(".")) if m])


def platform_tag_archs(plat: str) -> set[str]:
    """CPU architectures named by a platform tag set ('x86_64', 'aarch64', ...)."""
    return {a for _g, _m, a in map(_tag_parts, plat.split(".")) if a}


def wheel_tags_from_metadata(text: str) -> str | None:
    """Platform tags from a `.dist-info/WHEEL` file ('Tag: cp311-cp311-manylinux_2_28_x86_64' lines)."""
    plats = []
    for line in text.splitlines():
        if line.lower().startswith("tag:"):
            parts = line.split(":", 1)[1].strip().split("-")
            if len(parts) == 3 and parts[2] not in plats:
                plats.append(parts[2])
    return ".".join(plats) or None


def wheel_report(
    source: ByteSource,
    *,
    artifact: str,
    filename: str,
    symbols: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    workers: int | None = None,
    cancel: threading.Event | None = None,
    sha256: str | None = None,
    sha256_job: Callable[[], str] | None = None,
) -> ArtifactReport:
    """Inspect a wheel held by `source`; `filename` gives the tags (the WHEEL file when it is not a wheel name).

    `sha256_job` computes the artifact's sha256 beside the member reads.
    """
    parsed = parse_wheel_filename(filename)
    plat = parsed.get("plat") if parsed else None
    wanted = None if plat else (lambda n: n.count("/") == 1 and n.endswith(".dist-info/WHEEL"))
    scan = scan_zip(
        source,
        subject=artifact,
        symbols=symbols,
        limits=limits,
        workers=workers,
        cancel=cancel,
        metadata=wanted,
        side_job=sha256_job,
    )
    from envresolve.binary.report import build_report  # pydantic: only now (see _read_members)

    if sha256_job is not None:
        sha256 = scan.side
    if not plat:
        for text in scan.metadata.values():
            plat = wheel_tags_from_metadata(text.decode("utf-8", "replace"))
            if plat:
                break
    return build_report(
        artifact=artifact,
        kind="wheel",
        elf=scan.elf,
        provided=scan.names,
        diagnostics=scan.diagnostics,
        sha256=sha256,
        platform_tag=plat,
        tag_glibc=platform_tag_glibc(plat) if plat else None,
        tag_musl=platform_tag_musl(plat) if plat else None,
        tag_archs=platform_tag_archs(plat) if plat else (),
        tag_promise=platform_tag_promise(plat) if plat else None,
        name=parsed.get("name") if parsed else None,
        version=parsed.get("version") if parsed else None,
        build=parsed.get("build") if parsed else None,
        files=scan.files,
    )
