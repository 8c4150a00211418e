"""Read a spec file as text, safely: a size cap, and clear errors for binary data and wrong encodings."""

from __future__ import annotations

import codecs
from pathlib import Path

from envresolve._input import read_limited
from envresolve.diagnostics import Location, make
from envresolve.errors import InputError
from envresolve.limits import MAX_SPEC_BYTES

__all__ = ["MAX_SPEC_BYTES", "decode_spec_bytes", "read_spec_text"]


_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def read_spec_text(path: str | Path, *, max_bytes: int | None = None) -> str:
    """The file's text (UTF-8). Raises `InputError`: GN101 unreadable, GN106 not a regular file, SP101 too large,
    SP102 binary, SP103 encoding."""
    p = Path(path)
    limit = MAX_SPEC_BYTES if max_bytes is None else max_bytes
    try:
        data = read_limited(p, limit=limit, what="spec file", too_large="SP101")
    except InputError as exc:
        if exc.code != "SP101":
            raise
        raise InputError(
            make(
                "SP101",
                f"the file is larger than the {limit} byte limit for spec files",
                subject=str(p),
                location=Location(file=str(p)),
                hint="set ENVRESOLVE_MAX_SPEC_BYTES to raise the limit if the file is genuine",
            )
        ) from None
    return decode_spec_bytes(data, str(p))


def decode_spec_bytes(data: bytes, file: str) -> str:
    """Decode spec bytes as UTF-8 (a UTF-8 BOM is allowed); anything else is an `InputError`."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputError(
                make(
                    "SP103",
                    f"the file is encoded as {name}; spec files must be UTF-8",
                    subject=file,
                    location=Location(file=file, line=1, column=1),
                    hint=f"convert it, e.g. `iconv -f {name} -t UTF-8`",
                )
            )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        column = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        raise InputError(
            make(
                "SP102",
                "the file contains NUL bytes: it is binary data, not a spec file",
                subject=file,
                location=Location(file=file, line=line, column=column),
            )
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        where = Location(file=file, line=line, column=col)
        if _looks_like_latin1(data):
            raise InputError(
                make(
                    "SP103",
                    f"the file is not UTF-8 (byte 0x{data[exc.start]:02x}); it looks like Latin-1 or another "
                    "8-bit encoding",
                    subject=file,
                    location=where,
                    hint="convert it, e.g. `iconv -f LATIN1 -t UTF-8`",
                )
            ) from None
        raise InputError(
            make("SP102", f"the file is not text: invalid UTF-8 at byte {exc.start}", subject=file, location=where)
        ) from None
    bad = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if bad > 8:
        raise InputError(
            make(
                "SP102",
                f"the file is not text: it contains {bad} control characters",
                subject=file,
                location=Location(file=file),
            )
        )
    return text


def _looks_like_latin1(data: bytes) -> bool:
    """Mostly printable ASCII with a few high bytes, and no C0 control characters: an 8-bit text encoding."""
    sample = data[:65536]
    high = sum(1 for b in sample if b >= 0x80)
    ctrl = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    return ctrl == 0 and 0 < high <= max(1, len(sample) // 4)
