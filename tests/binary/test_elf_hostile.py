"""Hostile and broken ELF input: each case yields its own BN code, never an exception or a hang."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from envresolve.binary.elf import read_elf
from envresolve.diagnostics.registry import REGISTRY

BIN = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"
PLAIN = (BIN / "libplain.so.1").read_bytes()

DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME = 1, 5, 10, 14
DT_VERNEEDNUM = 0x6FFFFFFF


def codes(data: bytes, *, size: int | None = -1, **kw: object) -> list[str]:
    _facts, diags = read_elf([data], path="x.so", size=len(data) if size == -1 else size, **kw)  # type: ignore[arg-type]
    return [d.code for d in diags]


def layout(data: bytes = PLAIN) -> dict[str, int]:
    """Offsets of the structures the cases corrupt, found the classic way (section headers)."""
    import io

    elf = ELFFile(io.BytesIO(data))
    out = {}
    for name in (".dynamic", ".dynstr", ".gnu.version_r"):
        sec = elf.get_section_by_name(name)
        assert sec is not None
        out[name] = sec["sh_offset"]
        out[name + ".size"] = sec["sh_size"]
    return out


def set_dyn(data: bytes, tag: int, value: int) -> bytes:
    """Rewrite the value of the first dynamic entry with this tag."""
    buf = bytearray(data)
    lay = layout(data)
    for off in range(lay[".dynamic"], lay[".dynamic"] + lay[".dynamic.size"], 16):
        t, _v = struct.unpack_from("<QQ", buf, off)
        if t == tag:
            struct.pack_into("<QQ", buf, off, t, value)
            return bytes(buf)
    raise AssertionError(f"no dynamic tag {tag}")


def dyn_value(data: bytes, tag: int) -> int:
    lay = layout(data)
    for off in range(lay[".dynamic"], lay[".dynamic"] + lay[".dynamic.size"], 16):
        t, v = struct.unpack_from("<QQ", data, off)
        if t == tag:
            return int(v)
    raise AssertionError(tag)


def test_not_an_elf() -> None:
    assert codes(b"/* GNU ld script */\nINPUT(-lc)\n") == ["BN101"]
    assert codes(b"") == ["BN101"]
    assert codes(b"\x7fELF\x07\x01" + bytes(100)) == ["BN101"]  # unknown class


def test_truncated_inside_the_headers() -> None:
    assert codes(PLAIN[:40]) == ["BN102"]
    assert codes(PLAIN[:100]) == ["BN102"]  # inside the program header table


def test_truncated_before_the_dynamic_section() -> None:
    cut = PLAIN[: layout()[".dynamic"]]
    assert codes(cut) == ["BN102"]
    # a stream that ends before the size the archive declared
    assert "BN102" in codes(cut, size=len(PLAIN))


def test_program_headers_outside_the_file() -> None:
    buf = bytearray(PLAIN)
    struct.pack_into("<Q", buf, 32, 0xFFFFFFFF)  # e_phoff
    assert codes(bytes(buf)) == ["BN103"]
    struct.pack_into("<Q", buf, 32, len(buf) + 8)  # just past the end, within the header window
    assert codes(bytes(buf)) == ["BN103"]


def test_dynamic_segment_outside_the_file() -> None:
    buf = bytearray(PLAIN)
    phoff, phnum = 64, struct.unpack_from("<H", buf, 56)[0]
    for i in range(phnum):
        at = phoff + 56 * i
        if struct.unpack_from("<I", buf, at)[0] == 2:  # PT_DYNAMIC
            struct.pack_into("<Q", buf, at + 8, 1 << 40)  # p_offset
    assert codes(bytes(buf)) == ["BN103"]


def test_dynamic_address_outside_every_segment() -> None:
    assert codes(set_dyn(PLAIN, DT_STRTAB, 0xDEADBEEF0)) == ["BN103"]


def test_string_index_outside_the_string_table() -> None:
    assert codes(set_dyn(PLAIN, DT_NEEDED, 0x7FFFFFFF)) == ["BN103"]


def test_counts_in_the_billions() -> None:
    buf = bytearray(PLAIN)
    struct.pack_into("<H", buf, 56, 0xFFFF)  # e_phnum
    assert codes(bytes(buf)) == ["BN104"]
    assert codes(set_dyn(PLAIN, DT_VERNEEDNUM, 4_000_000_000)) == ["BN104"]
    assert codes(set_dyn(PLAIN, DT_STRSZ, 1 << 40)) == ["BN104"]


def test_verneed_record_pointing_into_itself() -> None:
    buf = bytearray(PLAIN)
    vr = layout()[".gnu.version_r"]
    struct.pack_into("<I", buf, vr + 12, 4)  # vn_next of the first record: 4 bytes ahead, inside itself
    assert codes(bytes(buf)) == ["BN105"]


def test_vernaux_chain_pointing_into_itself() -> None:
    buf = bytearray(PLAIN)
    vr = layout()[".gnu.version_r"]
    _ver, _cnt, _file, aux, _next = struct.unpack_from("<HHIII", buf, vr)
    struct.pack_into("<H", buf, vr + 2, 5)  # claim more aux records than there are
    struct.pack_into("<I", buf, vr + aux + 12, 8)  # vna_next: 8 bytes ahead, inside the same record
    assert codes(bytes(buf)) == ["BN105"]


def _elf32_with_verneed_loop() -> bytes:
    """A minimal hand-made ELF32 object whose verneed list loops back to its first record (wrap-around)."""
    dynstr = b"\0libc.so.6\0GLIBC_2.0\0"
    phoff, phnum = 52, 2
    dyn_off = 0x100
    str_off = 0x200
    vn_off = 0x240
    size = 0x300
    buf = bytearray(size)
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    struct.pack_into("<16sHHIIIIIHHHHHH", buf, 0, ident, 3, 3, 1, 0, phoff, 0, 0, 52, 32, phnum, 40, 0, 0)
    struct.pack_into("<IIIIIIII", buf, phoff, 1, 0, 0, 0, size, size, 5, 0x1000)  # PT_LOAD
    struct.pack_into("<IIIIIIII", buf, phoff + 32, 2, dyn_off, dyn_off, dyn_off, 6 * 8, 6 * 8, 6, 4)  # PT_DYNAMIC
    dyn = [(DT_NEEDED, 1), (DT_STRTAB, str_off), (DT_STRSZ, len(dynstr)), (0x6FFFFFFE, vn_off), (DT_VERNEEDNUM, 3)]
    for i, (t, v) in enumerate([*dyn, (0, 0)]):
        struct.pack_into("<II", buf, dyn_off + 8 * i, t, v)
    buf[str_off : str_off + len(dynstr)] = dynstr
    # two verneed records; the second's vn_next (-32 as u32) goes back to the first
    struct.pack_into("<HHIII", buf, vn_off, 1, 1, 1, 32, 16)
    struct.pack_into("<HHIII", buf, vn_off + 16, 1, 0, 1, 0, (1 << 32) - 16)
    struct.pack_into("<IHHII", buf, vn_off + 32, 0, 0, 2, 11, 0)
    return bytes(buf)


def test_verneed_loop_in_elf32() -> None:
    data = _elf32_with_verneed_loop()
    facts, diags = read_elf([data], path="loop.so", size=len(data))
    assert [d.code for d in diags] == ["BN105"]
    assert facts is not None and facts.elf_class == 32 and facts.machine == "i386"
    assert facts.needed == ("libc.so.6",)
    assert facts.version_needs == {"libc.so.6": ("GLIBC_2.0",)}


def test_string_without_terminator() -> None:
    lay = layout()
    strsz = dyn_value(PLAIN, DT_STRSZ)
    buf = bytearray(set_dyn(PLAIN, DT_SONAME, strsz - 1))
    buf[lay[".dynstr"] + strsz - 1] = ord("X")  # the table's last byte is no longer NUL
    assert set(codes(bytes(buf))) == {"BN106"}  # the soname, and the version name that ended there


def test_no_dynamic_section() -> None:
    buf = bytearray(PLAIN)
    struct.pack_into("<H", buf, 56, 0)  # e_phnum = 0, as in a relocatable object
    facts, diags = read_elf([bytes(buf)], path="x.o", size=len(buf))
    assert [d.code for d in diags] == ["BN107"]
    assert facts is not None and facts.needed == ()


def test_inconsistent_header() -> None:
    buf = bytearray(PLAIN)
    struct.pack_into("<H", buf, 54, 3)  # e_phentsize
    assert codes(bytes(buf)) == ["BN109"]


def test_every_code_used_here_is_registered_and_distinct() -> None:
    used = {"BN101", "BN102", "BN103", "BN104", "BN105", "BN106", "BN107", "BN108", "BN109", "BN110"}
    assert used <= set(REGISTRY)
    assert len({REGISTRY[c].name for c in used}) == len(used)


@pytest.mark.parametrize("cut", [0, 1, 3, 4, 5, 17, 52, 63, 64, 65, 200, 1000, 4096, 8000, 12000])
def test_any_prefix_is_handled(cut: int) -> None:
    facts, diags = read_elf([PLAIN[:cut]], path="x.so", size=cut)
    if facts is None:
        assert diags
    assert all(d.code.startswith("BN") for d in diags)
