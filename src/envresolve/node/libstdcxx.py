"""Finding libstdc++ the way the dynamic loader would, and reading what its version definitions provide.

Pure over its inputs: `parse_ld_so_cache` takes the cache's bytes, `parse_ldconfig_p` the text of
`ldconfig -p`, `version_definitions` a path. `envresolve.node.probe` decides which files to read.

The levels come from the ELF version *definitions* (`.gnu.version_d`, SHT_GNU_verdef) of the library,
never from its file name: a distribution may ship `libstdc++.so.6.0.30` with backported symbols, and
a renamed copy says nothing.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ARCH_CACHE_FLAGS",
    "STANDARD_DIRS",
    "highest_versions",
    "parse_ld_so_cache",
    "parse_ldconfig_p",
    "version_definitions",
]

_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_OLD_MAGIC = b"ld.so-1.7.0"

#: glibc's `FLAG_ELF_LIBC6` (the low byte) combined with the 64-bit library flag of each architecture
#: (the high byte), as `ldconfig` writes them into `/etc/ld.so.cache` (glibc `sysdeps/generic/ldconfig.h`).
ARCH_CACHE_FLAGS: dict[str, int] = {"x86_64": 0x0303, "aarch64": 0x0A03, "ppc64le": 0x0503}

#: what `ldconfig -p` prints for the same flags
_ARCH_LDCONFIG_TAG: dict[str, str] = {"x86_64": "x86-64", "aarch64": "AArch64", "ppc64le": "64bit"}

#: the trusted directories the loader searches after its cache, Debian multiarch first
STANDARD_DIRS: dict[str, tuple[str, ...]] = {
    "x86_64": ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"),
    "aarch64": ("/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"),
    "ppc64le": (
        "/lib/powerpc64le-linux-gnu",
        "/usr/lib/powerpc64le-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ),
}


def _cstr(data: bytes, offset: int) -> str | None:
    if not 0 <= offset < len(data):
        return None
    end = data.find(b"\0", offset)
    if end < 0:
        return None
    return data[offset:end].decode("utf-8", "surrogateescape")


def parse_ld_so_cache(data: bytes, soname: str, arch: str) -> list[str]:
    """Paths the loader cache maps `soname` to for `arch`, in cache order (the loader takes the first).

    Reads the `glibc-ld.so.cache1.1` format (glibc >= 2.32 writes only this; older ones append it after
    the `ld.so-1.7.0` table) and falls back to the old table alone. Malformed data gives `[]`.
    """
    want = ARCH_CACHE_FLAGS.get(arch)
    if want is None:
        return []
    start = data.find(_NEW_MAGIC)
    if start >= 0:
        return _parse_new(data, start, soname, want)
    if data.startswith(_OLD_MAGIC):
        return _parse_old(data, soname, want)
    return []


def _parse_new(data: bytes, start: int, soname: str, want: int) -> list[str]:
    header = 48  # magic+version (20), nlibs, len_strings, flags(1)+pad(3), extension_offset, unused[3]
    if len(data) < start + header:
        return []
    (nlibs,) = struct.unpack_from("<I", data, start + 20)
    entry = 24  # flags, key, value, osversion (int32/uint32 x4), hwcap (uint64)
    if nlibs > (len(data) - start - header) // entry:
        return []
    found: list[str] = []
    for i in range(nlibs):
        flags, key, value, _os, _hw = struct.unpack_from("<iIIIQ", data, start + header + i * entry)
        if flags != want:
            continue
        if _cstr(data, start + key) == soname:
            path = _cstr(data, start + value)
            if path:
                found.append(path)
    return found


def _parse_old(data: bytes, soname: str, want: int) -> list[str]:
    # "ld.so-1.7.0" padded to 12 bytes, uint32 nlibs, then 12-byte entries; string offsets are relative
    # to the end of the entry table.
    if len(data) < 16:
        return []
    (nlibs,) = struct.unpack_from("<I", data, 12)
    table, entry = 16, 12
    if nlibs > (len(data) - table) // entry:
        return []
    strings = table + nlibs * entry
    found: list[str] = []
    for i in range(nlibs):
        flags, key, value = struct.unpack_from("<iII", data, table + i * entry)
        if flags != want:
            continue
        if _cstr(data, strings + key) == soname:
            path = _cstr(data, strings + value)
            if path:
                found.append(path)
    return found


_LDCONFIG_LINE = re.compile(r"^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S.*?)\s*$")


def parse_ldconfig_p(text: str, soname: str, arch: str) -> list[str]:
    """Paths `ldconfig -p` lists for `soname` on `arch` (e.g. `libstdc++.so.6 (libc6,x86-64) => /lib/...`)."""
    tag = _ARCH_LDCONFIG_TAG.get(arch)
    found: list[str] = []
    for line in text.splitlines():
        m = _LDCONFIG_LINE.match(line)
        if not m or m.group(1) != soname:
            continue
        attrs = [a.strip() for a in m.group(2).split(",")]
        if "libc6" in attrs and tag in attrs:
            found.append(m.group(3))
    return found


def version_definitions(path: str | Path) -> list[str]:
    """The names a shared library defines in `.gnu.version_d`, in file order (the first is its soname).

    Raises OSError when the file cannot be read and ValueError when it is not an ELF file with version
    definitions; callers turn those into diagnostics. Read by the symbol-lookup view of `envresolve.binary.elf`.
    """
    from envresolve.binary.elf import DynObject, ElfFormatError

    try:
        with DynObject(path) as obj:
            names = obj.version_definitions()
    except ElfFormatError as exc:
        raise ValueError(f"not a readable ELF shared library: {exc}") from None
    if not names:
        raise ValueError("no version definitions (.gnu.version_d)")
    return names


def _highest(names: Iterable[str], prefix: str) -> str | None:
    best: tuple[int, ...] | None = None
    pat = re.compile(rf"^{prefix}_([0-9]+(?:\.[0-9]+)*)$")
    for name in names:
        m = pat.match(name)
        if m:
            v = tuple(int(p) for p in m.group(1).split("."))
            if best is None or v > best:
                best = v
    return ".".join(map(str, best)) if best is not None else None


def highest_versions(names: Iterable[str]) -> tuple[str | None, str | None]:
    """The highest `GLIBCXX_x.y.z` and `CXXABI_x.y.z` among version names (compared numerically).

    Names such as `CXXABI_TM_1` or `CXXABI_FLOAT128` are not versions and are skipped.
    """
    seq = list(names)
    return _highest(seq, "GLIBCXX"), _highest(seq, "CXXABI")
