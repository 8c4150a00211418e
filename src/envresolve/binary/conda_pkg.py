"""Conda packages: `.conda` (a zip holding `info-*.tar.zst` and `pkg-*.tar.zst`) and legacy `.tar.bz2`.

Everything is streamed: the zip member's raw bytes -> zstd (or bz2) -> `tarfile` in stream mode
(`r|`) -> ELF reader, so no member is extracted or held whole. Symlinks and hard links are
recorded (their names satisfy DT_NEEDED entries) and never followed; links that leave the package,
unsafe paths and special files are diagnostics. `info/index.json` gives name, version, build and
subdir, and a `__glibc >=X` dependency gives the glibc the package promises to need.
"""

from __future__ import annotations

import bz2
import io
import os
import posixpath
import re
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from envresolve._input import LimitError, loads_json, open_fd
from envresolve.binary.model import ArtifactReport
from envresolve.binary.wheel import (
    DEFAULT_LIMITS,
    ELF_MAGIC,
    Cancelled,
    FileSource,
    Limits,
    MemberScan,
    StreamRefused,
    StreamState,
    data_offset,
    is_unsafe_path,
    list_zip_members,
    looks_like_shared_object,
    member_chunks,
    member_name_problem,
    read_elf_stream,
    vet_zip_members,
    worth_peeking,
)
from envresolve.diagnostics import make
from envresolve.limits import MAX_ARCHIVE_MEMBERS, MAX_MEMBER_NAME_BYTES, MAX_PAX_HEADER_BYTES, MAX_SYMLINKS

__all__ = ["conda_report", "glibc_from_depends", "scan_tar_stream"]

_CHUNK = 1 << 20
_SUBDIR_ARCH = {
    "linux-64": "x86_64",
    "linux-aarch64": "aarch64",
    "linux-ppc64le": "ppc64le",
    "linux-32": "i686",
    "linux-s390x": "s390x",
    "linux-armv7l": "armv7l",
}
_GLIBC_DEP = re.compile(r"^__glibc\s*>=?\s*([0-9]+(?:\.[0-9]+)*)")


class _Bomb(StreamRefused):
    def __init__(self, produced: int, consumed: int, limit: str) -> None:
        super().__init__(f"stopped after {produced} bytes from {consumed} compressed bytes ({limit})")


class _ChunkReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks; counts what it handed out."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it: Iterator[bytes] = iter(chunks)
        self._buf = b""
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self.count += n
        return n


class _Counted(io.RawIOBase):
    """Decompressed stream with the bomb limits: total output against compressed input consumed."""

    def __init__(self, inner: IO[bytes], compressed: Callable[[], int], limits: Limits) -> None:
        self._inner = inner
        self._compressed = compressed
        self._limits = limits
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        consumed = max(1, self._compressed())
        if self.count > self._limits.ratio_slack and self.count > self._limits.max_ratio * consumed:
            raise _Bomb(self.count, consumed, f"ratio limit {self._limits.max_ratio:g}x")
        if self.count > 8 * self._limits.max_member_bytes:
            raise _Bomb(self.count, consumed, "absolute limit")
        return n


