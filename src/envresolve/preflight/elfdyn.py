"""What the dynamic loader reads from a shared object: dynamic section, symbol versions, exported symbols.

`envresolve.binary.elf` reads the facts that describe an artifact (`ElfFacts`); the loader emulation needs a
few things that model does not carry: the binding and version of each dynamic symbol, and lookups by name in
libraries with hundreds of thousands of symbols. This module answers those with the object's own hash tables
(`.gnu.hash`, else `.hash`) over a read-only memory map, so no symbol table is ever held in Python memory.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from envresolve._input import open_fd

__all__ = ["MACHINES", "DynInfo", "DynObject", "ElfFormatError", "UndefinedSymbol", "is_elf", "read_dyninfo"]

MACHINES = {3: "i686", 62: "x86_64", 183: "aarch64", 21: "ppc64le", 40: "armv7l", 243: "riscv64", 22: "s390x"}

_SHT_HASH = 5
_SHT_DYNAMIC = 6
_SHT_DYNSYM = 11
_SHT_GNU_HASH = 0x6FFFFFF6
_SHT_GNU_VERDEF = 0x6FFFFFFD
_SHT_GNU_VERNEED = 0x6FFFFFFE
_SHT_GNU_VERSYM = 0x6FFFFFFF
_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 14, 15, 29
_VER_FLG_BASE, _VER_FLG_WEAK = 1, 2
_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE = 1, 2, 10
_STT_SECTION, _STT_FILE = 3, 4
_STV_HIDDEN, _STV_INTERNAL = 2, 1
_SHN_UNDEF = 0
#: bound on version definition/need records walked (real objects have tens; a hostile one could loop)
_MAX_VERSION_ENTRIES = 4096


class ElfFormatError(Exception):
    """The object is truncated or inconsistent (the loader would refuse it too)."""


@dataclass(frozen=True)
class UndefinedSymbol:
    """A dynamic symbol an object needs from elsewhere."""

    name: str
    version: str | None  # e.g. GLIBCXX_3.4.21, from the object's version needs
    file: str | None  # the DT_VERNEED file the version comes from, e.g. libstdc++.so.6
    weak: bool


@dataclass(frozen=True)
class DynInfo:
    """The loader-relevant header facts of one ELF object."""

    path: str
    elf_class: int
    machine: str
    kind: str  # "dyn" or "exec" or "other"
    soname: str | None = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    version_needs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    weak_version_needs: frozenset[str] = frozenset()
    version_defs: tuple[str, ...] = ()
    has_symbols: bool = False


def is_elf(head: bytes) -> bool:
    """True for the ELF magic."""
    return head[:4] == b"\x7fELF"


@dataclass
class _Section:
    type: int
    offset: int
    size: int
    link: int
    entsize: int


class DynObject:
    """A shared object opened read-only and memory-mapped. Use as a context manager or call `close()`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        fd, st = open_fd(self.path)  # a regular file only: a FIFO or /dev/zero named lib*.so is SpecialFileError
        self._fh: BinaryIO | None = os.fdopen(fd, "rb")
        try:
            size = st.st_size
            if size < 4 or not is_elf(self._fh.read(4)):
                raise ElfFormatError("not an ELF file")
            if size < 64:
                raise ElfFormatError("shorter than an ELF header")
            self._mm: mmap.mmap | None = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
            self._parse()
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Unmap and close the file."""
        mm = getattr(self, "_mm", None)
        if mm is not None:
            mm.close()
            self._mm = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> DynObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parsing -----------------------------------------------------------------------------------------
    @property
    def mm(self) -> mmap.mmap:
        if self._mm is None:
            raise ValueError("closed")
        return self._mm

    def _unpack(self, fmt: str, off: int) -> tuple[int, ...]:
        st = struct.Struct(self._end + fmt)
        if off < 0 or off + st.size > len(self.mm):
            raise ElfFormatError(f"read beyond end of file at offset {off}")
        return st.unpack_from(self.mm, off)

    def _cstr(self, off: int) -> str:
        mm = self.mm
        if off < 0 or off >= len(mm):
            raise ElfFormatError(f"string offset {off} beyond end of file")
        end = mm.find(b"\0", off)
        if end < 0:
            raise ElfFormatError("unterminated string")
        return mm[off:end].decode("utf-8", "surrogateescape")

    def _parse(self) -> None:
        mm = self.mm
        if not is_elf(mm[:4]):
            raise ElfFormatError("not an ELF file")
        cls, data = mm[4], mm[5]
        if cls not in (1, 2) or data not in (1, 2):
            raise ElfFormatError("bad ELF class or data encoding")
        self.elf_class = 32 if cls == 1 else 64
        self._end = "<" if data == 1 else ">"
        self._w = "Q" if cls == 2 else "I"
        (e_type, e_machine) = self._unpack("HH", 16)
        self.kind = {3: "dyn", 2: "exec"}.get(e_type, "other")
        mach = MACHINES.get(e_machine, f"machine-{e_machine}")
        if e_machine == 21 and data == 2:
            mach = "ppc64"
        self.machine = mach
        if cls == 2:
            (shoff,) = self._unpack("Q", 0x28)
            shentsize, shnum, shstrndx = self._unpack("HHH", 0x3A)
            shfmt = "IIQQQQIIQQ"
        else:
            (shoff,) = self._unpack("I", 0x20)
            shentsize, shnum, shstrndx = self._unpack("HHH", 0x2E)
            shfmt = "IIIIIIIIII"
        self.sections: list[_Section] = []
        if shoff and shnum:
            if shoff + shnum * shentsize > len(mm):
                raise ElfFormatError("section headers beyond end of file")
            for i in range(shnum):
                _n, typ, _f, _a, off, size, link, _i, _al, ent = self._unpack(shfmt, shoff + i * shentsize)
                if typ not in (8,) and size and off + size > len(mm):  # SHT_NOBITS (8) has no file bytes
                    raise ElfFormatError(f"section {i} beyond end of file")
                self.sections.append(_Section(typ, off, size, link, ent))
        del shstrndx
        self._by_type = {s.type: s for s in reversed(self.sections)}

    def _section(self, typ: int) -> _Section | None:
        return self._by_type.get(typ)

    def _strtab_of(self, sec: _Section) -> _Section:
        if not 0 <= sec.link < len(self.sections):
            raise ElfFormatError("bad section link")
        return self.sections[sec.link]

    def info(self) -> DynInfo:
        """Dynamic section and version facts (read once, then remembered)."""
        cached: DynInfo | None = getattr(self, "_info", None)
        if cached is None:
            cached = self._info = self._read_info()
        return cached

    def _read_info(self) -> DynInfo:
        soname: str | None = None
        needed: list[str] = []
        rpath: list[str] = []
        runpath: list[str] = []
        dyn = self._section(_SHT_DYNAMIC)
        if dyn is not None:
            strtab = self._strtab_of(dyn)
            entfmt = "qQ" if self.elf_class == 64 else "iI"
            entsize = 16 if self.elf_class == 64 else 8
            for i in range(dyn.size // entsize):
                tag, val = self._unpack(entfmt, dyn.offset + i * entsize)
                if tag == 0:
                    break
                if tag in (_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH):
                    s = self._cstr(strtab.offset + val)
                    if tag == _DT_NEEDED:
                        needed.append(s)
                    elif tag == _DT_SONAME:
                        soname = s
                    elif tag == _DT_RPATH:
                        rpath.extend(p for p in s.split(":") if p)
                    else:
                        runpath.extend(p for p in s.split(":") if p)
        needs, weak = self._verneed()
        return DynInfo(
            path=self.path,
            elf_class=self.elf_class,
            machine=self.machine,
            kind=self.kind,
            soname=soname,
            needed=tuple(needed),
            rpath=tuple(rpath),
            runpath=tuple(runpath),
            version_needs={f: tuple(v for v, _ in vs) for f, vs in needs.items()},
            weak_version_needs=frozenset(weak),
            version_defs=tuple(name for idx, name in sorted(self._verdef().items()) if idx > 1),
            has_symbols=self._section(_SHT_DYNSYM) is not None,
        )

    def _verdef(self) -> dict[int, str]:
        """Version index -> name for the versions this object defines (index 1 is the base: the soname)."""
        cached: dict[int, str] | None = getattr(self, "_verdef_cache", None)
        if cached is not None:
            return cached
        out: dict[int, str] = {}
        sec = self._section(_SHT_GNU_VERDEF)
        if sec is not None:
            strtab = self._strtab_of(sec)
            off = sec.offset
            for _ in range(_MAX_VERSION_ENTRIES):
                _ver, _flags, ndx, cnt, _h, aux, nxt = self._unpack("HHHHIII", off)
                if cnt:
                    (name_off, _anext) = self._unpack("II", off + aux)
                    out[ndx] = self._cstr(strtab.offset + name_off)
                if not nxt:
                    break
                off += nxt
        self._verdef_cache = out
        return out

    def _verneed(self) -> tuple[dict[str, list[tuple[str, int]]], set[str]]:
        """File -> [(version, index)] needed, and the set of weak version needs."""
        cached = getattr(self, "_verneed_cache", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        out: dict[str, list[tuple[str, int]]] = {}
        weak: set[str] = set()
        sec = self._section(_SHT_GNU_VERNEED)
        if sec is not None:
            strtab = self._strtab_of(sec)
            off = sec.offset
            for _ in range(_MAX_VERSION_ENTRIES):
                _ver, cnt, file_off, aux, nxt = self._unpack("HHIII", off)
                fname = self._cstr(strtab.offset + file_off)
                aoff = off + aux
                for _j in range(min(cnt, _MAX_VERSION_ENTRIES)):
                    _h, flags, other, name_off, anext = self._unpack("IHHII", aoff)
                    vname = self._cstr(strtab.offset + name_off)
                    out.setdefault(fname, []).append((vname, other))
                    if flags & _VER_FLG_WEAK:
                        weak.add(vname)
                    if not anext:
                        break
                    aoff += anext
                if not nxt:
                    break
                off += nxt
        self._verneed_cache = (out, weak)
        return out, weak

    # -- symbols -----------------------------------------------------------------------------------------
    def _symfmt(self) -> tuple[str, int]:
        return ("IBBHQQ", 24) if self.elf_class == 64 else ("IIIBBH", 16)

    def _sym(self, symtab: _Section, i: int) -> tuple[int, int, int, int]:
        """(name offset, info, other, shndx) of dynamic symbol i."""
        fmt, size = self._symfmt()
        vals = self._unpack(fmt, symtab.offset + i * size)
        if self.elf_class == 64:
            return vals[0], vals[1], vals[2], vals[3]
        return vals[0], vals[3], vals[4], vals[5]

    def _versym(self, i: int) -> int | None:
        sec = self._section(_SHT_GNU_VERSYM)
        if sec is None:
            return None
        (v,) = self._unpack("H", sec.offset + 2 * i)
        return int(v)

    def undefined_symbols(self) -> Iterator[UndefinedSymbol]:
        """Stream the undefined global dynamic symbols with their versions."""
        symtab = self._section(_SHT_DYNSYM)
        if symtab is None:
            return
        strtab = self._strtab_of(symtab)
        needs, weak_versions = self._verneed()
        by_index = {idx: (v, f) for f, vs in needs.items() for v, idx in vs}
        _fmt, size = self._symfmt()
        for i in range(1, symtab.size // size):
            name_off, info, _other, shndx = self._sym(symtab, i)
            bind = info >> 4
            if shndx != _SHN_UNDEF or bind not in (_STB_GLOBAL, _STB_WEAK) or not name_off:
                continue
            vs = self._versym(i)
            version = file = None
            if vs is not None and (vs & 0x7FFF) > 1:
                version, file = by_index.get(vs & 0x7FFF, (None, None))
            yield UndefinedSymbol(
                name=self._cstr(strtab.offset + name_off),
                version=version,
                file=file,
                weak=bind == _STB_WEAK or (version is not None and version in weak_versions),
            )

    def exports(self, name: str, version: str | None = None) -> bool:
        """True when the object defines `name` as a visible global or weak symbol (with `version` if given).

        An unversioned reference binds to any non-hidden definition; a versioned one needs that exact version.
        """
        symtab = self._section(_SHT_DYNSYM)
        if symtab is None:
            return False
        strtab = self._strtab_of(symtab)
        raw = name.encode("utf-8", "surrogateescape")
        for i in self._candidates(raw, symtab):
            name_off, info, other, shndx = self._sym(symtab, i)
            if shndx == _SHN_UNDEF or info >> 4 not in (_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE):
                continue
            if info & 0xF in (_STT_SECTION, _STT_FILE) or other & 0x3 in (_STV_HIDDEN, _STV_INTERNAL):
                continue
            if self._name_at(strtab.offset + name_off, raw) is False:
                continue
            vs = self._versym(i)
            if version is None:
                if vs is None or not vs & 0x8000:
                    return True
                continue
            if vs is not None and self._verdef().get(vs & 0x7FFF) == version:
                return True
        return False

    def _name_at(self, off: int, raw: bytes) -> bool:
        mm = self.mm
        end = off + len(raw)
        return end < len(mm) and mm[off:end] == raw and mm[end] == 0

    def _candidates(self, raw: bytes, symtab: _Section) -> Iterator[int]:
        """Symbol indexes that may be `raw`, from the GNU hash table, the SysV hash table or a full scan."""
        gh = self._section(_SHT_GNU_HASH)
        if gh is not None:
            yield from self._gnu_candidates(raw, gh, symtab)
            return
        sh = self._section(_SHT_HASH)
        if sh is not None:
            nbucket, _nchain = self._unpack("II", sh.offset)
            h = 0
            for c in raw:
                h = ((h << 4) + c) & 0xFFFFFFFF
                g = h & 0xF0000000
                if g:
                    h ^= g >> 24
                h &= ~g & 0xFFFFFFFF
            (i,) = self._unpack("I", sh.offset + 8 + 4 * (h % nbucket)) if nbucket else (0,)
            seen = 0
            nsyms = symtab.size // self._symfmt()[1]
            while i and seen < nsyms:
                yield i
                (i,) = self._unpack("I", sh.offset + 8 + 4 * nbucket + 4 * i)
                seen += 1
            return
        _fmt, size = self._symfmt()
        yield from range(1, symtab.size // size)

    def _gnu_candidates(self, raw: bytes, gh: _Section, symtab: _Section) -> Iterator[int]:
        nbuckets, symoffset, bloom_size, _shift = self._unpack("IIII", gh.offset)
        if not nbuckets:
            return
        h = 5381
        for c in raw:
            h = (h * 33 + c) & 0xFFFFFFFF
        word = 8 if self.elf_class == 64 else 4
        buckets = gh.offset + 16 + bloom_size * word
        chains = buckets + 4 * nbuckets
        (i,) = self._unpack("I", buckets + 4 * (h % nbuckets))
        if i < symoffset:
            return
        nsyms = symtab.size // self._symfmt()[1]
        while i < nsyms:
            (h2,) = self._unpack("I", chains + 4 * (i - symoffset))
            if (h | 1) == (h2 | 1):
                yield i
            if h2 & 1:
                return
            i += 1


def read_dyninfo(path: str | os.PathLike[str]) -> DynInfo:
    """Open, read the loader facts and close. Raises `ElfFormatError` or `OSError`."""
    with DynObject(path) as obj:
        return obj.info()
