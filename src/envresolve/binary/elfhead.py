"""Version needs from the first bytes of an ELF shared object, without its `.dynamic` section.

In a wheel every member is deflated, so reaching `.dynamic` (in the writable segment, typically at 70-100 % of
the file) means inflating almost all of it. `.gnu.version_r` and `.dynstr` lie in the first loaded segment, near
the start. This reader finds the version-needs table in a prefix by its shape and proves it: each auxiliary
record carries the ELF hash of its version name (`vna_hash`), and the table is accepted only when every record's
hash matches the string it points at for one consistent string-table base, and every needed file name is a
library name. The result is a subset of the object's facts, each one certain:

- the libraries it needs with versions (each `vn_file` is a DT_NEEDED entry of the object);
- the version names it needs of each (GLIBC_2.17, GLIBCXX_3.4.30, ...), weak needs apart.

Libraries needed without versions, RPATH/RUNPATH, the C++ ABI and the fatbinary stay unknown.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from envresolve.binary.elf import _MACHINES as MACHINES

__all__ = ["elf_hash", "first_load_end", "read_version_needs"]

_ELF_MAGIC = b"\x7fELF"
#: bounds for hostile input
_MAX_VERNEED = 256
_MAX_AUX = 256
_MAX_NAME = 256
_VER_FLG_WEAK = 0x2
#: version names as the GNU toolchain writes them (GLIBC_2.17, GLIBCXX_3.4.30, CXXABI_1.3.9, GCC_3.0, ...)
_ANCHOR = re.compile(rb"\x00([A-Z][A-Z0-9_]{1,31}_[0-9][0-9.]{0,15})\x00")
_HEAD_LE = re.compile(rb"\x01\x00[\x01-\xff]\x00.{4}\x10\x00\x00\x00", re.S)
_HEAD_BE = re.compile(rb"\x00\x01\x00[\x01-\xff].{4}\x00\x00\x00\x10", re.S)
_LIB_NAME = re.compile(r"^[A-Za-z0-9_.+-]+\.so(\.[0-9A-Za-z.]+)?$|^ld-linux[A-Za-z0-9_.-]*$")


def elf_hash(name: bytes) -> int:
    """The System V ELF hash (`vna_hash` of a version-needs record)."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def _string(data: bytes, off: int) -> bytes | None:
    if off < 0 or off >= len(data):
        return None
    end = data.find(b"\x00", off, off + _MAX_NAME)
    return data[off:end] if end > off else None


def _chain(data: bytes, start: int, end: str) -> _Chain | None:
    """The verneed records from `start`: [(vn_file, [(vna_hash, vna_flags, vna_name)])], None if malformed."""
    out: list[tuple[int, list[tuple[int, int, int]]]] = []
    pos = start
    for _ in range(_MAX_VERNEED):
        if pos + 16 > len(data):
            return None
        version, cnt, vn_file, vn_aux, vn_next = struct.unpack_from(end + "HHIII", data, pos)
        if version != 1 or not 1 <= cnt <= _MAX_AUX or vn_aux < 16:
            return None
        auxes: list[tuple[int, int, int]] = []
        apos = pos + vn_aux
        for i in range(cnt):
            if apos + 16 > len(data):
                return None
            vna_hash, flags, other, name, nxt = struct.unpack_from(end + "IHHII", data, apos)
            if flags & ~_VER_FLG_WEAK or other < 2 or other >= 0x8000:
                return None
            auxes.append((vna_hash, flags, name))
            if i + 1 < cnt:
                if nxt < 16:
                    return None
                apos += nxt
            elif nxt != 0:
                return None
        out.append((vn_file, auxes))
        if vn_next == 0:
            return out
        if vn_next < 16:
            return None
        pos += vn_next
    return None


_Chain = list[tuple[int, list[tuple[int, int, int]]]]