class _TarLimit(Exception):
    """A tar stream over one of the limits in `envresolve.limits`: reading it stops (`code`: BN516-BN518)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_NAME_RECORDS = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_PAX_RECORDS = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that checks the declared size of a GNU long-name record or pax header before `tarfile` reads it
    whole into memory (a 7.8 MB .conda can declare a 600 MiB name)."""

    def _proc_member(self, tf: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _NAME_RECORDS and self.size > MAX_MEMBER_NAME_BYTES:
            raise _TarLimit(
                "BN517", f"a GNU long name of {self.size} bytes (the limit is {MAX_MEMBER_NAME_BYTES}); not read"
            )
        if self.type in _PAX_RECORDS and self.size > MAX_PAX_HEADER_BYTES:
            raise _TarLimit(
                "BN517", f"a pax header of {self.size} bytes (the limit is {MAX_PAX_HEADER_BYTES}); not read"
            )
        proc: Callable[[tarfile.TarFile], tarfile.TarInfo] = getattr(super(), "_proc_member")  # noqa: B009
        return proc(tf)


def _forget_members(tf: tarfile.TarFile) -> None:
    """Drop the TarInfo list `tarfile` keeps even in stream mode: it would grow by one object per member."""
    members: list[tarfile.TarInfo] = getattr(tf, "members")  # noqa: B009 - not in typeshed
    members.clear()


def _open_tar(raw: IO[bytes]) -> tarfile.TarFile:
    return tarfile.open(fileobj=raw, mode="r|", tarinfo=_BoundedTarInfo)


def glibc_from_depends(depends: Iterable[str]) -> str | None:
    """The glibc a conda package's `__glibc >=X` dependency promises (None when there is none)."""
    for dep in depends:
        m = _GLIBC_DEP.match(dep.strip())
        if m:
            return m.group(1)
    return None


def _tar_chunks(fobj: IO[bytes], head: bytes, cancel: threading.Event | None) -> Iterator[bytes]:
    if head:
        yield head
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        data = fobj.read(_CHUNK)
        if not data:
            return
        yield data


def scan_tar_stream(
    open_stream: Callable[[], IO[bytes]],
    *,
    subject: str,
    out: MemberScan,
    symbols: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    cancel: threading.Event | None = None,
    keep: Callable[[str], bool] = lambda name: False,
) -> None:
    """Read one tar stream front to back (`r|`), adding ELF facts, names and diagnostics to `out`.

    `open_stream()` returns a fresh decompressed stream; a second call is made only when the ELF
    reader asks to re-read a member. Members selected by `keep` are returned whole in `out.metadata`.
    """
    try:
        with open_stream() as raw:
            tf = _open_tar(raw)
            for index, ti in enumerate(tf):
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                if index >= MAX_ARCHIVE_MEMBERS:
                    raise _TarLimit("BN516", f"more than {MAX_ARCHIVE_MEMBERS} members; the rest is not read")
                _one_tar_member(tf, ti, index, open_stream, subject, out, symbols, cancel, keep)
                _forget_members(tf)
    except (Cancelled, KeyboardInterrupt):
        raise
    except _TarLimit as exc:
        out.diagnostics.append(make(exc.code, f"tarball refused: {exc}", subject=subject))
    except _Bomb as exc:
        out.diagnostics.append(make("BN502", f"compressed tarball inflates too far: {exc}", subject=subject))
    except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError) as exc:
        out.diagnostics.append(make("BN501", f"cannot read the tarball: {type(exc).__name__}: {exc}", subject=subject))
    except Exception as exc:  # zstandard.ZstdError and other decoder errors
        if type(exc).__module__.startswith(("zstandard", "_bz2", "bz2")):
            out.diagnostics.append(make("BN501", f"broken compressed stream: {exc}", subject=subject))
        else:
            raise


def _one_tar_member(
    tf: tarfile.TarFile,
    ti: tarfile.TarInfo,
    index: int,
    open_stream: Callable[[], IO[bytes]],
    subject: str,
    out: MemberScan,
    symbols: bool,
    cancel: threading.Event | None,
    keep: Callable[[str], bool],
) -> None:
    name = ti.name
    problem = member_name_problem(name)
    if problem is not None:
        out.diagnostics.append(make(problem[0], problem[1], subject=f"{subject}:{name[:MAX_MEMBER_NAME_BYTES]}"))
        return
    where = f"{subject}:{name}"
    base = name.rstrip("/").rsplit("/", 1)[-1]
    if is_unsafe_path(name):
        out.diagnostics.append(make("BN504", f"member path is absolute or climbs out: {name!r}", subject=where))
        return
    if ti.issym() or ti.islnk():
        out.links += 1
        if out.links > MAX_SYMLINKS:
            raise _TarLimit("BN518", f"more than {MAX_SYMLINKS} symlinks and hard links; the rest is not read")
        target = ti.linkname
        resolved = target if ti.islnk() else posixpath.join(posixpath.dirname(name), target)
        norm = posixpath.normpath(resolved)
        if target.startswith("/") or norm == ".." or norm.startswith("../"):
            kind = "symlink" if ti.issym() else "hard link"
            out.diagnostics.append(
                make("BN511", f"{kind} {name} -> {target} points outside the package; not followed", subject=where)
            )
            return
        if looks_like_shared_object(base):  # only library names can satisfy DT_NEEDED; keeps memory flat
            out.names.add(base)
        if ti.issym():  # listed up to MAX_FINDINGS_PER_CODE (`Findings`)
            out.diagnostics.append(make("BN510", f"symlink {name} -> {target} (not followed)", subject=where))
        return
    if ti.isdir():
        return
    if not ti.isreg():
        out.diagnostics.append(make("BN513", f"special file (type {ti.type!r}) skipped: {name}", subject=where))
        return
    out.files += 1
    if looks_like_shared_object(base):  # only library names can satisfy DT_NEEDED; keeps memory flat
        out.names.add(base)
    if keep(name):
        if ti.size <= 1 << 20:
            fobj = tf.extractfile(ti)
            if fobj is not None:
                out.metadata[name] = fobj.read()
        return
    if not worth_peeking(name):
        return
    is_so = looks_like_shared_object(base)
    if ti.size > DEFAULT_LIMITS.max_member_bytes:
        out.diagnostics.append(make("BN502", f"member declares {ti.size} bytes; not read", subject=where))
        return
    fobj = tf.extractfile(ti)
    if fobj is None:
        return
    head = fobj.read(4)
    if head != ELF_MAGIC:
        if is_so:
            out.diagnostics.append(make("BN505", f"{name} is named like a shared object, not ELF", subject=where))
        return

    first = [True]

    def factory() -> Iterator[bytes]:
        if first[0]:
            first[0] = False
            return _tar_chunks(fobj, head, cancel)
        return _reopen_member(open_stream, index, cancel)

    facts, diags = read_elf_stream(factory, path=name, size=ti.size, symbols=symbols)
    if facts is not None:
        out.elf.append(facts)
        if facts.soname:
            out.names.add(facts.soname)
    out.diagnostics.extend(diags)


