"""The one reader of local input files: regular files only, type checked after opening, size capped.

Every file a user hands us (specs and their includes, node files, archives, lockfiles, the metadata and
libraries of an installed prefix) is opened here. The open is non-blocking, so a FIFO cannot hang it; the
type is checked on the open descriptor (`fstat`), so a path swapped between a check and the open cannot slip
a device in; and no more than the caller's cap is ever read, because `st_size` says nothing for a device
(`/dev/zero` reports 0 bytes and never ends).

Refusals are `InputError`s: GN101 (missing, a directory, no permission), GN106 (not a regular file), GN107
(larger than the cap; spec files keep SP101).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Iterable
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from envresolve.errors import InputError

if TYPE_CHECKING:
    from envresolve.diagnostics import Diagnostic, Severity


def make(code: str, message: str, **kw: Any) -> Diagnostic:
    """`envresolve.diagnostics.make`, imported on first use (the cold inspect path stays free of pydantic)."""
    from envresolve.diagnostics import make as _make

    return _make(code, message, **kw)


__all__ = [
    "UNREADABLE_CODES",
    "LimitError",
    "SpecialFileError",
    "as_diagnostic",
    "check_nesting",
    "describe_mode",
    "loads_json",
    "open_fd",
    "open_regular",
    "read_limited",
    "read_limited_text",
    "refuse_special",
    "unreadable",
]

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)

#: codes that mean "this input could not be read at all": commands exit 2 when one stops them
UNREADABLE_CODES = frozenset(
    {"GN101", "GN106", "GN107", "GN108", "GN109", "SP101", "SP102", "SP103", "BN501", "BN515", "BN516"}
)


def unreadable(diagnostics: Iterable[Diagnostic]) -> bool:
    """Whether an error among `diagnostics` says an input could not be read at all (`UNREADABLE_CODES`)."""
    from envresolve.diagnostics import Severity

    return any(d.code in UNREADABLE_CODES and d.severity is Severity.ERROR for d in diagnostics)


def describe_mode(mode: int) -> str:
    """'a FIFO', 'a character device', ... for a file type that is not a regular file."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def refuse_special(path: str, mode: int, *, severity: Severity | None = None) -> Diagnostic:
    """The GN106 diagnostic for `path`, whose file type (`mode`) is not a regular file."""
    kw: dict[str, Any] = {"severity": severity} if severity is not None else {}
    return make(
        "GN106",
        f"{path} is {describe_mode(mode)}, not a regular file; not read",
        subject=path,
        hint="pass a regular file (copy the data into one)",
        **kw,
    )


class SpecialFileError(OSError):
    """`open_fd` found a FIFO, device, socket or directory where a regular file was expected."""

    def __init__(self, path: str, mode: int) -> None:
        super().__init__(errno.EINVAL, f"{describe_mode(mode)}, not a regular file", path)
        self.mode = mode


