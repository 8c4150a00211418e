"""The one ELF reader, with two views over one naming of machines and classes (`machine_name`):

- the streaming facts view (`read_elf`, `read_elf_file`): the `ElfFacts` of an object read in one streaming
  pass with bounded memory, from a wheel member, a remote range or a file; hostile input gives BN1xx
  diagnostics and partial facts, never an exception;
- the symbol-lookup view (`DynObject`, `read_dyninfo`): a memory-mapped object whose dynamic symbols (defined
  and undefined, with their versions), RPATH/RUNPATH, SONAME, version needs and definitions the loader
  emulation of prefix checks and the node probe (libstdc++'s version definitions) look up; a malformed object
  raises `ElfFormatError`.

Route of the streaming view:

1. ELF header and program headers from the start of the stream.
2. Retain two windows of bytes while the stream passes: the start of the file up to the end of the first
   PT_LOAD (which holds `.dynsym`, `.dynstr`, `.gnu.hash`, `.gnu.version*` in every linker layout seen;
   capped at `PREFIX_RETAIN`), and the PT_LOAD segment holding PT_DYNAMIC up to its end (capped at
   `DYNSEG_RETAIN`; patchelf puts a moved `.dynstr` there).
3. When the stream passes the end of PT_DYNAMIC, parse it, map DT_STRTAB/DT_VERNEED/... virtual addresses
   to file offsets through PT_LOAD, and read the tables from the retained windows. Tables that lie later in
   the file (patchelf moves `.dynstr` to the end) are captured when the stream gets there. Tables that lay
   earlier but were not retained are read in a second pass from `reopen()`, which only copies those ranges.
4. Meanwhile every chunk inside a non-writable PT_LOAD is searched for CUDA fatbinary containers
   (`FatbinScanner`) and for the static CUDA runtime's marker string: two C-level searches per chunk.
5. Only when containers were found: the section header table (`e_shoff`, usually at the very end) and
   `.shstrtab` (GNU ld: just before it, kept by a tail window; lld: before `.strtab`, kept by a window around
   its own name `.shstrtab` seen behind the loaded segments) are captured as the stream passes them, to tell
   `.nv_fatbin` (device code the driver loads) from `__nv_relfatbin` (relocatable device code kept for a later
   device link with `nvcc -rdc=true`; the driver never loads it, so it counts toward no SASS/PTX coverage).
   Without readable section headers (stripped with `sstrip`, or hostile) every container counts as loadable
   and BN111 says so.
6. The stream is left as soon as everything is in hand: `.dynamic` and the tables it points at, the end of
   the last read-only segment (the fatbin search), and, when containers were found, the section headers.
   The rest of a big object (`.symtab`/`.strtab` of unstripped objects, debug info) is never inflated. Streams
   with less than `EARLY_STOP_MIN` bytes left are read to their end (the archive readers check every byte of
   a small member against its declared size).

Hostile input yields BN1xx diagnostics and partial facts, never an exception: every count, offset and
linked list is bounded (see the `MAX_*` constants).
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from envresolve.binary.cxxabi import CxxAbi, cxx_abi_flavour
from envresolve.binary.fatbin import FatbinScanner

if TYPE_CHECKING:  # pydantic models are imported when first built (see `read_elf_fields`)
    from envresolve.binary.model import ElfFacts
    from envresolve.diagnostics import Diagnostic

__all__ = [
    "COUNTERS",
    "TAG_ARCH_MACHINES",
    "DynInfo",
    "DynObject",
    "ElfFormatError",
    "UndefinedSymbol",
    "elf_facts",
    "elf_hash",
    "is_elf_magic",
    "machine_name",
    "read_dyninfo",
    "read_elf",
    "read_elf_fields",
    "read_elf_file",
]

ELF_MAGIC = b"\x7fELF"

#: bytes retained from the start of the file (the first PT_LOAD, capped)
PREFIX_RETAIN = 32 * 1024 * 1024
#: bytes retained of the segment holding PT_DYNAMIC (up to the end of PT_DYNAMIC)
DYNSEG_RETAIN = 8 * 1024 * 1024
#: bytes captured per pass for tables that are not in the retained windows
CAPTURE_LIMIT = 96 * 1024 * 1024
MAX_PHNUM = 4096
MAX_DYN = 65536
MAX_VERSION_RECORDS = 65536
MAX_SYMBOLS = 4_000_000
MAX_STRTAB = 128 * 1024 * 1024
MAX_NAME = 64 * 1024
MAX_PASSES = 3
#: the ELF and program headers must lie within this many bytes of the start
HEAD_LIMIT = 1024 * 1024
#: bytes read for a linked version table (verneed/verdef): the records and their aux chains
TABLE_SPAN = 4 * 1024 * 1024
#: section headers read at most (extended numbering, e_shnum 0, is not followed: BN111 fallback)
MAX_SHNUM = 65535
#: bytes retained before the section header table, where GNU ld puts `.shstrtab`
SHSTR_TAIL = 64 * 1024
#: bytes retained either side of a `.shstrtab\0` seen behind the loaded segments (lld puts `.strtab` between
#: `.shstrtab` and the section headers); at most `MAX_SHSTR_GUESSES` such windows per file
SHSTR_AROUND = 64 * 1024
MAX_SHSTR_GUESSES = 4
_SHSTR_NAME = b".shstrtab\0"
MAX_SHSTRTAB = 1024 * 1024
#: leave a stream early only when at least this many bytes would be skipped
EARLY_STOP_MIN = 1024 * 1024
RELFATBIN = b"__nv_relfatbin"
SHT_NOBITS = 8
#: every CUDA runtime (static or shared) carries the cudaGetErrorString text for cudaErrorInsufficientDriver
CUDART_MARKER = b"CUDA driver version is insufficient for CUDA runtime version"

#: e_machine -> name: the one naming of machines for both views (ppc64 is "ppc64le" when little-endian)
_MACHINES = {
    2: "sparc",
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    43: "sparcv9",
    50: "ia64",
    62: "x86_64",
    183: "aarch64",
    190: "cuda",
    243: "riscv",
    258: "loongarch",
}
#: the machine name each platform-tag architecture (wheel tags, conda subdirs, `uname -m`) runs
TAG_ARCH_MACHINES: dict[str, str] = {
    "x86_64": "x86_64",
    "i686": "i386",
    "aarch64": "aarch64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv",
}


def machine_name(e_machine: int, little_endian: bool) -> str:
    """The name of an ELF `e_machine` (with the byte order, which tells ppc64le from ppc64), e.g. 'x86_64'."""
    if e_machine == 21 and little_endian:
        return "ppc64le"
    return _MACHINES.get(e_machine, f"em_{e_machine}")


PT_LOAD, PT_DYNAMIC = 1, 2
PF_X, PF_W = 1, 2
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 4, 5, 6
DT_STRSZ, DT_SYMENT, DT_SONAME, DT_RPATH, DT_RUNPATH = 10, 11, 14, 15, 29
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM = 0x6FFFFFF0
DT_VERDEF, DT_VERDEFNUM = 0x6FFFFFFC, 0x6FFFFFFD
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
VER_FLG_WEAK = 2
_DT_ADDR = (DT_STRTAB, DT_SYMTAB, DT_HASH, DT_GNU_HASH, DT_VERSYM, DT_VERDEF, DT_VERNEED)
#: process-wide counters (how often a second pass was needed); tests and benchmarks read them
COUNTERS: Counter[str] = Counter()
_CUDART_RE = re.compile(r"^libcudart\.so(?:\.(\d+))?")


def _ehdr(head: bytes | bytearray | memoryview | mmap.mmap, is64: bool, e: str) -> tuple[int, ...]:
    """The ELF header after `e_ident`: (e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags,
    e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx). The caller checks the length first."""
    return struct.unpack_from(e + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH"), head, 16)


def is_elf_magic(head: bytes | bytearray | memoryview) -> bool:
    """True when the bytes start with the ELF magic `\\x7fELF`."""
    return bytes(head[:4]) == ELF_MAGIC


class _Missing(Exception):
    """A table lies in bytes not yet available; carries the file range."""

    def __init__(self, off: int, length: int) -> None:
        super().__init__(off, length)
        self.off = off
        self.length = length


class _Stop(Exception):
    """Reading cannot continue; the diagnostic is already recorded."""


@dataclass
class _Window:
    start: int
    end: int
    buf: bytearray = field(default_factory=bytearray)
    sh: bool = False  # section headers / names: needed only when fatbin containers were found

    def take(self, pos: int, chunk: memoryview) -> None:
        """Copy the part of `chunk` (which starts at file offset `pos`) that falls inside the window."""
        have = self.start + len(self.buf)
        lo, hi = max(have, pos), min(self.end, pos + len(chunk))
        if lo < hi and lo == have:
            self.buf += chunk[lo - pos : hi - pos]

    def get(self, off: int, length: int) -> memoryview | None:
        if off >= self.start and off + length <= self.start + len(self.buf):
            return memoryview(self.buf)[off - self.start : off - self.start + length]
        return None


@dataclass
class _Layout:
    cls: int
    le: bool
    machine: str
    phoff: int
    phnum: int
    phentsize: int
    loads: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # (vaddr, memsz, off, filesz, flags)
    dynamic: tuple[int, int] | None = None  # (offset, size)
    shoff: int = 0
    shnum: int = 0
    shentsize: int = 0
    shstrndx: int = 0
    ph_rejected: bool = False  # the program header table was unusable (already diagnosed)

    @property
    def end(self) -> str:
        return "<" if self.le else ">"

    def to_off(self, vaddr: int, length: int) -> int | None:
        for va, _msz, off, fsz, _fl in self.loads:
            if va <= vaddr and vaddr + length <= va + fsz:
                return vaddr - va + off
        return None

    def segment_end(self, off: int) -> int:
        for _va, _msz, o, fsz, _fl in self.loads:
            if o <= off < o + fsz:
                return o + fsz
        return off

    def load_end(self) -> int:
        return max((o + fsz for _va, _m, o, fsz, _f in self.loads), default=0)


class _Reader:
    def __init__(self, path: str, size: int | None, symbols: bool) -> None:
        self.path = path
        self.size = size
        self.symbols = symbols
        self.diags: list[Diagnostic] = []
        self._seen_codes: set[tuple[str, str]] = set()
        self.layout: _Layout | None = None
        self.windows: list[_Window] = []
        self.pos = 0
        self.dyn_entries: list[tuple[int, int]] | None = None
        self.scanner: FatbinScanner | None = None
        self.cudart_marker = False
        self._marker_tail = b""
        self.scan_ranges: list[tuple[int, int]] = []
        self.passes = 1
        self.sh_window: _Window | None = None
        self._load_end = 1 << 62
        self._prev: tuple[int, memoryview] | None = None  # the previous chunk (a reference, not a copy)
        self._shstr_guesses = 0
        self._shstr_planned = False
        self._scan_end = 1 << 62
        self.stopped = False  # left the stream early: everything needed was in hand

    # -- diagnostics ---------------------------------------------------------------------------
    def diag(self, code: str, message: str, *evidence: str) -> None:
        key = (code, message)
        if key in self._seen_codes or len(self.diags) >= 64:
            return
        self._seen_codes.add(key)
        from envresolve.diagnostics import make

        self.diags.append(make(code, message, subject=self.path, evidence=list(evidence)))

    # -- pass 1 --------------------------------------------------------------------------------
    def run(self, chunks: Iterable[bytes]) -> bool:
        """Stream the file once. Returns False when the file is not a readable ELF."""
        it = iter(chunks)
        head = bytearray()
        held: list[bytes] = []

        def pull(upto: int) -> None:
            while len(head) < upto:
                c = next(it, None)
                if c is None:
                    return
                if c:
                    held.append(c)
                    head.extend(c[: HEAD_LIMIT - len(head)])

        pull(64)
        if not self._parse_ehdr(head):
            return False
        lay = self.layout
        assert lay is not None
        ph_end = lay.phoff + lay.phnum * lay.phentsize if lay.phnum else 0
        if ph_end > HEAD_LIMIT:
            self.diag(
                "BN103",
                f"program header table at offset {lay.phoff} lies beyond the first {HEAD_LIMIT} bytes; not read",
                f"e_phoff {lay.phoff}",
            )
            lay.phnum, ph_end, lay.ph_rejected = 0, 0, True
        pull(ph_end)
        if len(head) < ph_end:
            self.diag(
                "BN102",
                f"the file ends ({len(head)} bytes) inside its program header table ({lay.phoff}..{ph_end})",
                f"e_phoff {lay.phoff}",
                f"e_phnum {lay.phnum}",
            )
            return False
        self._parse_phdrs(bytes(head[lay.phoff : ph_end]))
        del head[:]
        self._setup()
        for c in held:
            self._chunk(memoryview(c))
        held.clear()
        for c in it:
            if c:
                self._chunk(memoryview(c))
                if self._done():
                    self.stopped = True
                    break
        assert self.scanner is not None
        self.scanner.finish()
        return True

    def _done(self) -> bool:
        """Whether nothing after the current position is needed (see step 6 of the module docstring)."""
        if self.size is None or self.size - self.pos < EARLY_STOP_MIN or self.dyn_entries is None:
            return False
        sc = self.scanner
        assert sc is not None
        if self.pos < self._scan_end or not sc.idle:
            return False
        sw = self.sh_window
        if sc.raw_entries and sw is not None and self.pos >= sw.end:
            where = self.shstrtab_range()
            if where is not None and self._get(*where, sh=True) is not None:  # names in hand: no more guesses
                return all(self.pos >= w.end for w in self.windows if not w.sh)
        # every window filled; the section-header windows matter only when device code was found
        return all(self.pos >= w.end for w in self.windows if sc.raw_entries or not w.sh)

    def _parse_ehdr(self, head: bytearray) -> bool:
        if len(head) < 4 or bytes(head[:4]) != ELF_MAGIC:
            self.diag("BN101", "not an ELF file (no \\x7fELF magic)", f"first bytes {bytes(head[:8])!r}")
            return False
        if len(head) < 52:
            self.diag("BN102", f"the file ends after {len(head)} bytes, inside the ELF header")
            return False
        ei_class, ei_data = head[4], head[5]
        if ei_class not in (1, 2) or ei_data not in (1, 2):
            self.diag("BN101", f"unknown ELF class {ei_class} or byte order {ei_data}")
            return False
        le = ei_data == 1
        e = "<" if le else ">"
        if ei_class == 2:
            if len(head) < 64:
                self.diag("BN102", f"the file ends after {len(head)} bytes, inside the 64-bit ELF header")
                return False
            want_ent = 56
        else:
            want_ent = 32
        (_t, machine, version, _entry, phoff, shoff, _fl, _ehs, phentsize, phnum, *sh) = _ehdr(head, ei_class == 2, e)
        mname = machine_name(machine, le)
        self.layout = _Layout(
            cls=64 if ei_class == 2 else 32, le=le, machine=mname, phoff=phoff, phnum=phnum, phentsize=phentsize
        )
        self.layout.shoff, (self.layout.shentsize, self.layout.shnum, self.layout.shstrndx) = shoff, sh
        if version != 1:
            self.diag("BN109", f"ELF header version {version}, expected 1", f"e_version {version}")
        if phnum == 0:
            return True
        if phentsize != want_ent:
            self.diag(
                "BN109",
                f"program header entry size {phentsize}, expected {want_ent} for ELF{self.layout.cls}",
                f"e_phentsize {phentsize}",
            )
            self.layout.phnum, self.layout.ph_rejected = 0, True
            return True
        if phnum > MAX_PHNUM:
            self.diag("BN104", f"{phnum} program headers declared; reading none", f"e_phnum {phnum}")
            self.layout.phnum, self.layout.ph_rejected = 0, True
            return True
        if self.size is not None and phoff + phnum * phentsize > self.size:
            if phoff < self.size:  # starts inside, ends outside: the file was cut
                self.diag(
                    "BN102",
                    f"the file ends ({self.size} bytes) inside its program header table ({phoff}+{phnum * phentsize})",
                    f"e_phoff {phoff}",
                )
                return False
            self.diag(
                "BN103",
                f"program header table at {phoff} (+{phnum * phentsize}) lies outside the file of {self.size} bytes",
                f"e_phoff {phoff}",
            )
            self.layout.phnum, self.layout.ph_rejected = 0, True
        return True

    def _parse_phdrs(self, data: bytes) -> None:
        lay = self.layout
        assert lay is not None
        e = lay.end
        fmt = e + ("IIQQQQQQ" if lay.cls == 64 else "IIIIIIII")
        for i in range(lay.phnum):
            if lay.cls == 64:
                p_type, p_flags, p_off, p_va, _pa, p_fsz, p_msz, _al = struct.unpack_from(fmt, data, i * 56)
            else:
                p_type, p_off, p_va, _pa, p_fsz, p_msz, p_flags, _al = struct.unpack_from(fmt, data, i * 32)
            if p_type == PT_LOAD:
                lay.loads.append((p_va, p_msz, p_off, p_fsz, p_flags))
            elif p_type == PT_DYNAMIC and lay.dynamic is None:
                lay.dynamic = (p_off, p_fsz)

    def _setup(self) -> None:
        lay = self.layout
        assert lay is not None
        if lay.loads:
            first = min(lay.loads, key=lambda s: s[2])
            self.windows.append(_Window(0, min(first[2] + first[3], PREFIX_RETAIN)))
        else:
            self.windows.append(_Window(0, min(64 * 1024, PREFIX_RETAIN)))
        if lay.dynamic is not None:
            doff, dsz = lay.dynamic
            dend = doff + dsz
            if self.size is not None and dend > self.size:
                # segments that end past the file's end mean the file was cut; otherwise the header lies
                cut = lay.load_end() > self.size or doff < self.size
                self.diag(
                    "BN102" if cut else "BN103",
                    f"PT_DYNAMIC ({doff}+{dsz}) lies past the end of the file of {self.size} bytes",
                    f"p_offset {doff}",
                )
                lay.dynamic, lay.ph_rejected = None, True
            else:
                seg_start = doff
                for _va, _m, o, fsz, _f in lay.loads:
                    if o <= doff < o + fsz:
                        seg_start = o
                seg_start = max(seg_start, dend - DYNSEG_RETAIN)
                self.windows.append(_Window(seg_start, dend))
                self._dyn_end = dend
        # .nv_fatbin is read-only data. Linkers that separate code (GNU ld's default since 2.31, lld) put it
        # in a read-only, non-executable PT_LOAD; older layouts put all read-only data in the R+X segment.
        sh_ent = 64 if lay.cls == 64 else 40
        if lay.shoff and lay.shentsize == sh_ent and 0 < lay.shnum <= MAX_SHNUM and lay.shstrndx < lay.shnum:
            sh_end = lay.shoff + lay.shnum * sh_ent
            if self.size is None or sh_end <= self.size:
                self.sh_window = _Window(max(0, lay.shoff - SHSTR_TAIL), sh_end, sh=True)
                self.windows.append(self.sh_window)
            elif lay.load_end() <= self.size:  # a file cut short is BN102, not this
                self.diag(
                    "BN520",
                    "the section header table lies outside the file; not read",
                    f"e_shoff {lay.shoff} + e_shnum {lay.shnum} x {sh_ent} bytes > file size {self.size}",
                )
        ro = [(o, o + fsz) for _va, _m, o, fsz, fl in lay.loads if not fl & PF_W and fsz]
        ro_data = [(o, o + fsz) for _va, _m, o, fsz, fl in lay.loads if not fl & (PF_W | PF_X) and fsz]
        self.scan_ranges = ro_data if len(ro_data) > 1 or (ro_data and len(ro) > len(ro_data)) else ro
        if not lay.loads:
            self.scan_ranges = [(0, 1 << 62)]
        self._scan_end = max((b for _a, b in self.scan_ranges), default=0)
        self._load_end = lay.load_end() if lay.loads else 1 << 62
        if self.size is not None:
            self._scan_end = min(self._scan_end, self.size)
        self.scanner = FatbinScanner(subject=self.path, size=self.size, scan_ranges=self.scan_ranges)

    _dyn_end = -1

    def _chunk(self, mv: memoryview) -> None:
        pos = self.pos
        n = len(mv)
        for w in self.windows:
            if w.start < pos + n and w.end > pos:
                w.take(pos, mv)
        assert self.scanner is not None
        self.scanner.feed(mv)
        if not self.cudart_marker:
            self._find_marker(mv, pos)
        self.pos = pos + n
        if self.dyn_entries is None and 0 <= self._dyn_end <= self.pos:
            # tables from the start of this chunk on can still be captured: the chunk is in hand
            kept = len(self.windows)
            self._parse_dynamic(pos)
            for w in self.windows[kept:]:
                if w.start < pos + n and w.end > pos:
                    w.take(pos, mv)
        if self.scanner.raw_entries and self.sh_window is not None and pos + n > self._load_end:
            self._guess_shstrtab(pos, mv)
        self._prev = (pos, mv)
        sw = self.sh_window
        if sw is not None and not self._shstr_planned and sw.end <= self.pos and self.scanner.raw_entries:
            self._shstr_planned = True
            where = self.shstrtab_range()
            if where is not None and where[0] >= pos and self._get(*where, sh=True) is None:
                # `.shstrtab` after the section headers (unusual): capture it on the way
                w = _Window(where[0], where[0] + where[1], sh=True)
                self.windows.append(w)
                w.take(pos, mv)

    def _guess_shstrtab(self, pos: int, mv: memoryview) -> None:
        """Behind the loaded segments, keep the bytes around each `.shstrtab\0` seen (the section names table
        names itself); the section headers at the end then say which window, if any, holds it."""
        n = len(mv)
        at = _bytes_find(mv, _SHSTR_NAME, max(0, self._load_end - pos), n)
        while at >= 0 and self._shstr_guesses < MAX_SHSTR_GUESSES:
            self._shstr_guesses += 1
            hit = pos + at
            prev = self._prev
            first = prev[0] if prev is not None else pos
            end = hit + SHSTR_AROUND if self.size is None else min(hit + SHSTR_AROUND, self.size)
            w = _Window(max(hit - SHSTR_AROUND, first, self._load_end), end, sh=True)
            if prev is not None and w.start < pos:
                w.take(prev[0], prev[1])
            w.take(pos, mv)
            self.windows.append(w)
            at = _bytes_find(mv, _SHSTR_NAME, at + 1, n)

    def section_headers(self) -> list[tuple[int, int, int, int]] | None:
        """(sh_name, sh_type, sh_offset, sh_size) per section, when the table was captured."""
        lay, w = self.layout, self.sh_window
        if lay is None or w is None:
            return None
        ent = 64 if lay.cls == 64 else 40
        raw = w.get(lay.shoff, lay.shnum * ent)
        if raw is None:
            return None
        if lay.cls == 64:
            return [(r[0], r[1], r[4], r[5]) for r in struct.iter_unpack(lay.end + "IIQQQQIIQQ", raw)]
        return [(r[0], r[1], r[4], r[5]) for r in struct.iter_unpack(lay.end + "IIIIIIIIII", raw)]

    def shstrtab_range(self) -> tuple[int, int] | None:
        secs = self.section_headers()
        lay = self.layout
        if secs is None or lay is None:
            return None
        _n, typ, off, size = secs[lay.shstrndx]
        if typ == SHT_NOBITS or size > MAX_SHSTRTAB or (self.size is not None and off + size > self.size):
            return None
        return off, size

    def _find_marker(self, mv: memoryview, pos: int) -> None:
        n = len(mv)
        for a, b in self.scan_ranges:
            lo, hi = max(a, pos), min(b, pos + n)
            if lo >= hi:
                continue
            if lo == pos and self._marker_tail:
                joined = self._marker_tail + bytes(mv[: len(CUDART_MARKER) - 1])
                if joined.find(CUDART_MARKER) >= 0:
                    self.cudart_marker = True
                    return
            if _bytes_find(mv, CUDART_MARKER, lo - pos, hi - pos) >= 0:
                self.cudart_marker = True
                return
        self._marker_tail = (self._marker_tail + bytes(mv[-(len(CUDART_MARKER) - 1) :]))[-(len(CUDART_MARKER) - 1) :]

    def _parse_dynamic(self, threshold: int) -> None:
        lay = self.layout
        assert lay is not None and lay.dynamic is not None
        doff, dsz = lay.dynamic
        entsize = 16 if lay.cls == 64 else 8
        raw = self._get(doff, dsz)
        self.dyn_entries = []
        if raw is None:
            self.diag("BN108", "the dynamic section was not retained", f"PT_DYNAMIC at {doff}")
            return
        count = dsz // entsize
        if dsz % entsize:
            self.diag("BN109", f"PT_DYNAMIC size {dsz} is not a multiple of {entsize}", f"p_filesz {dsz}")
        if count > MAX_DYN:
            self.diag("BN104", f"{count} dynamic entries declared; reading the first {MAX_DYN}", f"p_filesz {dsz}")
            count = MAX_DYN
        fmt = lay.end + ("QQ" if lay.cls == 64 else "II")
        for tag, val in struct.iter_unpack(fmt, raw[: count * entsize]):
            if tag == DT_NULL:
                break
            self.dyn_entries.append((tag, val))
        self._plan_captures(threshold)

    def _plan_captures(self, threshold: int) -> None:
        """Tables that lie later in the file (patchelf moves .dynstr to the end): capture them on the way."""
        lay = self.layout
        assert lay is not None and self.dyn_entries is not None
        dyn: dict[int, int] = {}
        for tag, val in self.dyn_entries:
            dyn.setdefault(tag, val)
        wanted = [DT_STRTAB, DT_VERNEED, DT_VERDEF]
        if self.symbols:
            wanted += [DT_SYMTAB, DT_VERSYM, DT_HASH, DT_GNU_HASH]
        budget = CAPTURE_LIMIT
        for tag in wanted:
            if tag not in dyn:
                continue
            off = lay.to_off(dyn[tag], 1)
            if off is None or off < threshold:
                continue
            if tag == DT_STRTAB:
                length = min(dyn.get(DT_STRSZ, 0), MAX_STRTAB)
            else:
                length = min(lay.segment_end(off) - off, TABLE_SPAN if tag in (DT_VERNEED, DT_VERDEF) else budget)
            length = min(length, budget)
            if length > 0:
                self.windows.append(_Window(off, off + length))
                budget -= length

    def _get(self, off: int, length: int, *, sh: bool = False) -> memoryview | None:
        """Bytes from the retained windows; the section-header windows only when `sh` (they serve names)."""
        for w in self.windows:
            if w.sh and not sh:
                continue
            got = w.get(off, length)
            if got is not None:
                return got
        return None


def _bytes_find(mv: memoryview, needle: bytes, start: int, end: int) -> int:
    """`find` on a memoryview slice (offsets relative to `mv`) without copying large chunks more than once."""
    obj = mv.obj
    if isinstance(obj, (bytes, bytearray)) and mv.nbytes == len(obj) and mv.contiguous:
        return obj.find(needle, start, end)
    at = bytes(mv[start:end]).find(needle)
    return at + start if at >= 0 else at


class _Resolver:
    """Reads the tables the dynamic section points at, from whatever bytes are available.

    `get(off, length)` returns bytes or raises `_Missing`; each step that misses records the range and
    is skipped, so one pass over the stream can collect every missing range at once.
    """

    def __init__(
        self, reader: _Reader, getter: Callable[[int, int], memoryview], windows: Callable[[], Iterable[_Window]]
    ) -> None:
        self.r = reader
        self.get = getter
        self.windows = windows
        self.missing: list[tuple[int, int]] = []
        lay = reader.layout
        assert lay is not None
        self.lay = lay

    def get_avail(self, off: int, minimum: int, maximum: int) -> memoryview:
        """Up to `maximum` bytes at `off`, as many as are available but at least `minimum`."""
        try:
            return self.get(off, maximum)
        except _Missing:
            pass
        for w in self.windows():
            if w.start <= off and off + minimum <= w.start + len(w.buf):
                return memoryview(w.buf)[off - w.start : min(off - w.start + maximum, len(w.buf))]
        raise _Missing(off, maximum)

    def off(self, tag_name: str, vaddr: int, length: int) -> int:
        o = self.lay.to_off(vaddr, max(length, 1))
        if o is None:
            self.r.diag(
                "BN103",
                f"{tag_name} address {vaddr:#x} (+{length}) does not map to the file through PT_LOAD",
                f"{tag_name} {vaddr:#x}",
            )
            raise _Stop
        return o

    def strtab(self, dyn: dict[int, int]) -> memoryview | None:
        if DT_STRTAB not in dyn:
            return None
        strsz = dyn.get(DT_STRSZ, 0)
        if strsz > MAX_STRTAB:
            self.r.diag("BN104", f"DT_STRSZ {strsz} is larger than {MAX_STRTAB} bytes; names unread", f"{strsz}")
            return None
        try:
            o = self.off("DT_STRTAB", dyn[DT_STRTAB], strsz)
            return self.get(o, strsz)
        except _Stop:
            return None
        except _Missing as m:
            self.missing.append((m.off, m.length))
            return None


def _string(reader: _Reader, tab: bytes | bytearray, idx: int, what: str) -> str | None:
    if idx >= len(tab):
        reader.diag("BN103", f"{what} string index {idx} lies past the string table ({len(tab)} bytes)", what)
        return None
    stop = tab.find(b"\0", idx, idx + MAX_NAME)
    if stop < 0:
        reader.diag("BN106", f"{what} string at index {idx} has no terminating NUL", what)
        return None
    return bytes(tab[idx:stop]).decode("utf-8", "replace")


def _bytes_of(mv: memoryview) -> bytes | bytearray:
    obj = mv.obj
    if isinstance(obj, (bytes, bytearray)) and mv.nbytes == len(obj):
        return obj
    return bytes(mv)


class _Facts:
    """Everything derived from the dynamic section; filled step by step."""

    def __init__(self) -> None:
        self.soname: str | None = None
        self.needed: list[str] = []
        self.rpath: list[str] = []
        self.runpath: list[str] = []
        self.version_needs: dict[str, list[str]] = {}
        self.weak_needs: dict[str, list[str]] = {}
        self.version_defs: list[str] = []
        self.ver_names: dict[int, str] = {}
        self.cxx_abi: CxxAbi = "none"
        self.cudart_register = False
        self.defined: list[str] | None = None
        self.undefined: list[str] | None = None


def _resolve(
    reader: _Reader, get: Callable[[int, int], memoryview], windows: Callable[[], Iterable[_Window]]
) -> tuple[_Facts, list[tuple[int, int]]]:
    lay = reader.layout
    assert lay is not None
    res = _Resolver(reader, get, windows)
    facts = _Facts()
    entries = reader.dyn_entries or []
    dyn: dict[int, int] = {}
    for tag, val in entries:
        if tag in _DT_ADDR or tag in (DT_STRSZ, DT_SYMENT, DT_VERNEEDNUM, DT_VERDEFNUM):
            dyn.setdefault(tag, val)
    tab = res.strtab(dyn)
    if tab is None:
        if DT_STRTAB not in dyn and entries:
            reader.diag("BN103", "the dynamic section has no DT_STRTAB; library names unknown", "DT_STRTAB")
        return facts, res.missing
    blob = _bytes_of(tab)
    for tag, val in entries:
        if tag == DT_NEEDED:
            s = _string(reader, blob, val, "DT_NEEDED")
            if s is not None:
                facts.needed.append(s)
        elif tag == DT_SONAME and facts.soname is None:
            facts.soname = _string(reader, blob, val, "DT_SONAME")
        elif tag in (DT_RPATH, DT_RUNPATH):
            s = _string(reader, blob, val, "DT_RPATH" if tag == DT_RPATH else "DT_RUNPATH")
            if s is not None:
                (facts.rpath if tag == DT_RPATH else facts.runpath).extend(p for p in s.split(":") if p)
    facts.cxx_abi = cxx_abi_flavour(blob)
    facts.cudart_register = blob.find(b"\0__cudaRegisterFatBinary\0") >= 0
    _verneed(reader, res, dyn, blob, facts, lay)
    _verdef(reader, res, dyn, blob, facts, lay)
    if reader.symbols:
        _symbols(reader, res, dyn, blob, facts, lay)
    return facts, res.missing


def _next(reader: _Reader, what: str, rel: int, nxt: int, rec_size: int, wrap: bool) -> int | None:
    """The relative offset of the next record, or None to stop. ELF32 loaders add `*_next` with 32-bit
    wrap-around, so a large value steps backwards: that is how a table can loop."""
    if nxt == 0:
        return None
    if wrap and nxt >= 1 << 31:
        nxt -= 1 << 32
    if 0 <= nxt < rec_size:
        reader.diag("BN105", f"{what} record at +{rel} points {nxt} bytes ahead, into itself", what)
        return None
    return rel + nxt


def _linked(
    reader: _Reader, what: str, data: memoryview, count: int, rec_size: int, e: str, wrap: bool
) -> Iterator[tuple[int, memoryview]]:
    """Yield (relative offset, record) for up to `count` records of a `*_next` linked table, with loop checks."""
    if count > MAX_VERSION_RECORDS:
        reader.diag("BN104", f"{what} count {count} is larger than {MAX_VERSION_RECORDS}; reading that many", what)
        count = MAX_VERSION_RECORDS
    rel: int | None = 0
    seen: set[int] = set()
    for _ in range(count):
        assert rel is not None
        if rel in seen:
            reader.diag("BN105", f"{what} record at +{rel} is reached twice: the table loops", what)
            return
        seen.add(rel)
        if rel < 0 or rel + rec_size > len(data):
            reader.diag("BN103", f"{what} record at +{rel} lies outside its segment", what)
            return
        yield rel, data[rel : rel + rec_size]
        rel = _next(reader, what, rel, struct.unpack_from(e + "I", data, rel + rec_size - 4)[0], rec_size, wrap)
        if rel is None:
            return


def _aux_chain(
    reader: _Reader,
    data: memoryview,
    first: int,
    count: int,
    rec_size: int,
    next_at: int,
    what: str,
    e: str,
    wrap: bool,
) -> Iterator[memoryview]:
    rel: int | None = first
    seen: set[int] = set()
    for _ in range(min(count, MAX_VERSION_RECORDS)):
        assert rel is not None
        if rel in seen:
            reader.diag("BN105", f"{what} auxiliary record at +{rel} is reached twice: the table loops", what)
            return
        seen.add(rel)
        if rel < 0 or rel + rec_size > len(data):
            reader.diag("BN103", f"{what} auxiliary record at +{rel} lies outside its segment", what)
            return
        yield data[rel : rel + rec_size]
        rel = _next(reader, what, rel, struct.unpack_from(e + "I", data, rel + next_at)[0], rec_size, wrap)
        if rel is None:
            return


def _verneed(
    reader: _Reader, res: _Resolver, dyn: dict[int, int], blob: bytes | bytearray, facts: _Facts, lay: _Layout
) -> None:
    if DT_VERNEED not in dyn:
        return
    e = lay.end
    num = dyn.get(DT_VERNEEDNUM, 0)
    try:
        base = res.off("DT_VERNEED", dyn[DT_VERNEED], 16)
        whole = res.get_avail(base, 16, min(lay.segment_end(base) - base, TABLE_SPAN))
        for rel, rec in _linked(reader, "DT_VERNEED", whole, num, 16, e, lay.cls == 32):
            _ver, cnt, file_idx, aux, _next = struct.unpack_from(e + "HHIII", rec)
            lib = _string(reader, blob, file_idx, "vn_file") or "?"
            names = facts.version_needs.setdefault(lib, [])
            for a in _aux_chain(reader, whole, rel + aux, cnt, 16, 12, "DT_VERNEED", e, lay.cls == 32):
                _h, flags, other, name_idx, _n = struct.unpack_from(e + "IHHII", a)
                name = _string(reader, blob, name_idx, "vna_name")
                if name is not None:
                    into = facts.weak_needs.setdefault(lib, []) if flags & VER_FLG_WEAK else names
                    if name not in into:
                        into.append(name)
                    facts.ver_names[other & 0x7FFF] = name
    except _Stop:
        return
    except _Missing as m:
        res.missing.append((m.off, m.length))


def _verdef(
    reader: _Reader, res: _Resolver, dyn: dict[int, int], blob: bytes | bytearray, facts: _Facts, lay: _Layout
) -> None:
    if DT_VERDEF not in dyn:
        return
    e = lay.end
    num = dyn.get(DT_VERDEFNUM, 0)
    try:
        base = res.off("DT_VERDEF", dyn[DT_VERDEF], 20)
        whole = res.get_avail(base, 20, min(lay.segment_end(base) - base, TABLE_SPAN))
        for rel, rec in _linked(reader, "DT_VERDEF", whole, num, 20, e, lay.cls == 32):
            _ver, flags, ndx, cnt, _h, aux, _next = struct.unpack_from(e + "HHHHIII", rec)
            if cnt == 0:
                continue
            for a in _aux_chain(reader, whole, rel + aux, 1, 8, 4, "DT_VERDEF", e, lay.cls == 32):
                name = _string(reader, blob, struct.unpack_from(e + "I", a)[0], "vda_name")
                if name is None:
                    continue
                facts.ver_names[ndx & 0x7FFF] = name
                if not flags & 1 and name not in facts.version_defs:  # VER_FLG_BASE names the file itself
                    facts.version_defs.append(name)
    except _Stop:
        return
    except _Missing as m:
        res.missing.append((m.off, m.length))


def _symbol_count(reader: _Reader, res: _Resolver, dyn: dict[int, int], lay: _Layout) -> int | None:
    e = lay.end
    if DT_HASH in dyn:
        o = res.off("DT_HASH", dyn[DT_HASH], 8)
        return int(struct.unpack_from(e + "II", res.get(o, 8))[1])
    if DT_GNU_HASH in dyn:
        o = res.off("DT_GNU_HASH", dyn[DT_GNU_HASH], 16)
        nbuckets, symoffset, bloom_size, _shift = struct.unpack_from(e + "IIII", res.get(o, 16))
        if nbuckets > MAX_SYMBOLS or bloom_size > MAX_SYMBOLS:
            reader.diag("BN104", f"DT_GNU_HASH declares {nbuckets} buckets", "DT_GNU_HASH")
            return None
        word = 8 if lay.cls == 64 else 4
        bucket_off = o + 16 + bloom_size * word
        buckets = res.get(bucket_off, nbuckets * 4)
        top = max(struct.unpack(f"{e}{nbuckets}I", buckets), default=0)
        if top < symoffset:
            return int(symoffset)
        chain_off = bucket_off + nbuckets * 4
        seg_end = lay.segment_end(chain_off)
        idx = top
        step = 4096
        while idx - top < MAX_SYMBOLS:
            at = chain_off + (idx - symoffset) * 4
            n = max(1, min(step, (seg_end - at) // 4))
            words = struct.unpack(f"{e}{n}I", res.get(at, n * 4))
            for k, h in enumerate(words):
                if h & 1:
                    return idx + k + 1
            idx += n
            if at + n * 4 >= seg_end:
                break
        reader.diag("BN104", "DT_GNU_HASH chain does not end", "DT_GNU_HASH")
        return None
    if DT_SYMTAB in dyn and DT_STRTAB in dyn and dyn[DT_STRTAB] > dyn[DT_SYMTAB]:
        # no hash table: the linker places .dynstr right after .dynsym
        ent = 24 if lay.cls == 64 else 16
        return (dyn[DT_STRTAB] - dyn[DT_SYMTAB]) // ent
    return None


def _symbols(
    reader: _Reader, res: _Resolver, dyn: dict[int, int], blob: bytes | bytearray, facts: _Facts, lay: _Layout
) -> None:
    if DT_SYMTAB not in dyn:
        facts.defined, facts.undefined = [], []
        return
    e = lay.end
    try:
        n = _symbol_count(reader, res, dyn, lay)
        if n is None:
            return
        if n > MAX_SYMBOLS:
            reader.diag("BN104", f"{n} dynamic symbols declared; reading the first {MAX_SYMBOLS}", "DT_SYMTAB")
            n = MAX_SYMBOLS
        ent = 24 if lay.cls == 64 else 16
        so = res.off("DT_SYMTAB", dyn[DT_SYMTAB], n * ent)
        syms = res.get(so, n * ent)
        versyms: tuple[int, ...] = ()
        if DT_VERSYM in dyn:
            vo = res.off("DT_VERSYM", dyn[DT_VERSYM], n * 2)
            versyms = struct.unpack(f"{e}{n}H", res.get(vo, n * 2))
    except _Stop:
        return
    except _Missing as m:
        res.missing.append((m.off, m.length))
        return
    defined: list[str] = []
    undefined: list[str] = []
    fmt = e + ("IBBHQQ" if lay.cls == 64 else "IIIBBH")
    names = facts.ver_names
    strsz = len(blob)
    for i, rec in enumerate(struct.iter_unpack(fmt, syms)):
        if i == 0:
            continue
        if lay.cls == 64:
            name_idx, info, _other, shndx = rec[0], rec[1], rec[2], rec[3]
        else:
            name_idx, info, shndx = rec[0], rec[3], rec[5]
        if name_idx == 0 or name_idx >= strsz or (info & 0xF) in (3, 4):  # STT_SECTION, STT_FILE
            continue
        stop = blob.find(b"\0", name_idx, name_idx + MAX_NAME)
        if stop < 0:
            reader.diag("BN106", f"symbol name at index {name_idx} has no terminating NUL", "DT_SYMTAB")
            continue
        name = blob[name_idx:stop].decode("utf-8", "replace")
        if versyms:
            v = versyms[i] & 0x7FFF
            if v > 1 and v in names:
                name = f"{name}@{names[v]}"
        (undefined if shndx == 0 else defined).append(name)
    facts.defined, facts.undefined = sorted(set(defined)), sorted(set(undefined))


def _cuda_runtime(facts: _Facts, marker: bool, device_code: bool) -> dict[str, Any] | None:
    """How the object gets a CUDA runtime, decided in this order:

    1. it is libcudart itself (its soname): None, it provides the runtime;
    2. DT_NEEDED libcudart.so.N: dynamic, major N;
    3. `__cudaRegisterFatBinary` in the dynamic string table without that NEEDED: dynamic, major unknown
       (nvcc's registration code imports it; some other object must load libcudart first);
    4. the runtime's own error text (`CUDART_MARKER`) in a read-only segment: static;
    5. device code (a fatbinary) but none of the above: dlopen (a stub loads the runtime at run time);
    6. otherwise None: no CUDA runtime involved.
    """
    if facts.soname and _CUDART_RE.match(facts.soname):
        return None  # the runtime itself
    for lib in facts.needed:
        m = _CUDART_RE.match(lib)
        if m:
            return {"mode": "dynamic", "major": int(m.group(1)) if m.group(1) else None}
    if facts.cudart_register:
        return {"mode": "dynamic", "major": None}
    if marker:
        return {"mode": "static", "major": None}
    if device_code:
        return {"mode": "dlopen", "major": None}
    return None


_Entries = list[dict[str, Any]]


def _split_fatbin(reader: _Reader, scanner: FatbinScanner) -> tuple[_Entries, _Entries]:
    """(loadable, relocatable) entries: containers inside a `__nv_relfatbin` section are relocatable."""
    if not scanner.raw_entries:
        return [], []
    secs = reader.section_headers()
    where = reader.shstrtab_range()
    names = reader._get(*where, sh=True) if where is not None else None
    if secs is None or names is None:
        lay = reader.layout
        assert lay is not None
        reader.diag(
            "BN111",
            "no readable section headers: device code for a later device link (__nv_relfatbin) cannot be told "
            "apart from loadable device code (.nv_fatbin); all of it is counted as loadable",
            f"e_shoff {lay.shoff}, e_shnum {lay.shnum}, e_shstrndx {lay.shstrndx}",
        )
        return list(scanner.raw_entries), []
    want = RELFATBIN + b"\0"
    rel = [
        (off, off + size)
        for name, typ, off, size in secs
        if typ != SHT_NOBITS and bytes(names[name : name + len(want)]) == want
    ]
    loadable: _Entries = []
    relocatable: _Entries = []
    for entry, at in zip(scanner.raw_entries, scanner.container_offsets, strict=True):
        (relocatable if any(a <= at < b for a, b in rel) else loadable).append(entry)
    return loadable, relocatable


def _capture_pass(chunks: Iterable[bytes], ranges: list[tuple[int, int]]) -> list[_Window]:
    windows = [_Window(o, o + n) for o, n in ranges]
    last = max((o + n for o, n in ranges), default=0)
    pos = 0
    for chunk in chunks:
        mv = memoryview(chunk)
        for w in windows:
            if w.start < pos + len(mv) and w.end > pos:
                w.take(pos, mv)
        pos += len(mv)
        if pos >= last:
            break
    return windows


def _widen(ranges: list[tuple[int, int]], lay: _Layout, total: int) -> list[tuple[int, int]]:
    """Capture the rest of each missing table's segment too: the tables a lookup leads to next (hash buckets,
    chains, symbols, versions) sit beside it, so one more pass usually reads them all."""
    spans = sorted((o, max(o + n, min(lay.segment_end(o), o + CAPTURE_LIMIT // 2, total))) for o, n in ranges if n >= 0)
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b - a) for a, b in merged]


def read_elf(
    chunks: Iterable[bytes],
    *,
    path: str,
    size: int | None = None,
    symbols: bool = False,
    reopen: Callable[[], Iterable[bytes]] | None = None,
) -> tuple[ElfFacts | None, list[Diagnostic]]:
    """Read an ELF shared object from consecutive chunks of its bytes, in one pass.

    `size` (when known) lets offsets be checked against the file's end. `reopen` returns a fresh iterable
    over the same bytes, for the rare file whose dynamic tables lie where the first pass kept nothing.
    Returns (None, diagnostics) for a file that is not a readable ELF.
    """
    fields, diags = read_elf_fields(chunks, path=path, size=size, symbols=symbols, reopen=reopen)
    return elf_facts(fields), diags


def elf_facts(fields: dict[str, Any] | None) -> ElfFacts | None:
    """`ElfFacts` from what `read_elf_fields` returned."""
    from envresolve.binary.model import ElfFacts

    return ElfFacts(**fields) if fields is not None else None


def read_elf_fields(
    chunks: Iterable[bytes],
    *,
    path: str,
    size: int | None = None,
    symbols: bool = False,
    reopen: Callable[[], Iterable[bytes]] | None = None,
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """`read_elf` without building the model: the `ElfFacts` fields as a plain dict.

    A forked helper process returns these (cheap to pickle), so that it never imports pydantic unless a
    diagnostic is made; the parent builds the models with `elf_facts`.
    """
    reader = _Reader(path, size, symbols)
    if not reader.run(chunks):
        return None, reader.diags
    lay = reader.layout
    assert lay is not None
    total = reader.pos
    if reader.stopped:
        assert size is not None
        total = size  # what was not read is there, only not needed (a second pass may still read it)
    facts = _Facts()
    if size is not None and total < size:
        reader.diag("BN102", f"the stream ended after {total} of {size} bytes", f"declared size {size}")
    if lay.dynamic is None:
        if not lay.ph_rejected:
            reader.diag("BN107", "no PT_DYNAMIC: not a dynamically linked object", f"{lay.phnum} program headers")
    elif reader.dyn_entries is None:
        doff, dsz = lay.dynamic
        code = "BN102" if lay.load_end() > total or (size is not None and total < size) else "BN103"
        reader.diag(code, f"the file ends ({total} bytes) before PT_DYNAMIC ({doff}+{dsz})", f"p_offset {doff}")
    else:
        extra: list[_Window] = []
        for _round in range(MAX_PASSES + 1):

            def get(off: int, length: int, _extra: list[_Window] = extra) -> memoryview:
                if length < 0:
                    raise _Missing(off, 0)
                for w in (*reader.windows, *_extra):
                    if w.sh:
                        continue
                    got = w.get(off, length)
                    if got is not None:
                        return got
                raise _Missing(off, length)

            def windows(_extra: list[_Window] = extra) -> tuple[_Window, ...]:
                return (*(w for w in reader.windows if not w.sh), *_extra)

            facts, missing = _resolve(reader, get, windows)
            if not missing:
                break
            beyond = [(o, n) for o, n in missing if o + n > total]
            if beyond:
                o, n = beyond[0]
                code = "BN102" if size is not None and total < size else "BN103"
                reader.diag(code, f"a dynamic table ({o}+{n}) lies past the end of the file ({total} bytes)", f"{o}")
                break
            missing = _widen(missing, lay, total)
            want = sum(n for _o, n in missing)
            if want > CAPTURE_LIMIT:
                reader.diag("BN110", f"dynamic tables need {want} more bytes, above the {CAPTURE_LIMIT} limit")
                break
            if reopen is None or _round == MAX_PASSES:
                reader.diag(
                    "BN108",
                    "dynamic tables lie outside the bytes kept by the streaming pass and no second pass was possible",
                    *(f"{n} bytes at offset {o}" for o, n in missing[:4]),
                )
                break
            reader.passes += 1
            COUNTERS["reopen_passes"] += 1
            extra.extend(_capture_pass(reopen(), missing))
    scanner = reader.scanner
    assert scanner is not None
    reader.diags.extend(scanner.diagnostics)
    loadable, relocatable = _split_fatbin(reader, scanner)
    fields = {
        "path": path,
        "size": size if size is not None else total,
        "elf_class": 64 if lay.cls == 64 else 32,
        "machine": lay.machine,
        "soname": facts.soname,
        "needed": tuple(facts.needed),
        "rpath": tuple(facts.rpath),
        "runpath": tuple(facts.runpath),
        "version_needs": {k: tuple(v) for k, v in facts.version_needs.items()},
        "weak_version_needs": {k: tuple(v) for k, v in facts.weak_needs.items()},
        "version_defs": tuple(facts.version_defs),
        "cxx_abi": facts.cxx_abi,
        "cuda_runtime": _cuda_runtime(facts, reader.cudart_marker, bool(scanner.raw_entries)),
        "fatbin": loadable,
        "relocatable_fatbin": relocatable,
        "defined_symbols": tuple(facts.defined) if symbols and facts.defined is not None else None,
        "undefined_symbols": tuple(facts.undefined) if symbols and facts.undefined is not None else None,
    }
    return fields, reader.diags


_CHUNK = 1024 * 1024


def _file_chunks(path: str | os.PathLike[str]) -> Iterator[bytes]:
    from envresolve._input import open_fd

    fd, _st = open_fd(path)  # a regular file only (a FIFO cannot hang, a device cannot stream forever)
    with os.fdopen(fd, "rb") as f:
        while True:
            b = f.read(_CHUNK)
            if not b:
                return
            yield b


def read_elf_file(path: str | os.PathLike[str], *, symbols: bool = False) -> tuple[ElfFacts | None, list[Diagnostic]]:
    """Read an ELF file from disk (a convenience over `read_elf`; a second pass re-opens the file).

    A path that is not a regular file gives GN106, one that cannot be opened GN101.
    """
    from envresolve._input import as_diagnostic, open_fd

    p = os.fspath(path)
    try:
        fd, st = open_fd(p)
        os.close(fd)
    except OSError as exc:
        return None, [as_diagnostic(p, exc)]
    size = st.st_size
    return read_elf(_file_chunks(p), path=p, size=size, symbols=symbols, reopen=lambda: _file_chunks(p))


# -- the symbol-lookup view ----------------------------------------------------------------------------------
#
# The loader emulation of prefix checks (`envresolve.preflight`) needs what `ElfFacts` does not carry: the binding
# and version of each dynamic symbol, and lookups by name in libraries with hundreds of thousands of symbols.
# `DynObject` answers those with the object's own hash tables (`.gnu.hash`, else `.hash`) over a read-only memory
# map, so no symbol table is ever held in Python memory. Unlike the streaming view it raises `ElfFormatError` for
# a truncated or inconsistent object (the loader would refuse it too); every offset is checked against the map and
# every linked list is bounded.

SHT_HASH, SHT_DYNAMIC, SHT_DYNSYM = 5, 6, 11
SHT_GNU_HASH = 0x6FFFFFF6
SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM = 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
VER_FLG_BASE = 1
STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 1, 2, 10
STT_SECTION, STT_FILE = 3, 4
STV_INTERNAL, STV_HIDDEN = 1, 2
SHN_UNDEF = 0
#: version definition/need records walked at most per table (real objects have tens; a hostile one could loop)
MAX_LOOKUP_VERSION_ENTRIES = 4096


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
    """The loader-relevant header facts of one ELF object (`machine` named as `ElfFacts.machine` is)."""

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


@dataclass(frozen=True)
class _Section:
    type: int
    offset: int
    size: int
    link: int
    entsize: int


class DynObject:
    """A shared object opened read-only and memory-mapped: the symbol-lookup view.

    Use as a context manager or call `close()`. Raises `ElfFormatError`, `OSError` (`SpecialFileError` for a path
    that is not a regular file).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from envresolve._input import open_fd

        self.path = os.fspath(path)
        self._mm: mmap.mmap | None = None
        fd, st = open_fd(self.path)  # a regular file only: a FIFO or /dev/zero named lib*.so is SpecialFileError
        self._fh: BinaryIO | None = os.fdopen(fd, "rb")
        try:
            size = st.st_size
            if size < 4 or not is_elf_magic(self._fh.read(4)):
                raise ElfFormatError("not an ELF file")
            if size < 64:
                raise ElfFormatError("shorter than an ELF header")
            self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
            self._parse()
        except BaseException:
            self.close()
            raise
        self._info: DynInfo | None = None
        self._verdefs: list[tuple[int, int, str]] | None = None
        self._verneeds: tuple[dict[str, list[tuple[str, int]]], set[str]] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Unmap and close the file."""
        if self._mm is not None:
            self._mm.close()
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
        cls, data = mm[4], mm[5]
        if cls not in (1, 2) or data not in (1, 2):
            raise ElfFormatError("bad ELF class or data encoding")
        self.elf_class = 32 if cls == 1 else 64
        self._end = "<" if data == 1 else ">"
        e_type, e_machine, *_mid, shoff, _fl, _ehs, _phe, _phn, shentsize, shnum, _shstrndx = _ehdr(
            mm, cls == 2, self._end
        )
        self.kind = {3: "dyn", 2: "exec"}.get(e_type, "other")
        self.machine = machine_name(e_machine, data == 1)
        shfmt = "IIQQQQIIQQ" if cls == 2 else "IIIIIIIIII"
        self.sections: list[_Section] = []
        if shoff and shnum:
            if shoff + shnum * shentsize > len(mm):
                raise ElfFormatError("section headers beyond end of file")
            for i in range(shnum):
                _n, typ, _f, _a, off, size, link, _i, _al, ent = self._unpack(shfmt, shoff + i * shentsize)
                if typ != SHT_NOBITS and size and off + size > len(mm):
                    raise ElfFormatError(f"section {i} beyond end of file")
                self.sections.append(_Section(typ, off, size, link, ent))
        self._by_type = {s.type: s for s in reversed(self.sections)}

    def _section(self, typ: int) -> _Section | None:
        return self._by_type.get(typ)

    def _strtab_of(self, sec: _Section) -> _Section:
        if not 0 <= sec.link < len(self.sections):
            raise ElfFormatError("bad section link")
        return self.sections[sec.link]

    def info(self) -> DynInfo:
        """Dynamic section and version facts (read once, then remembered)."""
        if self._info is None:
            self._info = self._read_info()
        return self._info

    def _read_info(self) -> DynInfo:
        soname: str | None = None
        needed: list[str] = []
        rpath: list[str] = []
        runpath: list[str] = []
        dyn = self._section(SHT_DYNAMIC)
        if dyn is not None:
            strtab = self._strtab_of(dyn)
            entfmt = "qQ" if self.elf_class == 64 else "iI"
            entsize = 16 if self.elf_class == 64 else 8
            for i in range(dyn.size // entsize):
                tag, val = self._unpack(entfmt, dyn.offset + i * entsize)
                if tag == DT_NULL:
                    break
                if tag in (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH):
                    s = self._cstr(strtab.offset + val)
                    if tag == DT_NEEDED:
                        needed.append(s)
                    elif tag == DT_SONAME:
                        soname = s
                    elif tag == DT_RPATH:
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
            has_symbols=self._section(SHT_DYNSYM) is not None,
        )

    def _verdef_records(self) -> list[tuple[int, int, str]]:
        """(index, flags, name) of each version definition, in file order (the base names the file itself)."""
        if self._verdefs is not None:
            return self._verdefs
        out: list[tuple[int, int, str]] = []
        sec = self._section(SHT_GNU_VERDEF)
        if sec is not None:
            strtab = self._strtab_of(sec)
            off = sec.offset
            for _ in range(MAX_LOOKUP_VERSION_ENTRIES):
                _ver, flags, ndx, cnt, _h, aux, nxt = self._unpack("HHHHIII", off)
                if cnt:
                    (name_off, _anext) = self._unpack("II", off + aux)
                    out.append((ndx, flags, self._cstr(strtab.offset + name_off)))
                if not nxt:
                    break
                off += nxt
        self._verdefs = out
        return out

    def _verdef(self) -> dict[int, str]:
        """Version index -> name for the versions this object defines (index 1 is the base: the soname)."""
        return {ndx: name for ndx, _flags, name in self._verdef_records()}

    def version_definitions(self) -> list[str]:
        """The names the object defines in `.gnu.version_d`, in file order (the first is usually its soname)."""
        return [name for _ndx, _flags, name in self._verdef_records()]

    def _verneed(self) -> tuple[dict[str, list[tuple[str, int]]], set[str]]:
        """File -> [(version, index)] needed, and the set of weak version needs."""
        if self._verneeds is not None:
            return self._verneeds
        out: dict[str, list[tuple[str, int]]] = {}
        weak: set[str] = set()
        sec = self._section(SHT_GNU_VERNEED)
        if sec is not None:
            strtab = self._strtab_of(sec)
            off = sec.offset
            for _ in range(MAX_LOOKUP_VERSION_ENTRIES):
                _ver, cnt, file_off, aux, nxt = self._unpack("HHIII", off)
                fname = self._cstr(strtab.offset + file_off)
                aoff = off + aux
                for _j in range(min(cnt, MAX_LOOKUP_VERSION_ENTRIES)):
                    _h, flags, other, name_off, anext = self._unpack("IHHII", aoff)
                    vname = self._cstr(strtab.offset + name_off)
                    out.setdefault(fname, []).append((vname, other))
                    if flags & VER_FLG_WEAK:
                        weak.add(vname)
                    if not anext:
                        break
                    aoff += anext
                if not nxt:
                    break
                off += nxt
        self._verneeds = (out, weak)
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
        sec = self._section(SHT_GNU_VERSYM)
        if sec is None:
            return None
        (v,) = self._unpack("H", sec.offset + 2 * i)
        return int(v)

    def undefined_symbols(self) -> Iterator[UndefinedSymbol]:
        """Stream the undefined global dynamic symbols with their versions."""
        symtab = self._section(SHT_DYNSYM)
        if symtab is None:
            return
        strtab = self._strtab_of(symtab)
        needs, weak_versions = self._verneed()
        by_index = {idx: (v, f) for f, vs in needs.items() for v, idx in vs}
        _fmt, size = self._symfmt()
        for i in range(1, symtab.size // size):
            name_off, info, _other, shndx = self._sym(symtab, i)
            bind = info >> 4
            if shndx != SHN_UNDEF or bind not in (STB_GLOBAL, STB_WEAK) or not name_off:
                continue
            vs = self._versym(i)
            version = file = None
            if vs is not None and (vs & 0x7FFF) > 1:
                version, file = by_index.get(vs & 0x7FFF, (None, None))
            yield UndefinedSymbol(
                name=self._cstr(strtab.offset + name_off),
                version=version,
                file=file,
                weak=bind == STB_WEAK or (version is not None and version in weak_versions),
            )

    def exports(self, name: str, version: str | None = None) -> bool:
        """True when the object defines `name` as a visible global or weak symbol (with `version` if given).

        An unversioned reference binds to any non-hidden definition; a versioned one needs that exact version.
        """
        symtab = self._section(SHT_DYNSYM)
        if symtab is None:
            return False
        strtab = self._strtab_of(symtab)
        raw = name.encode("utf-8", "surrogateescape")
        for i in self._candidates(raw, symtab):
            name_off, info, other, shndx = self._sym(symtab, i)
            if shndx == SHN_UNDEF or info >> 4 not in (STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE):
                continue
            if info & 0xF in (STT_SECTION, STT_FILE) or other & 0x3 in (STV_HIDDEN, STV_INTERNAL):
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
        gh = self._section(SHT_GNU_HASH)
        if gh is not None:
            yield from self._gnu_candidates(raw, gh, symtab)
            return
        sh = self._section(SHT_HASH)
        if sh is not None:
            nbucket, _nchain = self._unpack("II", sh.offset)
            h = elf_hash(raw)
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
    """Open, read the loader facts and close (the symbol-lookup view). Raises `ElfFormatError` or `OSError`."""
    with DynObject(path) as obj:
        return obj.info()


def elf_hash(name: bytes) -> int:
    """The System V ELF hash (`.hash` buckets, and `vna_hash` of a version-needs record)."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h
