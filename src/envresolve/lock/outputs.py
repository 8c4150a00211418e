"""A lock and its exports, written as one set: all of them from one run, or none.

Each file is rendered in memory first, then written into a temporary directory beside the lock. Publishing
takes an exclusive `flock` on the lock's directory (so concurrent runs on the same `-o` take turns), removes
the exports a previous set listed that this one does not, renames every export into place and the lock last,
and syncs the directory. The set's id (a digest of every file's content, so equal runs give equal bytes) is
recorded in the lock (`output-set`) and in the first line of each export; `mixed_exports` finds an export
that does not carry the id of the lock beside it (a run killed while publishing). See docs/lockfile.md.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from envresolve.diagnostics import Diagnostic, make
from envresolve.errors import InputError
from envresolve.lock.io import dumps, loads
from envresolve.lock.model import Lock, OutputSet

__all__ = ["SET_MARK", "mixed_exports", "publish"]

#: first line of every export written in a set
SET_MARK = "# envresolve-output-set: "


def _marked(set_id: str, data: bytes) -> bytes:
    return f"{SET_MARK}{set_id}\n".encode() + data


def _set_id(lock_text: str, exports: Sequence[tuple[str, bytes]]) -> str:
    h = hashlib.sha256(lock_text.encode())
    for name, data in sorted(exports):
        h.update(f"\0{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _dir_lock(directory: Path) -> Iterator[None]:
    """An exclusive advisory lock on a directory (no lock file is left behind)."""
    import fcntl

    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _previous_files(lock_path: Path) -> tuple[str, ...]:
    """The export names the lock now at `lock_path` published with it (none when it is absent or unreadable)."""
    try:
        old = loads(lock_path.read_text("utf-8"), source=str(lock_path))
    except (OSError, UnicodeDecodeError, InputError):
        return ()
    return old.output_set.files if old.output_set is not None else ()


def publish(lock: Lock, lock_path: str | os.PathLike[str], exports: Sequence[tuple[str, bytes]]) -> list[str]:
    """Write `lock` at `lock_path` and each `(file name, content)` export beside it, as one set.

    Returns the paths written (exports first, the lock last). Raises `InputError` (GN105) when the set cannot
    be written; then no file of it was published and no temporary file is left.
    """
    target = Path(lock_path)
    directory = target.parent if str(target.parent) else Path(".")
    names = [name for name, _ in exports]
    if len(set(names)) != len(names) or any(os.path.basename(n) != n or n == target.name for n in names):
        raise InputError(make("GN104", f"export file names must be distinct plain names beside the lock: {names}"))
    unsigned = dumps(lock.model_copy(update={"output_set": None}))
    set_id = _set_id(unsigned, exports)
    text = dumps(lock.model_copy(update={"output_set": OutputSet(id=set_id, files=tuple(sorted(names)))}))
    staged: Path | None = None
    try:
        staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.set-", dir=directory))
        files = [(name, _marked(set_id, data)) for name, data in exports] + [(target.name, text.encode())]
        for name, data in files:
            with open(staged / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(staged / name, 0o644)
        with _dir_lock(directory):
            written = _swap_in(directory, staged, [name for name, _ in files], _previous_files(target), names)
        return [str(directory / n) if str(target.parent) else n for n in written]
    except OSError as exc:
        raise InputError(
            make("GN105", f"cannot write the lock set {target}: {exc.strerror or exc}", subject=str(target))
        ) from None
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def _swap_in(
    directory: Path, staged: Path, order: Sequence[str], previous: Sequence[str], names: Sequence[str]
) -> list[str]:
    """Rename the staged files into `directory` in `order`, and retire the earlier set's exports this one drops.

    All or none: what is replaced or retired is first kept aside in the staging directory, and an error part
    way puts every file back as it was before raising."""
    for name in order:  # the common failure, refused before anything moves
        dest = directory / name
        if dest.is_dir() and not dest.is_symlink():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(dest))
    aside = staged / ".previous"
    aside.mkdir()
    kept: list[str] = []  # names whose earlier file sits in `aside`
    placed: list[str] = []
    try:
        for stale in previous:
            if stale not in names and os.path.basename(stale) == stale and _ours(directory / stale):
                os.replace(directory / stale, aside / stale)
                kept.append(stale)
        for name in order:  # the lock is last: it commits the set
            if os.path.lexists(directory / name):
                os.link(directory / name, aside / name, follow_symlinks=False)
                kept.append(name)
            os.replace(staged / name, directory / name)
            placed.append(name)
    except OSError:
        for name in placed:
            with contextlib.suppress(OSError):
                os.unlink(directory / name)
        for name in kept:
            with contextlib.suppress(OSError):
                os.replace(aside / name, directory / name)
        raise
    finally:
        _fsync_dir(directory)
    return placed


def _ours(path: Path) -> bool:
    """Whether `path` is an export of an earlier set (its first line says a set wrote it)."""
    try:
        with open(path, "rb") as fh:
            return fh.readline(200).startswith(SET_MARK.encode())
    except OSError:
        return False


def mixed_exports(lock: Lock, lock_path: str | os.PathLike[str]) -> list[Diagnostic]:
    """LK108 for each export the lock's set lists whose first line names another set (or that is missing)."""
    if lock.output_set is None:
        return []
    directory = Path(lock_path).parent
    out: list[Diagnostic] = []
    for name in lock.output_set.files:
        try:
            with open(directory / name, "rb") as fh:
                first = fh.readline(200).decode("utf-8", "replace").strip()
        except OSError:
            first = ""
        want = f"{SET_MARK}{lock.output_set.id}".strip()
        if first != want:
            got = first.removeprefix(SET_MARK.strip()).strip() or "none"
            out.append(
                make(
                    "LK108",
                    f"{name} does not belong to the lock beside it (output set {got}, lock's {lock.output_set.id})",
                    subject=str(directory / name),
                    hint="lock again: another run's files, or a run killed while writing, are mixed in",
                )
            )
    return out