def open_fd(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> tuple[int, os.stat_result]:
    """Open a regular file read-only without blocking; returns (fd, fstat).

    Raises the OSError of the open itself, or `SpecialFileError` for anything but a regular file (checked on
    the descriptor). For callers that report per file (a prefix walk); others use `open_regular`.
    """
    p = os.fspath(path)
    fd = os.open(p, _FLAGS if follow_symlinks else _FLAGS | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise SpecialFileError(p, st.st_mode)
    return fd, st


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> tuple[int, os.stat_result]:
    """Open a regular file read-only; returns (fd, fstat). Raises `InputError` (GN101, GN106).

    With `follow_symlinks=False` a symlink itself is refused (GN106), as inside a prefix.
    """
    p = os.fspath(path)
    try:
        return open_fd(p, follow_symlinks=follow_symlinks)
    except SpecialFileError as exc:
        if stat.S_ISDIR(exc.mode):
            raise InputError(make("GN101", f"{p} is a directory, not a file", subject=p)) from None
        raise InputError(refuse_special(p, exc.mode)) from None
    except FileNotFoundError:
        raise InputError(make("GN101", f"{p}: no such file", subject=p)) from None
    except PermissionError:
        raise InputError(make("GN101", f"{p}: permission denied", subject=p)) from None
    except OSError as exc:
        raise InputError(as_diagnostic(p, exc)) from None


def as_diagnostic(path: str, exc: OSError, *, severity: Severity | None = None) -> Diagnostic:
    """GN106 for a special file or a symlink that was not to be followed, GN101 for any other OSError."""
    kw: dict[str, Any] = {"severity": severity} if severity is not None else {}
    if isinstance(exc, SpecialFileError):
        return refuse_special(path, exc.mode, severity=severity)
    if exc.errno == errno.ELOOP:
        return make("GN106", f"{path} is a symlink; not followed", subject=path, **kw)
    if exc.errno == errno.ENXIO:  # a socket opened as a file
        return make("GN106", f"{path} is a socket or FIFO, not a regular file; not read", subject=path, **kw)
    return make("GN101", f"cannot read {path}: {exc.strerror or exc}", subject=path, **kw)


def read_limited(
    path: str | os.PathLike[str],
    *,
    limit: int,
    what: str = "file",
    too_large: str = "GN107",
    follow_symlinks: bool = True,
) -> bytes:
    """A regular file's bytes, at most `limit` of them. Raises `InputError` (GN101, GN106, `too_large`)."""
    p = os.fspath(path)
    fd, _st = open_regular(p, follow_symlinks=follow_symlinks)
    try:
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            data = os.read(fd, min(1 << 20, limit + 1 - got))
            if not data:
                break
            chunks.append(data)
            got += len(data)
    except OSError as exc:
        raise InputError(make("GN101", f"cannot read {p}: {exc.strerror or exc}", subject=p)) from None
    finally:
        os.close(fd)
    if got > limit:
        raise InputError(
            make(
                too_large,
                f"{p} is larger than the {limit} byte limit for a {what}; not read",
                subject=p,
            )
        )
    return b"".join(chunks)


def read_limited_text(
    path: str | os.PathLike[str],
    *,
    limit: int,
    what: str = "file",
    too_large: str = "GN107",
    follow_symlinks: bool = True,
    errors: str = "strict",
) -> str:
    """`read_limited`, decoded as UTF-8. Undecodable bytes raise `InputError` (GN101) unless `errors` says."""
    data = read_limited(path, limit=limit, what=what, too_large=too_large, follow_symlinks=follow_symlinks)
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError as exc:
        p = os.fspath(path)
        raise InputError(make("GN101", f"{p} is not UTF-8 text (byte {exc.start})", subject=p)) from None


# -- structured text: nesting depth and integer digits, checked before a recursive parser sees the text --------

# strings (and TOML comments) are cut out before brackets are counted; unrolled patterns keep `re` fast
_JSON_SKIP = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_TOML_SKIP = re.compile(
    r'"""[^\\]*?(?:\\.[^\\]*?)*?"""|\'\'\'.*?\'\'\'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\n]*\'|#[^\n]*',
    re.DOTALL,
)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class LimitError(ValueError):
    """Structured text over a limit: `code` is GN108 (nesting) or GN109 (digits)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def diagnostic(self, origin: str, *, severity: Severity | None = None) -> Diagnostic:
        """This refusal as a diagnostic about `origin`."""
        kw: dict[str, Any] = {"severity": severity} if severity is not None else {}
        return make(self.code, f"{origin}: {self}", subject=origin, **kw)


def check_nesting(text: str, *, toml: bool = False, limit: int | None = None) -> None:
    """Raise `LimitError` (GN108) when brackets outside strings (and TOML comments) nest deeper than `limit`."""
    from envresolve.limits import MAX_NESTING_DEPTH

    cap = MAX_NESTING_DEPTH if limit is None else limit
    if text.count("[") + text.count("{") <= cap:  # cheap common case: too few brackets to be too deep
        return
    skeleton = _NOT_BRACKET.sub("", (_TOML_SKIP if toml else _JSON_SKIP).sub("", text))
    deepest = max(accumulate(map(_STEP.__getitem__, skeleton)), default=0)
    if deepest > cap:
        raise LimitError("GN108", f"nesting {deepest} levels deep (the limit is {cap}); not parsed")


def loads_json(data: str | bytes, *, max_depth: int | None = None, max_int_digits: int | None = None) -> Any:
    """`json.loads` with a nesting limit (GN108) and an integer digit limit (GN109), as `LimitError`.

    Other malformed JSON raises `json.JSONDecodeError` (a ValueError), as `json.loads` does. The C decoder stops
    at Python's recursion limit with a RecursionError, which is this nesting refusal; the parsed value is then
    walked (without recursion) for the tighter limit, which is cheaper than scanning the text first.
    """
    from envresolve.limits import MAX_INT_DIGITS, MAX_NESTING_DEPTH

    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    cap = MAX_NESTING_DEPTH if max_depth is None else max_depth
    digits = MAX_INT_DIGITS if max_int_digits is None else max_int_digits

    def bounded_int(s: str) -> int:
        if len(s) - s.startswith("-") > digits:
            raise LimitError("GN109", f"an integer of {len(s)} digits (the limit is {digits}); not converted")
        return int(s)

    try:
        obj = json.loads(text, parse_int=bounded_int)
    except RecursionError:
        raise LimitError("GN108", f"nesting deeper than {cap} levels; not parsed") from None
    if text.count("[") + text.count("{") > cap:
        _check_depth(obj, cap)
    return obj


def _check_depth(obj: Any, cap: int) -> None:
    if not isinstance(obj, (dict, list)):
        return
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        cur, depth = stack.pop()
        if depth > cap:
            raise LimitError("GN108", f"nesting deeper than {cap} levels; not used")
        for value in cur.values() if isinstance(cur, dict) else cur:
            if isinstance(value, (dict, list)):
                stack.append((value, depth + 1))
