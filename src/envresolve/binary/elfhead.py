"""Version needs from the first bytes of an ELF shared object, without its `.dynamic` section.

In a wheel every member is deflated, so reaching `.dynamic` (in the writable segment, typically at 70-100 % of
the file) means inflating almost all of it. `.gnu.version_r` and `.dynstr` lie in the first loaded segment, near
the start. This reader finds the version-needs table in a prefix by its shape and proves it: each auxiliary
record carries the ELF hash of its version name (`vna_hash`), and the table is accepted only when every record's
hash matches the string it points at for one consistent string-table base, and every needed file name is a
library name. Files rewritten by patchelf (every auditwheel-repaired wheel) keep `.gnu.version_r` in place but
move `.dynstr` to the end of the file; there the records are read by their hashes alone: a record counts only
when its hash is the ELF hash of a version name of glibc, libstdc++ or libgcc (131 names, no two alike), the
chain is well formed and its version indexes are distinct. The result is a subset of the object's facts, each
one certain:

- the libraries it needs with versions (each `vn_file` is a DT_NEEDED entry of the object);
- the version names it needs of each (GLIBC_2.17, GLIBCXX_3.4.30, ...), weak needs apart.

Libraries needed without versions, RPATH/RUNPATH, the C++ ABI and the fatbinary stay unknown.
"""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Iterator
from typing import Any

from envresolve.binary.elf import _MACHINES as MACHINES
from envresolve.binary.elf import elf_hash

__all__ = ["base_version_name", "elf_hash", "first_load_end", "read_version_needs"]

_ELF_MAGIC = b"\x7fELF"
#: bounds for hostile input
_MAX_VERNEED = 256
_MAX_AUX = 256
_MAX_NAME = 256
_VER_FLG_WEAK = 0x2
#: version names as the GNU toolchain writes them (GLIBC_2.17, GLIBCXX_3.4.30, CXXABI_1.3.9, GCC_3.0, ...)
_MAX_HITS = 64
#: records examined at most per search (a real table is found after a few hundred)
_MAX_WORK = 200_000
_MAX_AUX_BACK = 64
#: how far before an earlier prefix's end the table is looked for again: more than any version-needs table
#: (at most _MAX_VERNEED records of 16 bytes, each with at most _MAX_AUX_BACK auxiliaries of 16 bytes)
_OVERLAP = 16 * _MAX_VERNEED * (1 + _MAX_AUX_BACK)
#: a prefix being read (grown in place as more is inflated)
_Buf = bytes | bytearray
#: verneed records: (vn_file, [(vna_hash, vna_flags, vna_name)])
_Chain = list[tuple[int, list[tuple[int, int, int]]]]
_LIB_NAME = re.compile(r"^[A-Za-z0-9_.+-]+\.so(\.[0-9A-Za-z.]+)?$|^ld-linux[A-Za-z0-9_.-]*$")


class _Exhausted(Exception):
    """The search spent its work budget."""


