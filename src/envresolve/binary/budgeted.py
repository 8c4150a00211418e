"""Binary facts of the wheels the pip search considers, within a byte budget: what `lock` judges each candidate by.

`WheelFacts` answers from the caches first. A report read by ranges is cached under the URL, the sha256 the index
claims and the budget (`ReportCache` keys of its own), never under a verified sha256; one of a whole file, under
its verified sha256. A report already cached under a verified sha256 (`envresolve inspect` hashed the whole file)
is used first. A wheel whose sha256 has a row in `matrices/measured_wheels.yaml` (measured whole by `inspect`,
device code included) is not read: the rules read that row, and the lock's verdict says "measured". Otherwise
the wheel is read by ranges (`binary.ranged`, loaded only then).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from envresolve._once import Once
from envresolve.errors import InputError

if TYPE_CHECKING:
    from envresolve.binary.cache import ReportCache
    from envresolve.binary.model import ArtifactReport
    from envresolve.diagnostics import Diagnostic
    from envresolve.net import HttpClient

__all__ = ["DEFAULT_INSPECT_BUDGET", "WheelFacts", "parse_budget", "read_conda_facts"]

#: compressed bytes read per artefact by default. Read whole, a CUDA wheel's device code costs most of the wheel
#: (torch: ~0.8 GB); its version needs cost 64 kB-2 MB per library. 8 MiB keeps a binary-aware lock of
#: torch and its CUDA wheels within 5 % of their size (docs/performance.md).
DEFAULT_INSPECT_BUDGET = 8 << 20


def parse_budget(text: str) -> int:
    """'8M', '512k', '2G' or a byte count -> bytes. Raises ValueError."""
    s = text.strip().lower().removesuffix("b").removesuffix("i")
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(s[-1:], 1)
    number = s[:-1] if s[-1:] in "kmg" else s
    value = int(float(number) * scale)
    if value < 0:
        raise ValueError("a budget is not negative")
    return value


def _has_compiled_code(filename: str) -> bool:
    """A wheel whose platform tag is not `any` (a file name that is not a wheel's has none)."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return False
    return any(t.platform != "any" for t in tags)


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
        self._memo: Once[str, ArtifactReport | None] = Once()  # one read per wheel, whichever thread asks
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

                from envresolve.binary.ranged import _WORKERS

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
        return self._memo.get(url, lambda: self._facts(info, url, filename))

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
        from envresolve.binary import ranged
        from envresolve.diagnostics import make

        pool, keep = self._resources()
        try:
            report = ranged.budgeted_wheel_report(
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


def read_conda_facts(
    packages: Sequence[Any],
    cache: ReportCache,
    *,
    budget: int = DEFAULT_INSPECT_BUDGET,
    offline: bool = False,
    client: HttpClient | None = None,
    workers: int = 4,
) -> list[Diagnostic]:
    """Read into `cache` (by sha256) the binary facts of the conda packages with compiled code that lack them.

    A conda package is a compressed tarball, readable front to back only: one no larger than `budget` is fetched
    whole (its sha256 checked) and inspected; a larger one is not read, and BN552 names it. A package on this
    machine (`file:` URL) is read whatever its size. `offline`: nothing is fetched. `packages` are
    `records.CondaPackage`s. Returns notes: BN552, and BN551 for each package that could not be read.
    """
    from concurrent.futures import ThreadPoolExecutor

    from envresolve.diagnostics import make

    todo: list[Any] = []
    too_big: list[Any] = []
    for p in packages:
        local = p.url.startswith("file:") if p.url else False
        if p.noarch or p.subdir == "noarch" or not p.sha256 or not p.url or (offline and not local):
            continue
        if cache.get_for(p.sha256, p.name, p.version) is not None:
            continue
        if not local and (p.size is None or p.size > budget):
            too_big.append(p)
            continue
        todo.append(p)
    notes: list[Diagnostic] = []
    if too_big:
        notes.append(
            make(
                "BN552",
                f"binary facts of {len(too_big)} conda package(s) larger than the inspect budget ({budget} bytes) "
                "not read",
                evidence=[f"{p.name} {p.version} ({p.size if p.size is not None else '?'} bytes)" for p in too_big],
                hint="raise it with --inspect-budget, or run `envresolve inspect` on the package once",
            )
        )
    if not todo:
        return notes
    client = client or _conda_client()

    def one(p: Any) -> Diagnostic | None:
        from envresolve.binary import inspect

        try:
            if p.url.startswith("file:"):
                path = urllib.request.url2pathname(urllib.parse.urlsplit(p.url).path)
                report = inspect(path, cache=True, cache_root=cache.root)
            else:
                report = inspect(f"{p.url}#sha256={p.sha256}", cache=True, cache_root=cache.root, client=client)
        except InputError as exc:
            return make(
                "BN551",
                f"binary facts of {p.file_name} not read: {exc.diagnostics[0].message}",
                subject=p.name,
                hint="its verdicts rest on repodata and the matrices",
            )
        if report.sha256 != p.sha256.lower():
            return make(
                "BN551",
                f"binary facts of {p.file_name} not read: its sha256 is not the one the repodata records",
                subject=p.name,
                hint="its verdicts rest on repodata and the matrices",
            )
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="envresolve-conda-facts") as pool:
        notes.extend(d for d in pool.map(one, todo) if d is not None)
    return notes


def _conda_client() -> HttpClient:
    from envresolve.net import HttpClient

    return HttpClient(cache_dir=None, progress=False)
