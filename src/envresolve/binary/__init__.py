"""Binary facts: what an ELF shared object, a wheel or a conda package says about itself.

`inspect(path_or_url)` is the entry point: it picks the reader from the input (a `.so` file, a
wheel, a `.conda` / `.tar.bz2` package, a directory holding an environment, or the URL of a wheel)
and returns one `ArtifactReport`. Reports of files are cached by content (see `binary.cache`).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from envresolve.errors import InputError

if TYPE_CHECKING:
    from envresolve.binary.model import ArtifactReport
    from envresolve.binary.wheel import Limits
    from envresolve.diagnostics import Diagnostic
    from envresolve.net import HttpClient


def _make(code: str, message: str, **kw: Any) -> Diagnostic:
    """`envresolve.diagnostics.make`, imported on first use (pydantic stays off the cold path's start)."""
    from envresolve.diagnostics import make

    return make(code, message, **kw)


__all__ = ["artifact_kind", "inspect"]

Kind = Literal["wheel", "conda", "elf", "directory", "url"]


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


def artifact_kind(path: str | os.PathLike[str]) -> Kind:
    """What kind of artifact a path or URL is: by URL scheme, directory, file name, then magic bytes.

    Raises InputError (GN101) for a missing path and (BN515) for a file of no known kind.
    """
    s = os.fspath(path)
    if _is_url(s):
        return "url"
    p = Path(s)
    try:
        mode = os.stat(s).st_mode
    except OSError:
        raise InputError(_make("GN101", f"no such file or directory: {s}", subject=s)) from None
    if stat.S_ISDIR(mode):
        return "directory"
    from envresolve._input import open_regular

    fd, _st = open_regular(s)  # GN106 for a FIFO or a device (`inspect /dev/zero`), checked on the descriptor
    try:
        head = os.pread(fd, 4, 0)
    except OSError as exc:
        raise InputError(_make("GN101", f"cannot read {s}: {exc.strerror or exc}", subject=s)) from None
    finally:
        os.close(fd)
    name = p.name.lower()
    if name.endswith(".whl"):
        return "wheel"
    if name.endswith((".conda", ".tar.bz2")):
        return "conda"
    if head == b"\x7fELF":
        return "elf"
    if head == b"PK\x03\x04":
        return "wheel"
    raise InputError(
        _make(
            "BN515",
            f"not a wheel, conda package, ELF file, directory or URL: {s}",
            subject=s,
            hint="wheels end in .whl, conda packages in .conda or .tar.bz2",
        )
    )


def inspect(
    path_or_url: str | os.PathLike[str],
    *,
    symbols: bool = False,
    cache: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
    timeout: float = 30.0,
    client: HttpClient | None = None,
) -> ArtifactReport:
    """Inspect a `.so`, wheel, `.conda`, `.tar.bz2`, directory/prefix or wheel URL.

    URLs are fetched through `client` (default: a new `envresolve.net.HttpClient` with `timeout` per read).

    Findings (hostile members, tags that understate glibc needs) are diagnostics in the report;
    an input that cannot be read at all raises `InputError`.
    """
    s = os.fspath(path_or_url)
    kind = artifact_kind(s)
    if kind == "url":
        from envresolve.binary.remote import inspect_url

        return inspect_url(
            s, symbols=symbols, cache=cache, cache_root=cache_root, limits=limits, timeout=timeout, client=client
        )
    if kind == "directory":
        from envresolve.binary.prefix import prefix_report

        return prefix_report(s, symbols=symbols, limits=limits)
    return _inspect_file(s, kind, symbols=symbols, cache=cache, cache_root=cache_root, limits=limits)


def _inspect_file(
    path: str,
    kind: Kind,
    *,
    symbols: bool,
    cache: bool,
    cache_root: str | os.PathLike[str] | None,
    limits: Limits | None,
) -> ArtifactReport:
    from envresolve.binary.cache import ReportCache, sha256_file

    try:
        st = os.stat(path)
        abspath = os.path.realpath(path)
    except OSError as exc:
        raise InputError(_make("GN101", f"cannot read {path}: {exc.strerror or exc}", subject=path)) from None
    store = ReportCache(cache_root) if cache else None
    if store is not None:
        known = store.sha_for(abspath, st)
        if known:
            hit = store.get(known, symbols=symbols)
            if hit is not None:
                return hit.model_copy(update={"artifact": path})

    from envresolve.binary.wheel import DEFAULT_LIMITS, Cancelled, FileSource, wheel_report

    if kind == "wheel":
        # The hash is a side job of the member reads (in the helper process when one is used).
        try:
            with FileSource(path) as src:
                whl = wheel_report(
                    src,
                    artifact=path,
                    filename=Path(path).name,
                    symbols=symbols,
                    limits=limits or DEFAULT_LIMITS,
                    sha256_job=lambda: sha256_file(path),
                )
        except OSError as exc:
            raise InputError(_make("GN101", f"cannot read {path}: {exc.strerror or exc}", subject=path)) from None
        digest = whl.sha256 or ""
        if store is not None and digest:
            if store.get(digest, symbols=symbols) is None:
                store.put(digest, whl, symbols=symbols)
            store.remember(abspath, st, digest)
        return whl.model_copy(update={"artifact": path})

    # Cold: hash in a second thread while reading; a cache hit by content (same file elsewhere) cancels the read.
    cancel = threading.Event()
    found: list[ArtifactReport] = []

    def on_hash(fut: Future[str]) -> None:
        if store is None or fut.exception() is not None:
            return
        cached = store.get(fut.result(), symbols=symbols)
        if cached is not None:
            found.append(cached)
            cancel.set()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="envresolve-sha256") as pool:
        hashing = pool.submit(sha256_file, path)
        hashing.add_done_callback(on_hash)
        report: ArtifactReport | None = None
        try:
            report = _read_local(path, kind, symbols=symbols, limits=limits, cancel=cancel)
        except Cancelled:
            pass
        except OSError as exc:
            raise InputError(_make("GN101", f"cannot read {path}: {exc.strerror or exc}", subject=path)) from None
        try:
            sha = hashing.result()
        except OSError as exc:
            raise InputError(_make("GN101", f"cannot read {path}: {exc.strerror or exc}", subject=path)) from None
    if report is None:
        report = found[0]
    else:
        report = report.model_copy(update={"sha256": sha})
        if store is not None:
            store.put(sha, report, symbols=symbols)
    if store is not None:
        store.remember(abspath, st, sha)
    return report.model_copy(update={"artifact": path})


def _read_local(
    path: str, kind: Kind, *, symbols: bool, limits: Limits | None, cancel: threading.Event | None
) -> ArtifactReport:
    from envresolve.binary.wheel import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    if kind == "conda":
        from envresolve.binary.conda_pkg import conda_report

        return conda_report(path, symbols=symbols, limits=limits, cancel=cancel)
    return elf_file_report(path, symbols=symbols)


def _file_chunks(path: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    from envresolve._input import open_fd

    fd, _st = open_fd(path)
    with os.fdopen(fd, "rb") as fh:
        while data := fh.read(chunk):
            yield data


def elf_file_report(path: str, *, symbols: bool = False) -> ArtifactReport:
    """Report on one ELF file on disk."""
    from envresolve.binary.report import build_report
    from envresolve.binary.wheel import read_elf_stream

    size = os.stat(path).st_size
    facts, diags = read_elf_stream(lambda: _file_chunks(path), path=path, size=size, symbols=symbols)
    return build_report(
        artifact=path,
        kind="elf",
        elf=[facts] if facts is not None else [],
        provided=[Path(path).name],
        diagnostics=diags,
        files=1,
    )