def _reopen_member(open_stream: Callable[[], IO[bytes]], index: int, cancel: threading.Event | None) -> Iterator[bytes]:
    """Second pass over one member: decompress the tarball again up to it (only when the reader asks)."""
    with open_stream() as raw:
        tf = _open_tar(raw)
        for i, ti in enumerate(tf):
            _forget_members(tf)
            if i == index:
                fobj = tf.extractfile(ti)
                if fobj is not None:
                    yield from _tar_chunks(fobj, b"", cancel)
                return


def _zstd_opener(
    source: FileSource, member: Any, start: int, where: str, limits: Limits, cancel: threading.Event | None
) -> Callable[[], IO[bytes]]:
    import zstandard

    def open_stream() -> IO[bytes]:
        reader = _ChunkReader(
            member_chunks(source, member, start, subject=where, limits=limits, state=StreamState(), cancel=cancel)
        )
        dctx = zstandard.ZstdDecompressor()
        inner = dctx.stream_reader(cast(IO[bytes], reader), read_size=_CHUNK)
        return io.BufferedReader(_Counted(inner, lambda: reader.count, limits), buffer_size=_CHUNK)

    return open_stream


def _bz2_opener(path: str, limits: Limits) -> Callable[[], IO[bytes]]:
    def open_stream() -> IO[bytes]:
        fd, _st = open_fd(path)
        raw = _CountingFile(os.fdopen(fd, "rb"))
        inner = bz2.BZ2File(raw)
        return io.BufferedReader(_Counted(inner, lambda: raw.count, limits), buffer_size=_CHUNK)

    return open_stream


class _CountingFile(io.RawIOBase):
    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._fh.read(len(b))
        b[: len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def conda_report(
    path: str,
    *,
    symbols: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    cancel: threading.Event | None = None,
    sha256: str | None = None,
    artifact: str | None = None,
) -> ArtifactReport:
    """Inspect a `.conda` or `.tar.bz2` conda package; `artifact` names it in the report (default: the path)."""
    from envresolve.binary.report import build_report

    shown = artifact or path

    out = MemberScan()

    def is_index(name: str) -> bool:
        return name == "info/index.json"

    if path.lower().endswith(".conda"):
        with FileSource(path) as source:
            members, diags = list_zip_members(source, subject=shown)
            out.diagnostics.extend(diags)
            members, diags = vet_zip_members(members, source, shown)
            out.diagnostics.extend(diags)
            tarballs = [m for m in members if m.name.endswith(".tar.zst") and "/" not in m.name]
            if members and not tarballs:
                out.diagnostics.append(make("BN501", "no info-*.tar.zst / pkg-*.tar.zst inside", subject=shown))
            # info first: index.json names the package
            tarballs.sort(key=lambda m: (not m.name.startswith("info-"), m.name))
            for m in tarballs:
                where = f"{shown}:{m.name}"
                try:
                    start = data_offset(source, m)
                except ValueError as exc:
                    out.diagnostics.append(make("BN508", f"{m.name}: {exc}", subject=where))
                    continue
                opener = _zstd_opener(source, m, start, where, limits, cancel)
                scan_tar_stream(
                    opener, subject=where, out=out, symbols=symbols, limits=limits, cancel=cancel, keep=is_index
                )
    else:
        scan_tar_stream(
            _bz2_opener(path, limits),
            subject=shown,
            out=out,
            symbols=symbols,
            limits=limits,
            cancel=cancel,
            keep=is_index,
        )

    index: dict[str, Any] = {}
    raw_index = out.metadata.get("info/index.json")
    if raw_index is not None:
        try:
            loaded = loads_json(raw_index)
            index = loaded if isinstance(loaded, dict) else {}
        except LimitError as exc:
            out.diagnostics.append(exc.diagnostic(f"{shown}:info/index.json"))
            index = {}
        except ValueError:
            index = {}
    if not index:
        out.diagnostics.append(make("BN512", "no readable info/index.json", subject=shown))
    subdir = index.get("subdir") if isinstance(index.get("subdir"), str) else None
    depends = (
        [d for d in index.get("depends", []) if isinstance(d, str)] if isinstance(index.get("depends"), list) else []
    )
    arch = _SUBDIR_ARCH.get(subdir or "")

    def text(key: str) -> str | None:
        v = index.get(key)
        return str(v) if isinstance(v, (str, int, float)) else None

    return build_report(
        artifact=shown,
        kind="conda",
        elf=out.elf,
        provided=out.names,
        diagnostics=out.diagnostics,
        sha256=sha256,
        platform_tag=subdir,
        tag_glibc=glibc_from_depends(depends),
        tag_archs=[arch] if arch else [],
        name=text("name") or Path(shown).name,
        version=text("version"),
        build=text("build"),
        files=out.files,
    )
