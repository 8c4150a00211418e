"""Binary facts of a wheel on an index, read within a byte budget: what `lock` judges each candidate by.

A wheel's ELF members are deflated, so a member's facts are read by inflating it from its start. Per artefact:

1. the zip's central directory comes from one suffix range request (the tail);
2. a wheel no larger than the budget is fetched whole and hashed: every fact, the verified sha256, and its
   metadata checked against it (`MetadataFetcher.verify`);
3. otherwise, when all its shared objects fit in the budget they are read whole (every fact, the fatbinary's
   SASS/PTX included); else each is read by its first bytes, in growing range requests, until its version needs
   are proven (`binary.elfhead`: GLIBC_/GLIBCXX_/CXXABI_ needs, and the libraries needed with versions where
   their names are in reach), each certain. The device code is then not known from the binary: the report says
   `device_code="beyond-budget"`, so the judge asks the measured table or the published matrix row instead (and
   its verdict says so), never a partial SASS list.

A report read by ranges is cached under the URL, the sha256 the index claims and the budget (`ReportCache` keys
of its own), never under a verified sha256; one of a whole file, under its verified sha256. A report already
cached under a verified sha256 (`envresolve inspect` hashed the whole file) is used first. A wheel whose sha256
has a row in `matrices/measured_wheels.yaml` (measured whole by `inspect`, device code included) is not read:
the rules read that row, and the lock's verdict says "measured". A server that ignores
Range requests gets the whole file read (and hashed) only when it fits in the budget.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from envresolve.binary.elfhead import base_version_name, first_load_end, read_version_needs
from envresolve.binary.remote import _CONTENT_RANGE, _TAIL, HttpRangeSource, _Request
from envresolve.binary.wheel import (
    _INFLATE_ERRORS,
    DEFAULT_LIMITS,
    ELF_MAGIC,
    StreamState,
    ZipMember,
    _inflate_mod,
    _to_facts,
    data_offset,
    list_zip_members,
    looks_like_shared_object,
    member_chunks,
    parse_wheel_filename,
    platform_tag_archs,
    platform_tag_glibc,
    platform_tag_musl,
    read_elf_stream_fields,
    vet_zip_members,
)
from envresolve.errors import InputError
from envresolve.net import hash_mismatch

if TYPE_CHECKING:
    from envresolve.binary.cache import ReportCache
    from envresolve.binary.model import ArtifactReport, ElfFacts
    from envresolve.diagnostics import Diagnostic
    from envresolve.net import HttpClient

__all__ = ["DEFAULT_INSPECT_BUDGET", "WheelFacts", "budgeted_wheel_report", "parse_budget"]

#: compressed bytes read per artefact by default. Read whole, a CUDA wheel's device code costs most of the wheel
#: (torch: ~0.8 GB); its version needs cost 64 kB-2 MB per library. 8 MiB keeps a binary-aware lock of
#: torch and its CUDA wheels within 5 % of their size (docs/performance.md).
DEFAULT_INSPECT_BUDGET = 8 << 20
#: cumulative compressed bytes tried for a member's prefix before giving up on its version needs
_PREFIX_STEPS = (128 << 10, 512 << 10, 2 << 20, 4 << 20)


def parse_budget(text: str) -> int:
    """'8M', '512k', '2G' or a byte count -> bytes. Raises ValueError."""
    s = text.strip().lower().removesuffix("b").removesuffix("i")
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(s[-1:], 1)
    number = s[:-1] if s[-1:] in "kmg" else s
    value = int(float(number) * scale)
    if value < 0:
        raise ValueError("a budget is not negative")
    return value


class _Counted(HttpRangeSource):
    """A range source that counts the bytes it fetched, holds spans fetched ahead, and hands out the budget."""

    def __init__(self, req: _Request, size: int, tail: bytes, on_bytes: Callable[[int], None], budget: int) -> None:
        super().__init__(req, size, tail=tail)
        self.fetched = len(tail)
        self._on_bytes = on_bytes
        self._spans: dict[int, bytes] = {}
        self._spans_lock = threading.Lock()
        self._budget = budget
        self._left = budget - len(tail)

    def settle(self) -> None:
        """What is left of the budget after the reads so far (the central directory beyond the tail)."""
        with self._spans_lock:
            self._left = self._budget - self.fetched

    def reserve(self, n: int) -> int:
        """Take up to `n` bytes of what is left of the budget; the bytes granted."""
        with self._spans_lock:
            got = max(0, min(n, self._left))
            self._left -= got
            return got

    def reserve_all(self, n: int) -> bool:
        """Take exactly `n` bytes of the budget, or nothing when less is left."""
        with self._spans_lock:
            if n > self._left:
                return False
            self._left -= n
            return True

    def _fetch(self, start: int, end: int) -> bytes:
        data = super()._fetch(start, end)
        with self._spans_lock:
            self.fetched += len(data)
        self._on_bytes(len(data))
        return data

    def prime(self, start: int, end: int) -> None:
        """Fetch [start, end) in one request and keep it for the reads that follow (a local header and data)."""
        end = min(end, self.size)
        if end > start:
            data = self._fetch(start, end)
            with self._spans_lock:
                self._spans[start] = data

    def forget(self, start: int) -> None:
        with self._spans_lock:
            self._spans.pop(start, None)

    def _span(self, offset: int, n: int) -> bytes | None:
        with self._spans_lock:
            for at, data in self._spans.items():
                if at <= offset and offset + n <= at + len(data):
                    return data[offset - at : offset - at + n]
        return None

    def read_at(self, offset: int, n: int) -> bytes:
        hit = self._span(offset, min(n, self.size - offset))
        return hit if hit is not None else super().read_at(offset, n)

    def fetch(self, offset: int, n: int) -> bytes:
        """[offset, offset + n) in one request (or from a span), never through the block cache."""
        n = min(n, self.size - offset)
        hit = self._span(offset, n)
        return hit if hit is not None else self._fetch(offset, offset + n)

    def stream(self, offset: int, length: int) -> Iterator[bytes]:
        hit = self._span(offset, min(length, self.size - offset))
        if hit is not None:
            for i in range(0, len(hit), 1 << 20):
                yield hit[i : i + (1 << 20)]
            return
        for data in super().stream(offset, length):
            with self._spans_lock:
                self.fetched += len(data)
            self._on_bytes(len(data))
            yield data


@dataclass
class _Read:
    elf: list[ElfFacts] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    whole: int = 0
    prefix: int = 0
    unread: int = 0


#: the prefixes of the version names a version-needs table names (GLIBC_ and GLIBCXX_, CXXABI_, GCC_)
_VERSION_NAMES = (b"GLIBC", b"CXXABI_", b"GCC_")
#: room for a local header (30 bytes, the name, an extra field) fetched with the data that follows it
_HEADER_ROOM = 1024


def _prefix_facts(source: _Counted, m: ZipMember) -> dict[str, Any] | str | None:
    """Version needs from the member's first bytes: fields, None (not proven), "not-elf" or "unread".

    Each step takes its bytes from the budget; the first comes in one request with the local header. Reading
    stops at the end of the first loaded segment, where the tables lie in every linker layout.
    """
    first = source.reserve(min(_PREFIX_STEPS[0], m.compress_size) + _HEADER_ROOM)
    if first <= _HEADER_ROOM:
        return "unread"
    source.prime(m.header_offset, m.header_offset + first)
    try:
        start = data_offset(source, m)
    except ValueError:
        source.forget(m.header_offset)
        return "unread"
    d = _inflate_mod.decompressobj(-15) if m.method == 8 else None
    out = bytearray()
    pos = searched = 0
    limit = 64 << 20  # uncompressed bytes kept at most
    stop: int | None = None
    try:
        for step in _PREFIX_STEPS:
            want = min(step, m.compress_size) - pos
            want = source.reserve(want) if pos else min(want, m.header_offset + first - start)
            if want <= 0:
                break
            raw = source.fetch(start + pos, want)
            pos += len(raw)
            if d is None:
                out += raw
            else:
                try:
                    out += d.decompress(raw, max(0, limit - len(out)))
                except _INFLATE_ERRORS:
                    return None
            if len(out) >= 4 and out[:4] != ELF_MAGIC:
                return "not-elf"
            fields = read_version_needs(out, path=m.name, size=m.file_size, searched=searched, quick=True)
            if fields is not None:
                return fields
            searched = len(out)
            if stop is None:
                stop = first_load_end(bytes(out[:65536]))
            if (stop is not None and len(out) >= stop) or pos >= m.compress_size:
                # the table, if any, is in what was read. The quick pass looked for the base glibc record; its
                # name's string here means that record (and so the table) is not in reach. Without it, look for
                # every known name once, where some version name shows that a version is needed at all.
                base = base_version_name(out)
                if (base is None or out.find(base + b"\0") < 0) and any(out.find(n) >= 0 for n in _VERSION_NAMES):
                    return read_version_needs(out, path=m.name, size=m.file_size)
                return None
            if len(out) >= limit:
                break
    finally:
        source.forget(m.header_offset)
    return None


def _whole_facts(source: _Counted, m: ZipMember, subject: str) -> tuple[Any, list[Diagnostic]]:
    source.prime(m.header_offset, m.header_offset + _HEADER_ROOM + m.compress_size)
    try:
        start = data_offset(source, m)
    except ValueError as exc:
        from envresolve.diagnostics import make

        return None, [make("BN508", f"{m.name}: {exc}", subject=f"{subject}:{m.name}")]
    states: list[StreamState] = []

    def factory() -> Iterator[bytes]:
        st = StreamState()
        states.append(st)
        return member_chunks(source, m, start, subject=f"{subject}:{m.name}", limits=DEFAULT_LIMITS, state=st)

    try:
        fields, diags = read_elf_stream_fields(factory, path=m.name, size=m.file_size, symbols=False)
    finally:
        source.forget(m.header_offset)
    problems = [s.problem for s in states if s.problem is not None]
    return _to_facts((fields, [problems[0]] if problems else diags), m.name)


#: members of one wheel read at the same time
_WORKERS = 4


def _read_members(source: _Counted, members: list[ZipMember], subject: str, budget: int, pool: Any = None) -> _Read:
    """All whole when they fit in what is left of the budget, else each by its first bytes."""
    from concurrent.futures import ThreadPoolExecutor

    from envresolve.binary.elf import elf_facts

    got = _Read()
    ordered = sorted(members, key=lambda m: (m.compress_size, m.name))
    cost = sum(m.compress_size + _HEADER_ROOM for m in ordered)
    # all whole (every fact, device code included) or all by their first bytes: device code read from some
    # libraries and not others would be dropped anyway, so whole reads are spent only where all of them fit
    whole, prefix = (ordered, []) if source.reserve_all(cost) else ([], ordered)

    def one(m: ZipMember) -> tuple[str, Any, list[Diagnostic]]:
        if m in whole_set:
            facts, diags = _whole_facts(source, m, subject)
            return "whole", facts, diags
        fields = _prefix_facts(source, m)
        if isinstance(fields, str):
            return fields, None, []  # not-elf: named like a library (the whole reader's BN505 is for `inspect`)
        return "prefix", elf_facts(fields) if fields is not None else None, []

    whole_set = set(whole)
    own = pool is None
    if own:
        pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="envresolve-facts")
    try:
        results = list(pool.map(one, [*whole, *prefix]))
    finally:
        if own:
            pool.shutdown()
    for kind, facts, diags in results:
        got.diagnostics.extend(diags)
        if facts is not None:
            got.elf.append(facts)
        if kind == "whole" and facts is not None:
            got.whole += 1
        elif kind == "prefix":
            got.prefix += 1
        elif kind == "unread":
            got.unread += 1
    return got


def _whole_file(
    req: _Request, size: int, tail: bytes, sha256: str | None, keep: str | None, on_bytes: Callable[[int], None]
) -> ArtifactReport:
    """A wheel no larger than the budget: fetched whole (what the tail left), hashed, and read like a local file.

    RS403 when it is not the file the index announced. `keep`: a directory where the file stays (as
    `<sha256>.whl`, for the metadata check), else it is removed.
    """
    import tempfile

    from envresolve.binary.wheel import FileSource, wheel_report

    h = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="envresolve-wheel-") as tmp:
        path = os.path.join(keep or tmp, f"part-{threading.get_ident()}-{os.getpid()}.whl")
        with open(path, "wb") as fh:
            rest = size - len(tail)
            if rest > 0:
                with req.open(f"bytes=0-{rest - 1}") as resp:
                    if resp.status != 206:
                        raise req.error(f"server answered {resp.status} to a range request it had honoured before")
                    for data in resp.chunks(rest):
                        on_bytes(len(data))
                        h.update(data)
                        fh.write(data)
            h.update(tail)
            fh.write(tail)
        sha = h.hexdigest()
        if sha256 and sha != sha256.lower():
            os.unlink(path)
            raise hash_mismatch(req.display, sha256.lower(), sha)
        with FileSource(path) as source:
            report = wheel_report(source, artifact=req.display, filename=req.filename, symbols=False, sha256=sha)
        if keep:
            os.replace(path, os.path.join(keep, f"{sha}.whl"))
    return report


def budgeted_wheel_report(
    url: str,
    *,
    client: HttpClient,
    budget: int = DEFAULT_INSPECT_BUDGET,
    progress: Callable[[int], None] | None = None,
    sha256: str | None = None,
    keep: str | None = None,
    pool: Any = None,
) -> ArtifactReport | None:
    """The binary facts of the wheel at `url` read within `budget` compressed bytes (see the module docstring).

    A wheel no larger than the budget is fetched whole and hashed (its report then carries the verified sha256;
    RS403 when it differs from `sha256`, the hash the index announces); `keep` names a directory where such a
    file stays. `pool`: a thread pool for the member reads (its threads keep their connections).
    None when the server ignores ranges and the file is larger than the budget. Raises InputError (BN701 and the
    network codes) when it cannot be fetched.
    """
    from envresolve.binary.report import build_report
    from envresolve.diagnostics import make

    req = _Request(client, url, trust=False)
    on_bytes = progress or (lambda _n: None)
    tail_bytes = min(_TAIL, max(budget // 4, 16 << 10))  # the central directory; more is read as needed
    with req.open(f"bytes=-{tail_bytes}") as resp:
        cr = _CONTENT_RANGE.match(resp.headers.get("content-range", "").strip())
        if resp.status != 206 or not cr:
            size = int(resp.headers.get("content-length", "0") or 0)
            if resp.status != 200 or not size or size > budget:
                return None
            from envresolve.binary.remote import _download_and_inspect

            return _download_and_inspect(req, resp, symbols=False, store=None, limits=DEFAULT_LIMITS, known_sha=None)
        size = int(cr.group(3))
        tail = req.read(resp, int(cr.group(2)) - int(cr.group(1)) + 1)
    on_bytes(len(tail))
    if size <= budget:
        return _whole_file(req, size, tail, sha256, keep, on_bytes)
    source = _Counted(req, size, tail, on_bytes, budget)
    members, diags = list_zip_members(source, subject=req.display)
    members, more = vet_zip_members(members, source, req.display)
    source.settle()
    libs = [
        m
        for m in members
        if not m.name.endswith("/")
        and looks_like_shared_object(m.name.rsplit("/", 1)[-1])
        and m.file_size >= 4
        and m.method in (0, 8)
    ]
    got = _read_members(source, libs, req.display, budget, pool)
    complete = got.prefix == 0 and got.unread == 0
    elf = got.elf if complete else [f.model_copy(update={"fatbin": (), "relocatable_fatbin": ()}) for f in got.elf]
    note = make(
        "BN550",
        f"read {source.fetched} of {size} bytes (inspect budget {budget}): {got.whole} shared object(s) whole, "
        f"{got.prefix} by their first bytes, {got.unread} not read",
        subject=req.display,
        evidence=[
            "version needs of a library read by its first bytes are proven by their ELF hashes",
            "device code (SASS/PTX) " + ("read" if complete else "not read: the published matrix row answers"),
        ],
        hint="raise it with --inspect-budget to read more of each wheel",
    )
    parsed = parse_wheel_filename(req.filename)
    plat = parsed.get("plat") if parsed else None
    report = build_report(
        artifact=req.display,
        kind="wheel",
        elf=elf,
        provided={m.name.rsplit("/", 1)[-1] for m in libs},
        diagnostics=[*diags, *more, *got.diagnostics, note],
        sha256=None,
        platform_tag=plat,
        tag_glibc=platform_tag_glibc(plat) if plat else None,
        tag_musl=platform_tag_musl(plat) if plat else None,
        tag_archs=platform_tag_archs(plat) if plat else (),
        name=parsed.get("name") if parsed else None,
        version=parsed.get("version") if parsed else None,
        build=parsed.get("build") if parsed else None,
        files=sum(1 for m in members if not m.name.endswith("/")),
    )
    return report.model_copy(update={"device_code": "read" if complete else "beyond-budget"})


def _has_compiled_code(filename: str) -> bool:
    parsed = parse_wheel_filename(filename)
    return parsed is not None and parsed.get("plat") != "any"


class _Progress:
    """One stderr line per artefact being read, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._lock = threading.Lock()

    def reader(self, filename: str) -> Callable[[int], None] | None:
        if not self.enabled:
            return None
        total = [0]

        def tick(n: int) -> None:
            total[0] += n
            with self._lock:
                sys.stderr.write(f"\rreading {filename[:60]}: {total[0] / (1 << 20):.1f} MiB\x1b[K")
                sys.stderr.flush()

        return tick

    def done(self) -> None:
        if self.enabled:
            with self._lock:
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()


