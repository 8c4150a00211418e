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
        written: list[str] = []
        with _dir_lock(directory):
            for stale in _previous_files(target):
                if stale not in names and os.path.basename(stale) == stale:
                    _remove_if_ours(directory / stale)
            for name, _ in files:  # the lock is last: it commits the set
                os.replace(staged / name, directory / name)
                written.append(str(directory / name) if str(target.parent) else name)
            _fsync_dir(directory)
        return written
    except OSError as exc:
        raise InputError(
            make("GN105", f"cannot write the lock set {target}: {exc.strerror or exc}", subject=str(target))
        ) from None
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def _remove_if_ours(path: Path) -> None:
    """Remove an export of an earlier set, only when its first line says a set wrote it."""
    with contextlib.suppress(OSError):
        with open(path, "rb") as fh:
            first = fh.readline(200)
        if first.startswith(SET_MARK.encode()):
            path.unlink()


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
