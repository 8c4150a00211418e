"""CUDA fatbinary containers: find them in a byte stream and list their entries.

A fatbinary (the payload of an ELF `.nv_fatbin` section, or a `.fatbin` file) is a sequence of
containers. Layout, little endian, as nvcc 13.0 writes it (checked against `cuobjdump` on the
fixtures in `tests/fixtures/elf`):

container header (16 bytes)
    u32 magic 0xBA55ED50, u16 version (1), u16 header size (16), u64 size of the entries that follow
entry header (64 bytes, longer for PTX and for some SASS entries; `header_size` says how long)
    0  u16 kind: 1 = PTX, 2 = ELF (SASS)       2  u16 format version (0x0101)
    4  u32 header size                           8  u64 payload size (as stored, padded)
    16 u32 compressed size                       20 u32 offset of the options block (0 = none)
    24 u16 minor, 26 u16 major: PTX ISA version for PTX entries ([9,0] for CUDA 13.0), ELF ABI for SASS
    28 u32 SM number (90 for sm_90a)             32 u32 name offset, 36 u32 name length
    40 u64 flags                                 48 u64 reserved, 56 u64 uncompressed size
flags
    0x1 64-bit, 0x10 Linux host, 0x2000 compressed (LZ-style, older toolkits),
    0x8000 compressed (zstd frame, nvcc 12.8+ default for PTX; `-Xfatbin=-compress-all` for SASS),
    0x100000 arch-specific target (`sm_90a`), 0x200000 family target (`sm_100f`).
The `a`/`f` bits are how cuobjdump 13 decides to print `arch = sm_90a` / `sm_100f`.

The producing toolkit ("Cuda compilation tools, release 13.0") is read from the first bytes of the
payload: PTX text starts with it, SASS cubins carry it in `.note.nv.tkinfo`. Compressed zstd payloads are
inflated up to a small bound for that; LZ-compressed (0x2000) payloads are not, their toolkit stays unknown.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the models (pydantic) are imported when first needed: a forked reader may never need them
    from envresolve.binary.model import FatbinEntry
    from envresolve.diagnostics import Diagnostic

__all__ = [
    "FATBIN_MAGIC",
    "FatbinScanner",
    "parse_fatbin",
]

FATBIN_MAGIC = 0xBA55ED50
_HEADER = struct.Struct("<IHHQ")
_ENTRY = struct.Struct("<HHIQIIHHIIIQQQ")
# magic + version 1 + header size 16: an 8-byte needle is both more selective and faster to search for.
_NEEDLE = struct.pack("<IHH", FATBIN_MAGIC, 1, 16)
_NEEDLE_RE = re.compile(re.escape(_NEEDLE))

KIND_PTX = 1
KIND_ELF = 2
FLAG_COMPRESSED_LZ = 0x2000
FLAG_COMPRESSED_ZSTD = 0x8000
FLAG_ARCH_SPECIFIC = 0x100000
FLAG_FAMILY = 0x200000

#: work bounds (hostile input)
MAX_ENTRIES = 100_000
MAX_ENTRY_HEADER = 4096
#: bytes of each payload kept to find the producing toolkit
_TK_CAPTURE = 32 * 1024
_TK_INFLATE = 64 * 1024
_TK_RE = re.compile(rb"Cuda compilation tools, release (\d+)\.(\d+)")


def _toolkit(payload: bytes, flags: int) -> str | None:
    if flags & FLAG_COMPRESSED_LZ:
        return None
    if flags & FLAG_COMPRESSED_ZSTD:
        try:
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload))
            payload = reader.read(_TK_INFLATE)
        except Exception:  # a partial or corrupt frame: the toolkit stays unknown
            return None
    m = _TK_RE.search(payload)
    return f"{int(m.group(1))}.{int(m.group(2))}" if m else None


def _entry(hdr: tuple[int, ...], payload_head: bytes) -> dict[str, Any]:
    """The fields of a `FatbinEntry` (a plain dict: cheap to build and to send from a helper process)."""
    kind, _v, _hs, size, _csize, _opt, minor, major, sm, _no, _nl, flags, _z, _usize = hdr
    variant = "a" if flags & FLAG_ARCH_SPECIFIC else ("f" if flags & FLAG_FAMILY else "")
    return {
        "kind": "ptx" if kind == KIND_PTX else "sass",
        "arch": f"sm_{sm}{variant}",
        "sm": sm,
        "variant": variant,
        "ptx_isa": f"{major}.{minor}" if kind == KIND_PTX else None,
        "toolkit": _toolkit(payload_head, flags),
        "compressed": bool(flags & (FLAG_COMPRESSED_LZ | FLAG_COMPRESSED_ZSTD)),
        "size": size,
    }


def _make(code: str, message: str, *, subject: str, evidence: list[str] | None = None) -> Diagnostic:
    from envresolve.diagnostics import make

    return make(code, message, subject=subject, evidence=evidence or [])


# scanner states
_SCAN, _CHEAD, _EHEAD, _PAYLOAD = range(4)


class FatbinScanner:
    """Finds fatbinary containers in a stream of chunks and lists their entries, in one pass.

    Feed consecutive chunks with `feed(data)`; call `finish()` at the end. Work per chunk is one
    C-level search for the container magic (restricted to `scan_ranges` when given) plus a few header
    unpacks per entry; payloads are skipped, except their first bytes (for the toolkit version).
    """

    def __init__(
        self,
        *,
        subject: str,
        size: int | None = None,
        scan_ranges: Iterable[tuple[int, int]] | None = None,
        max_entries: int | None = None,
    ) -> None:
        self.subject = subject
        self.size = size
        self.ranges = sorted(scan_ranges) if scan_ranges is not None else None
        self.max_entries = MAX_ENTRIES if max_entries is None else max_entries
        #: entries found so far, as `FatbinEntry` fields (see `entries`)
        self.raw_entries: list[dict[str, Any]] = []
        #: file offset of the container holding each entry (parallel to `entries`), to tell sections apart
        self.container_offsets: list[int] = []
        self.diagnostics: list[Diagnostic] = []
        self.containers = 0
        self.pos = 0  # absolute offset of the next byte fed
        self._state = _SCAN
        self._scan_from = 0
        self._tail = b""  # last bytes of the previous chunk, for a magic across the boundary
        self._buf = bytearray()  # header bytes being collected
        self._need = 0
        self._cont_end = 0  # absolute end of the current container
        self._cont_start = 0
        self._entry_start = 0
        self._hdr: tuple[int, ...] = ()
        self._pay_end = 0
        self._pay_head = bytearray()
        self._limited = False

    # -- helpers -------------------------------------------------------------------------------
    def _diag(self, code: str, message: str, evidence: list[str]) -> None:
        if len(self.diagnostics) < 32:
            self.diagnostics.append(_make(code, message, subject=self.subject, evidence=evidence))

    def _scan_spans(self, start: int, end: int) -> list[tuple[int, int]]:
        if self.ranges is None:
            return [(start, end)]
        out = []
        for a, b in self.ranges:
            lo, hi = max(a, start), min(b, end)
            if lo < hi:
                out.append((lo, hi))
        return out

    def _open_container(self, at: int) -> None:
        self._state = _CHEAD
        self._buf = bytearray()
        self._need = _HEADER.size
        self._entry_start = at

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, data: bytes | memoryview) -> None:
        """Feed the next chunk of the stream."""
        mv = memoryview(data)
        base = self.pos
        n = len(mv)
        i = 0
        while i < n:
            if self._state == _SCAN:
                i = self._scan(mv, base, i)
            elif self._state in (_CHEAD, _EHEAD):
                take = min(self._need - len(self._buf), n - i)
                self._buf += mv[i : i + take]
                i += take
                if len(self._buf) == self._need:
                    self._header_done(base + i)
            else:  # _PAYLOAD
                take = min(self._pay_end - (base + i), n - i)
                room = _TK_CAPTURE - len(self._pay_head)
                if room > 0:
                    self._pay_head += mv[i : i + min(take, room)]
                i += take
                if base + i >= self._pay_end:
                    self._payload_done()
        self.pos = base + n
        keep = len(_NEEDLE) - 1
        if self._state != _SCAN:
            self._tail = b""
        elif self._scan_from > base:
            self._tail = bytes(mv[self._scan_from - base :][-keep:])
        else:
            self._tail = (self._tail + bytes(mv[-keep:]))[-keep:]

    def _scan(self, mv: memoryview, base: int, i: int) -> int:
        n = len(mv)
        if self._limited:
            return n
        if self._tail and i == 0:
            # a magic that starts in the previous chunk's tail: it cannot lie wholly inside this chunk's
            # first len(_NEEDLE)-1 bytes, so any match here starts in the tail
            joined = self._tail + bytes(mv[: len(_NEEDLE) - 1])
            j = joined.find(_NEEDLE)
            if j >= 0 and self._in_ranges(base - len(self._tail) + j):
                self._open_container(base - len(self._tail) + j)
                self._buf += self._tail[j:]
                self._tail = b""
                return 0
        for lo, hi in self._scan_spans(base + i, base + n):
            m = _NEEDLE_RE.search(mv, lo - base, hi - base)
            if m is not None:
                self._open_container(base + m.start())
                return m.start()
        return n

    def _rescan(self, at: int) -> None:
        self._state = _SCAN
        self._scan_from = at

    def _in_ranges(self, at: int) -> bool:
        if self.ranges is None:
            return True
        return any(a <= at < b for a, b in self.ranges)

    def _header_done(self, end: int) -> None:
        if self._state == _CHEAD:
            _magic, _ver, _hs, fat = _HEADER.unpack_from(self._buf)
            start = end - _HEADER.size
            self.containers += 1
            if fat == 0:  # nvcc emits empty containers
                self._rescan(end)
                return
            if self.size is not None and end + fat > self.size:
                self._diag(
                    "BN150",
                    f"fatbinary container at offset {start} declares {fat} bytes, past the end of the file",
                    [f"container size {fat}", f"file size {self.size}"],
                )
                self._rescan(end)
                return
            self._cont_end = end + fat
            self._cont_start = start
            self._start_entry(end)
            return
        hdr = _ENTRY.unpack_from(self._buf)
        kind, _v, hs, size, csize = hdr[:5]
        problem = None
        if hs < _ENTRY.size or hs > MAX_ENTRY_HEADER:
            problem = f"entry header size {hs} outside {_ENTRY.size}..{MAX_ENTRY_HEADER}"
        elif len(self._buf) < hs:  # the rest of a longer header (PTX options, SASS capability list)
            self._need = hs
            return
        if problem:
            pass
        elif kind not in (KIND_PTX, KIND_ELF):
            problem = f"unknown entry kind {kind}"
        elif self._entry_start + hs + size > self._cont_end:
            problem = f"payload of {size} bytes runs past the container end"
        elif csize > size and hdr[11] & (FLAG_COMPRESSED_LZ | FLAG_COMPRESSED_ZSTD):
            problem = f"compressed size {csize} larger than the stored payload {size}"
        if problem:
            self._diag(
                "BN151",
                f"fatbinary entry at offset {self._entry_start} is malformed: {problem}",
                [f"kind {kind}", f"header size {hs}", f"payload size {size}"],
            )
            self._rescan(end)
            return
        self._hdr = hdr
        self._pay_end = end + size
        self._pay_head = bytearray()
        self._state = _PAYLOAD
        if size == 0:
            self._payload_done()

    def _start_entry(self, at: int) -> None:
        if at >= self._cont_end:
            self._rescan(at)
            return
        if self._cont_end - at < _ENTRY.size:
            self._diag(
                "BN151",
                f"fatbinary container ends {self._cont_end - at} bytes into an entry header at offset {at}",
                [f"container end {self._cont_end}"],
            )
            self._rescan(at)
            return
        self._state = _EHEAD
        self._buf = bytearray()
        self._need = _ENTRY.size
        self._entry_start = at

    def _payload_done(self) -> None:
        csize = self._hdr[4]
        head = bytes(self._pay_head)
        if self._hdr[11] & FLAG_COMPRESSED_ZSTD and csize:
            head = head[:csize]
        if len(self.raw_entries) < self.max_entries:
            self.raw_entries.append(_entry(self._hdr, head))
            self.container_offsets.append(self._cont_start)
        else:
            if not self._limited:
                self._diag(
                    "BN110",
                    f"more than {self.max_entries} fatbinary entries; the rest are not listed",
                    [f"limit {self.max_entries}"],
                )
            self._limited = True
        self._start_entry(self._pay_end)

    @property
    def entries(self) -> list[FatbinEntry]:
        """The entries found so far."""
        from envresolve.binary.model import FatbinEntry

        return [FatbinEntry(**e) for e in self.raw_entries]

    @property
    def idle(self) -> bool:
        """True between containers: stopping the stream here leaves no container half read."""
        return self._state == _SCAN

    def finish(self) -> None:
        """Call at the end of the stream: a container still open means the file lied or was cut."""
        if self._state != _SCAN:
            self._diag(
                "BN150",
                f"the file ends inside a fatbinary container (entry at offset {self._entry_start})",
                [f"stream length {self.pos}", f"container end {self._cont_end}"],
            )
            self._rescan(self.pos)


def parse_fatbin(data: bytes, *, subject: str = "<fatbin>") -> tuple[list[FatbinEntry], list[Diagnostic]]:
    """List the entries of a fatbinary blob (a `.fatbin` file or an `.nv_fatbin` section's bytes).

    Unlike the stream scanner, this expects a container at offset 0 and reports a wrong magic or an
    unknown container version (BN152) instead of skipping it; containers after the first are found as in a stream.
    """
    if len(data) < _HEADER.size:
        return [], [_make("BN150", f"{len(data)} bytes are too few for a fatbinary header", subject=subject)]
    magic, ver, hs, _fat = _HEADER.unpack_from(data)
    if magic != FATBIN_MAGIC or ver != 1 or hs != _HEADER.size:
        return [], [
            _make(
                "BN152",
                f"not a known fatbinary container: magic {magic:#x}, version {ver}, header size {hs}",
                subject=subject,
                evidence=["known: magic 0xba55ed50, version 1, header size 16"],
            )
        ]
    scanner = FatbinScanner(subject=subject, size=len(data))
    scanner.feed(data)
    scanner.finish()
    return scanner.entries, scanner.diagnostics