def _base(data: bytes, chain: _Chain, anchors: dict[int, list[int]]) -> int | None:
    """The string-table offset at which every record's name hashes to its `vna_hash`, if there is one."""
    tried: set[int] = set()
    for _file, auxes in chain:
        for vna_hash, _flags, name in auxes:
            for pos in anchors.get(vna_hash, ()):
                base = pos - name
                if base in tried or base < 0:
                    continue
                tried.add(base)
                if _proves(data, chain, base):
                    return base
    return None


def _proves(data: bytes, chain: _Chain, base: int) -> bool:
    for vn_file, auxes in chain:
        lib = _string(data, base + vn_file)
        if lib is None or not _LIB_NAME.match(lib.decode("ascii", "replace")):
            return False
        for vna_hash, _flags, name in auxes:
            text = _string(data, base + name)
            if text is None or elf_hash(text) != vna_hash:
                return False
    return True


def read_version_needs(data: bytes, *, path: str, size: int | None = None) -> dict[str, Any] | None:
    """`ElfFacts` fields proven from a prefix of an ELF file (see the module docstring), or None.

    None when the prefix is not ELF or does not (yet) hold a complete, provable version-needs table.
    """
    if len(data) < 64 or data[:4] != _ELF_MAGIC or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    elf_class = 64 if data[4] == 2 else 32
    end = "<" if data[5] == 1 else ">"
    (machine,) = struct.unpack_from(end + "H", data, 18)
    anchors: dict[int, list[int]] = {}
    for m in _ANCHOR.finditer(data):
        anchors.setdefault(elf_hash(m.group(1)), []).append(m.start(1))
    if not anchors:
        return None
    # a verneed record: vn_version 1, a small vn_cnt, then vn_file, vn_aux (16 in every linker's layout), vn_next
    head = _HEAD_LE if end == "<" else _HEAD_BE
    for m in head.finditer(data):
        start = m.start()
        if start % 4:
            continue
        chain = _chain(data, start, end)
        if not chain:
            continue
        base = _base(data, chain, anchors)
        if base is None:
            continue
        needs: dict[str, list[str]] = {}
        weak: dict[str, list[str]] = {}
        for vn_file, auxes in chain:
            lib = (_string(data, base + vn_file) or b"").decode("ascii", "replace")
            needs.setdefault(lib, [])
            for _hash, flags, name in auxes:
                text = (_string(data, base + name) or b"").decode("ascii", "replace")
                (weak.setdefault(lib, []) if flags & _VER_FLG_WEAK else needs[lib]).append(text)
        return {
            "path": path,
            "size": size,
            "elf_class": elf_class,
            "machine": MACHINES.get(machine, f"em_{machine}"),
            "needed": tuple(needs),
            "version_needs": {k: tuple(sorted(set(v))) for k, v in needs.items() if v},
            "weak_version_needs": {k: tuple(sorted(set(v))) for k, v in weak.items() if v},
        }
    return None


def first_load_end(data: bytes) -> int | None:
    """File offset where the first PT_LOAD segment ends (the tables this reader wants lie before it), if known."""
    if len(data) < 64 or data[:4] != _ELF_MAGIC or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    wide = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    (phoff,) = struct.unpack_from(end + ("Q" if wide else "I"), data, 32 if wide else 28)
    phentsize, phnum = struct.unpack_from(end + "HH", data, 54 if wide else 42)
    if phentsize < (56 if wide else 32) or phnum > 4096 or phoff + phentsize * phnum > len(data):
        return None
    first: tuple[int, int] | None = None
    for i in range(phnum):
        at = phoff + i * phentsize
        if wide:
            p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(end + "IIQQQQ", data, at)
        else:
            p_type, p_offset, _va, _pa, p_filesz = struct.unpack_from(end + "IIIII", data, at)
        if p_type == 1 and (first is None or p_offset < first[0]):
            first = (p_offset, p_offset + p_filesz)
    return first[1] if first is not None else None
