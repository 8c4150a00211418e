"""Installed environments: walk a prefix (site-packages, `lib/`, ...) and read every ELF file in it.

The walk is a generator over an explicit stack of directories (bounded memory for prefixes of any
size), never follows a symlink (a link's name still counts as a provided library name when its
target stays inside the prefix), opens files read-only with O_NOFOLLOW, and reports files it cannot
read (BN514) instead of stopping.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from envresolve.binary.model import ArtifactReport
from envresolve.binary.wheel import (
    DEFAULT_LIMITS,
    ELF_MAGIC,
    Limits,
    MemberScan,
    looks_like_shared_object,
    read_elf_stream,
    worth_peeking,
)
from envresolve.diagnostics import Severity, make

__all__ = ["PrefixEntry", "prefix_report", "walk_prefix"]

_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class PrefixEntry:
    """One thing found in the walk: a regular file, a symlink, or an error."""

    kind: Literal["file", "link", "error"]
    path: str
    rel: str
    detail: str = ""
    inside: bool = True


def walk_prefix(root: str) -> Iterator[PrefixEntry]:
    """Yield regular files and symlinks under `root`, depth first, never following links."""
    real_root = os.path.realpath(root)
    cut = len(os.path.join(root, ""))  # entry paths start with root + "/": slicing beats os.path.relpath

    def rel(path: str) -> str:
        return path[cut:] or "."

    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            it = os.scandir(directory)
        except OSError as exc:
            yield PrefixEntry("error", directory, rel(directory), exc.strerror or str(exc))
            continue
        with it:
            subdirs = []
            while True:
                try:
                    entry = next(it)
                except StopIteration:
                    break
                except OSError as exc:
                    yield PrefixEntry("error", directory, rel(directory), exc.strerror or str(exc))
                    break
                where = rel(entry.path)
                try:
                    if entry.is_symlink():
                        target = os.readlink(entry.path)
                        real = os.path.realpath(entry.path)
                        inside = real == real_root or real.startswith(real_root + os.sep)
                        yield PrefixEntry("link", entry.path, where, target, inside)
                    elif entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        yield PrefixEntry("file", entry.path, where)
                except OSError as exc:
                    yield PrefixEntry("error", entry.path, where, exc.strerror or str(exc))
            stack.extend(sorted(subdirs, reverse=True))


def _fd_chunks(path: str) -> Iterator[bytes]:
    fd = os.open(path, _OPEN_FLAGS)
    try:
        offset = 0
        while data := os.pread(fd, _CHUNK, offset):
            offset += len(data)
            yield data
    finally:
        os.close(fd)


def _opener(path: str) -> Callable[[], Iterator[bytes]]:
    return lambda: _fd_chunks(path)


def prefix_report(root: str, *, symbols: bool = False, limits: Limits | None = None) -> ArtifactReport:
    """Inspect every ELF file in an installed environment or prefix directory."""
    from envresolve.binary.report import build_report

    limits = limits or DEFAULT_LIMITS
    out = MemberScan()
    for e in walk_prefix(root):
        where = f"{root}:{e.rel}"
        base = os.path.basename(e.path)
        if e.kind == "error":
            out.diagnostics.append(make("BN514", f"cannot read {e.rel}: {e.detail}", subject=where))
            continue
        if e.kind == "link":
            if e.inside:
                if looks_like_shared_object(base):  # only library names can satisfy DT_NEEDED; keeps memory flat
                    out.names.add(base)
            else:
                # venvs link bin/python to the system interpreter: a fact, not a fault
                out.diagnostics.append(
                    make(
                        "BN511",
                        f"symlink {e.rel} -> {e.detail} leaves the prefix; not followed",
                        subject=where,
                        severity=Severity.INFO,
                    )
                )
            continue
        out.files += 1
        if looks_like_shared_object(base):  # only library names can satisfy DT_NEEDED; keeps memory flat
            out.names.add(base)
        if not worth_peeking(e.rel):
            continue
        try:
            fd = os.open(e.path, _OPEN_FLAGS)
            try:
                st = os.fstat(fd)
                head = os.pread(fd, 4, 0) if stat.S_ISREG(st.st_mode) else b""
            finally:
                os.close(fd)
        except OSError as exc:
            out.diagnostics.append(make("BN514", f"cannot read {e.rel}: {exc.strerror or exc}", subject=where))
            continue
        if head != ELF_MAGIC:
            if looks_like_shared_object(base) and stat.S_ISREG(st.st_mode):
                out.diagnostics.append(make("BN505", f"{e.rel} is named like a shared object, not ELF", subject=where))
            continue
        if st.st_size > limits.max_member_bytes:
            out.diagnostics.append(make("BN502", f"{e.rel} is {st.st_size} bytes; not read", subject=where))
            continue
        try:
            facts, diags = read_elf_stream(_opener(e.path), path=e.rel, size=st.st_size, symbols=symbols)
        except OSError as exc:
            out.diagnostics.append(make("BN514", f"cannot read {e.rel}: {exc.strerror or exc}", subject=where))
            continue
        if facts is not None:
            out.elf.append(facts)
            if facts.soname:
                out.names.add(facts.soname)
        out.diagnostics.extend(diags)
    return build_report(
        artifact=root,
        kind="directory",
        elf=out.elf,
        provided=out.names,
        diagnostics=out.diagnostics,
        files=out.files,
    )