class _Work:
    """A bound on the records a search examines, so hostile data cannot make it slow."""

    def __init__(self, budget: int = _MAX_WORK) -> None:
        self.left = budget

    def spend(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise _Exhausted


def _string(data: _Buf, off: int) -> bytes | None:
    if off < 0 or off >= len(data):
        return None
    end = data.find(b"\x00", off, off + _MAX_NAME)
    return bytes(data[off:end]) if end > off else None


def _chain(data: _Buf, start: int, end: str, work: _Work | None = None) -> _Chain | None:
    """The verneed records from `start`: [(vn_file, [(vna_hash, vna_flags, vna_name)])], None if malformed."""
    out: list[tuple[int, list[tuple[int, int, int]]]] = []
    pos = start
    for _ in range(_MAX_VERNEED):
        if work is not None:
            work.spend()
        if pos + 16 > len(data):
            return None
        version, cnt, vn_file, vn_aux, vn_next = struct.unpack_from(end + "HHIII", data, pos)
        if version != 1 or not 1 <= cnt <= _MAX_AUX or vn_aux < 16:
            return None
        auxes: list[tuple[int, int, int]] = []
        apos = pos + vn_aux
        for i in range(cnt):
            if work is not None:
                work.spend()
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


def _base(data: _Buf, chain: _Chain, work: _Work, near: int) -> int | None:
    """The string-table offset at which every record's name hashes to its `vna_hash`, if the strings are here.

    A record naming a known version gives the candidates: where that name's string lies, less its offset. The
    strings are looked for backwards from the table at `near` first (linkers put `.dynstr` just before it), then
    after it (where patchelf moves them)."""
    tried = 0
    for _file, auxes in chain:
        for vna_hash, _flags, name_off in auxes:
            name = KNOWN_VERSIONS.get(vna_hash)
            if name is None:
                continue
            needle = b"\x00" + name.encode() + b"\x00"
            seen = False
            for at in itertools.islice(_occurrences(data, needle, near), _MAX_HITS):
                seen = True
                base = at + 1 - name_off
                work.spend(len(chain) + sum(len(group) for _f, group in chain))
                if base >= 0 and _proves(data, chain, base):
                    return base
            if not seen:
                return None  # the names' strings are not here (patchelf moved them past the prefix)
            tried += 1
            if tried >= 3:  # the same base serves every record: a few names settle it
                return None
    return None


def _occurrences(data: _Buf, needle: bytes, near: int) -> Iterator[int]:
    """Where `needle` lies: backwards from `near`, then forwards from it."""
    at = data.rfind(needle, 0, near)
    while at >= 0:
        yield at
        at = data.rfind(needle, 0, at + len(needle) - 1)
    at = data.find(needle, max(0, near - len(needle) + 1))
    while at >= 0:
        yield at
        at = data.find(needle, at + 1)


def _proves(data: _Buf, chain: _Chain, base: int) -> bool:
    for vn_file, auxes in chain:
        lib = _string(data, base + vn_file)
        if lib is None or not _LIB_NAME.match(lib.decode("ascii", "replace")):
            return False
        for vna_hash, _flags, name in auxes:
            text = _string(data, base + name)
            if text is None or elf_hash(text) != vna_hash:
                return False
    return True


def read_version_needs(
    data: _Buf, *, path: str, size: int | None = None, searched: int = 0, quick: bool = False
) -> dict[str, Any] | None:
    """`ElfFacts` fields proven from a prefix of an ELF file (see the module docstring), or None.

    None when the prefix is not ELF or does not (yet) hold a complete, provable version-needs table.
    `searched`: the length of a shorter prefix of the same file already searched in vain; the table is looked
    for only from a little before it (a table cut off by that prefix's end is found whole now).
    `quick`: look only for the record of the machine's base glibc version, which every GCC-built shared object
    on it needs (`__cxa_finalize` from crtbegin); a prefix that may not hold the table yet is searched once,
    not once per known name.
    """
    if len(data) < 64 or data[:4] != _ELF_MAGIC or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    elf_class = 64 if data[4] == 2 else 32
    end = "<" if data[5] == 1 else ">"
    (machine,) = struct.unpack_from(end + "H", data, 18)
    # every linker puts .dynstr and .gnu.version_r in the first loaded segment: nothing is searched past it
    work = _Work()
    try:
        seeds = (_BASE_VERSION[machine],) if quick and machine in _BASE_VERSION else _SEEDS
        found = _locate(data, end, work, max(0, searched - _OVERLAP), seeds)
        chain = found[0] if found is not None else None
        base = _base(data, found[0], work, found[1]) if found is not None else None
    except _Exhausted:
        return None  # hostile or unusual data: nothing is claimed
    if chain is None:
        return None
    if base is None:
        # no strings to prove the table by: two records must carry hashes of known version names
        if sum(1 for _file, group in chain for h, _f, _n in group if h in KNOWN_VERSIONS) < 2:
            return None
        return _hash_fields(chain, path=path, size=size, elf_class=elf_class, machine=machine)
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


def _known_names() -> dict[int, str]:
    glibc = ["2.0", "2.1", "2.1.1", "2.1.2", "2.1.3", "2.2", *(f"2.2.{i}" for i in range(1, 7)), "2.3"]
    glibc += ["2.3.2", "2.3.3", "2.3.4", *(f"2.{i}" for i in range(4, 46))]
    names = [f"GLIBC_{v}" for v in glibc]
    names += ["GLIBCXX_3.4", *(f"GLIBCXX_3.4.{i}" for i in range(1, 36))]
    names += ["CXXABI_1.3", *(f"CXXABI_1.3.{i}" for i in range(1, 17)), "CXXABI_TM_1", "CXXABI_FLOAT128"]
    gcc = ["3.0", "3.3", "3.3.1", "3.4", "3.4.2", "3.4.4", "4.0.0", "4.2.0", "4.3.0", "4.4.0", "4.5.0", "4.6.0"]
    gcc += ["4.7.0", "4.8.0", "7.0.0", "12.0.0", "13.0.0", "14.0.0"]
    names += [f"GCC_{v}" for v in gcc]
    table = {elf_hash(n.encode()): n for n in names}
    assert len(table) == len(names)  # no two known names share a hash
    return table


#: ELF hash -> version name, for the toolchain's version names (glibc, libstdc++, libgcc)
KNOWN_VERSIONS = _known_names()
#: the names whose hashes are looked for: the baselines almost every object needs
_SEEDS = ("GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.14", "GLIBC_2.3.4", "GLIBC_2.4", "GLIBCXX_3.4", "CXXABI_1.3")
#: e_machine -> the glibc base version of that architecture (x86_64, aarch64); others look for every seed
_BASE_VERSION = {62: "GLIBC_2.2.5", 183: "GLIBC_2.17"}
#: the library a record group is named after when its file name is not readable
_FAMILY = (("GLIBCXX_", "libstdc++.so.6"), ("CXXABI_", "libstdc++.so.6"), ("GCC_", "libgcc_s.so.1"))


def base_version_name(data: _Buf) -> bytes | None:
    """The glibc base version every GCC-built object of this ELF prefix's machine needs (b'GLIBC_2.2.5'), if known."""
    if len(data) < 20 or data[:4] != _ELF_MAGIC or data[5] not in (1, 2):
        return None
    (machine,) = struct.unpack_from("<H" if data[5] == 1 else ">H", data, 18)
    name = _BASE_VERSION.get(machine)
    return name.encode() if name else None


def _locate(
    data: _Buf, end: str, work: _Work, start: int = 0, seeds: tuple[str, ...] = _SEEDS
) -> tuple[_Chain, int] | None:
    """The version-needs table and where it was hit: a record carrying the hash of a common version name leads to
    its verneed record, and the records before it are followed back to the table's start. Hits are looked for
    from `start` on."""
    by_name = {v: k for k, v in KNOWN_VERSIONS.items()}
    for seed in seeds:
        needle = struct.pack(end + "I", by_name[seed])
        at = data.find(needle, start)
        tries = 0
        while at >= 0 and tries < _MAX_HITS:
            tries += 1
            chain = _chain_around(data, at, end, work) if at % 4 == 0 and _aux_like(data, at, end) else None
            if chain is not None:
                return chain, at
            at = data.find(needle, at + 1)
    return None


def _aux_like(data: _Buf, at: int, end: str) -> bool:
    """Whether the 16 bytes at `at` can be an auxiliary record (as `_chain` checks them): most hits of a hash's
    four bytes in a prefix are not, and are dropped before any record before them is looked at."""
    if at + 16 > len(data):
        return False
    _hash, flags, other, _name, nxt = struct.unpack_from(end + "IHHII", data, at)
    return not flags & ~_VER_FLG_WEAK and 2 <= other < 0x8000 and (nxt == 0 or nxt >= 16)


def _chain_around(data: _Buf, at: int, end: str, work: _Work) -> _Chain | None:
    """The table holding the auxiliary record at `at`: found from the verneed record whose chain reaches it.

    GNU ld and gold put each verneed record right before its auxiliaries; lld writes all verneed records first,
    then all auxiliaries. Either way the record lies a whole number of 16-byte records before `at`."""
    for k in range(1, _MAX_VERNEED + _MAX_AUX_BACK + 1):
        work.spend()
        head = at - 16 * k
        if head < 0:
            return None
        version, cnt, _file, vn_aux, _next = struct.unpack_from(end + "HHIII", data, head)
        if version != 1 or not 1 <= cnt <= _MAX_AUX or vn_aux < 16 or head + vn_aux > at:
            continue
        if not _reaches(data, head + vn_aux, cnt, at, end, work):
            continue
        chain = _chain(data, _table_start(data, head, end, work), end, work)
        if chain and _distinct(chain):
            return chain
    return None


def _reaches(data: _Buf, apos: int, cnt: int, at: int, end: str, work: _Work) -> bool:
    """Whether the chain of `cnt` auxiliary records from `apos` passes through `at`."""
    for _ in range(cnt):
        work.spend()
        if apos == at:
            return True
        if apos > at or apos + 16 > len(data):
            return False
        (nxt,) = struct.unpack_from(end + "I", data, apos + 12)
        if nxt < 16:
            return False
        apos += nxt
    return False


def _distinct(chain: _Chain) -> bool:
    """Distinct names within each library's records, and at least one record that names a known version."""
    known = any(h in KNOWN_VERSIONS for _file, group in chain for h, _f, _n in group)
    return known and all(len({n for _h, _f, n in group}) == len(group) for _file, group in chain)


def _hash_fields(chain: _Chain, *, path: str, size: int | None, elf_class: int, machine: int) -> dict[str, Any]:
    needs: dict[str, set[str]] = {}
    weak: dict[str, set[str]] = {}
    for _file, group in chain:
        known = [(KNOWN_VERSIONS[h], f) for h, f, _n in group if h in KNOWN_VERSIONS]
        if not known:
            continue
        first = known[0][0]
        lib = next((name for prefix, name in _FAMILY if first.startswith(prefix)), "glibc")
        for name, flags in known:
            (weak if flags & _VER_FLG_WEAK else needs).setdefault(lib, set()).add(name)
    return {
        "path": path,
        "size": size,
        "elf_class": elf_class,
        "machine": MACHINES.get(machine, f"em_{machine}"),
        "needed": (),
        "version_needs": {k: tuple(sorted(v)) for k, v in needs.items()},
        "weak_version_needs": {k: tuple(sorted(v)) for k, v in weak.items()},
    }


def _table_start(data: _Buf, head: int, end: str, work: _Work) -> int:
    """Follow verneed records back from `head` while a record ends exactly where the next one starts."""
    for _ in range(_MAX_VERNEED):
        prev = _previous(data, head, end, work)
        if prev is None:
            return head
        head = prev
    return head


def _previous(data: _Buf, head: int, end: str, work: _Work) -> int | None:
    """The verneed record that ends where `head` starts: right before it (lld's layout), or before the
    auxiliaries that follow it (GNU ld's)."""
    for cnt in range(_MAX_AUX_BACK + 1):
        work.spend()
        prev = head - 16 - 16 * cnt
        if prev < 0:
            return None
        version, pcnt, _file, vn_aux, vn_next = struct.unpack_from(end + "HHIII", data, prev)
        if version != 1 or vn_next != head - prev or not 1 <= pcnt <= _MAX_AUX:
            continue
        if (cnt == 0 and vn_aux >= 32) or (cnt > 0 and pcnt == cnt and vn_aux == 16):
            return prev
    return None


def first_load_end(data: _Buf) -> int | None:
    """Where the first read-only (neither writable nor executable) PT_LOAD segment ends, if known.

    `.dynstr` and `.gnu.version_r` lie there: in the first segment of GNU ld's and lld's layouts, and in the
    segment patchelf adds behind a stub for small files.
    """
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
            p_type, flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(end + "IIQQQQ", data, at)
        else:
            p_type, p_offset, _va, _pa, p_filesz, _mem, flags = struct.unpack_from(end + "IIIIIII", data, at)
        read_only = flags & 0x3 == 0  # neither PF_X (1) nor PF_W (2)
        if p_type == 1 and read_only and (first is None or p_offset < first[0]):
            first = (p_offset, p_offset + p_filesz)
    return first[1] if first is not None else None
