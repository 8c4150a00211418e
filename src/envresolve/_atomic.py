"""Atomic file writes: a temporary file beside the target, fsync (unless it is a cache), then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text"]


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes | tuple[bytes, ...], *, mode: int = 0o644, durable: bool = True
) -> None:
    """Write `data` (bytes, or a tuple of parts written one after another) to `path` so that readers see either
    the old file or the whole new one.

    `durable=False` skips the fsync: for cache entries, which are checked when read and cost only speed when a
    crash loses them (an fsync per entry made cache writes the largest system-time cost of a cold lock).

    Raises `envresolve.errors.InputError` (GN105) when the write cannot be done; the target is untouched.
    """
    from envresolve.diagnostics import make
    from envresolve.errors import InputError

    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            for part in data if isinstance(data, tuple) else (data,):
                fh.write(part)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        raise InputError(make("GN105", f"cannot write {target}: {exc.strerror or exc}", subject=str(target))) from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int = 0o644, durable: bool = True) -> None:
    """Text (UTF-8) variant of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, durable=durable)