class WheelFacts:
    """The `binary_facts` callback of the pip search: cached facts, else the wheel read within the budget.

    Thread-safe (the search prefetches); one read per wheel. `offline` uses cached facts only. A wheel that
    cannot be read has no binary facts (unknown is never an error); `notes` says why (BN551).
    """

    def __init__(
        self,
        client: HttpClient,
        *,
        budget: int = DEFAULT_INSPECT_BUDGET,
        offline: bool = False,
        cache: ReportCache | None = None,
    ) -> None:
        self.client = client
        self.budget = budget
        self.offline = offline
        self.cache = cache
        self.notes: list[Diagnostic] = []
        self.bytes_read = 0
        self._lock = threading.Lock()
        self._memo: dict[str, ArtifactReport | None] = {}
        self._keys: dict[str, threading.Lock] = {}
        self._progress = _Progress()
        self._pool: Any = None
        self._tmp: Any = None
        self._closed = False
        self._active = 0  # reads in flight (they write whole files into `_tmp`)
        self._idle = threading.Condition(self._lock)
        #: wheel URL -> the whole file fetched and hashed here (small wheels), while this object is open
        self.whole_files: dict[str, str] = {}

    def _resources(self) -> tuple[Any, str]:
        with self._lock:
            if self._pool is None:
                import tempfile
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="envresolve-facts")
                self._tmp = tempfile.TemporaryDirectory(prefix="envresolve-wheels-")
            return self._pool, self._tmp.name

    def close(self) -> None:
        """Stop reading (later calls answer None), wait for the reads in flight, and remove the whole files kept."""
        with self._lock:
            self._closed = True
            self._idle.wait_for(lambda: self._active == 0)
            pool, tmp = self._pool, self._tmp
            self._pool = self._tmp = None
            self.whole_files.clear()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if tmp is not None:
            tmp.cleanup()

    def _key(self, url: str, sha256: str | None) -> str:
        return hashlib.sha256(f"wheel-facts\n{url}\n{sha256 or ''}\n{self.budget}".encode()).hexdigest()

    def __call__(self, info: Any) -> ArtifactReport | None:
        """Facts for a `CandidateInfo` (name, version, filename, url, sha256)."""
        url: str | None = info.url
        filename: str | None = info.filename
        if not url or not filename or not _has_compiled_code(filename):
            return None
        if self.budget == 0 and not url.startswith("file:"):
            return None
        with self._lock:
            if url in self._memo:
                return self._memo[url]
            klock = self._keys.setdefault(url, threading.Lock())
        with klock:
            with self._lock:
                if url in self._memo:
                    return self._memo[url]
            report = self._facts(info, url, filename)
            with self._lock:
                self._memo[url] = report
            return report

    def _facts(self, info: Any, url: str, filename: str) -> ArtifactReport | None:
        if self.cache is not None and info.sha256:
            hit: ArtifactReport | None = self.cache.get_for(info.sha256, info.name, info.version)
            if hit is not None:  # stored under a sha256 only after hashing the whole file
                return hit
        if info.sha256 and _measured(info.sha256, info.name):
            return None  # measured whole, device code included: the rules read that row (provenance "measured")
        if url.startswith("file:"):
            return self._local(url, info)
        key = self._key(url, info.sha256)
        if self.cache is not None:
            hit = self.cache.get(key, symbols=False)
            if hit is not None and hit.name is not None and _same(hit, info):
                return hit
        if self.offline:
            return None
        with self._lock:
            if self._closed:
                return None
            self._active += 1
        try:
            return self._read(info, url, filename, key)
        finally:
            with self._lock:
                self._active -= 1
                self._idle.notify_all()

    def _read(self, info: Any, url: str, filename: str, key: str) -> ArtifactReport | None:
        from envresolve.diagnostics import make

        pool, keep = self._resources()
        try:
            report = budgeted_wheel_report(
                url,
                client=self.client,
                budget=self.budget,
                progress=self._counter(filename),
                sha256=info.sha256,
                keep=keep,
                pool=pool,
            )
        except InputError as exc:
            if exc.code == "RS410":
                raise
            with self._lock:
                self.notes.append(
                    make(
                        "BN551",
                        f"binary facts of {filename} not read: {exc.diagnostics[0].message}",
                        subject=info.name,
                        hint="its verdicts rest on index metadata and the matrices",
                    )
                )
            return None
        finally:
            self._progress.done()
        if report is not None and report.sha256:  # the whole file, hashed here
            kept = os.path.join(keep, f"{report.sha256}.whl")
            if os.path.exists(kept):
                with self._lock:
                    self.whole_files[url] = kept
            if self.cache is not None:
                self.cache.put(report.sha256, report, symbols=False)
        elif report is not None and self.cache is not None:
            self.cache.put(key, report, symbols=False)
        return report

    def _counter(self, filename: str) -> Callable[[int], None]:
        shown = self._progress.reader(filename)

        def count(n: int) -> None:
            with self._lock:
                self.bytes_read += n
            if shown is not None:
                shown(n)

        return count

    def _local(self, url: str, info: Any) -> ArtifactReport | None:
        """A wheel on this machine: inspected whole (and cached by its verified sha256)."""
        from envresolve.binary import inspect

        path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
        if not os.path.isfile(path):
            return None
        try:
            report = inspect(path, cache=self.cache is not None, cache_root=self.cache.root if self.cache else None)
        except InputError:
            return None
        return report if _same(report, info) else None


def _measured(sha256: str, name: str) -> bool:
    """Whether `matrices/measured_wheels.yaml` holds this very file (by sha256) of this project."""
    from packaging.utils import canonicalize_name

    from envresolve.matrices.measured import measured_by_sha256

    row = measured_by_sha256(sha256)
    return row is not None and row.name == canonicalize_name(name)


def _same(report: ArtifactReport, info: Any) -> bool:
    from packaging.utils import canonicalize_name

    return report.name is not None and canonicalize_name(report.name) == canonicalize_name(info.name)
