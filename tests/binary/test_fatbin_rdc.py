"""Relocatable device code (`nvcc -rdc=true`): `.nv_fatbin` against `__nv_relfatbin`, section headers, early stop."""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import envresolve.binary.elf as elf
from envresolve.binary.elf import read_elf, read_elf_file
from envresolve.binary.report import build_report

from .test_fatbin_fixtures import BIN, CUOBJDUMP, needs_cuobjdump, oracle

RDC = BIN / "libcuda_rdc.so"


def _all_listing(path: Path) -> list[tuple[str, str]]:
    """(kind, arch) of every entry cuobjdump -all shows (loadable and relocatable), sorted."""
    assert CUOBJDUMP is not None
    text = subprocess.run([CUOBJDUMP, "-all", str(path)], capture_output=True, text=True, check=True).stdout
    found = re.findall(r"Fatbin (elf|ptx) code:\s*=+\s*arch = (\S+)", text)
    return sorted(("sass" if k == "elf" else "ptx", a) for k, a in found)


def _stream(data: bytes, size: int, fed: list[int]) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        fed.append(i)
        yield data[i : i + size]


@needs_cuobjdump
def test_relfatbin_is_kept_apart_and_cuobjdump_agrees() -> None:
    facts, diags = read_elf_file(RDC)
    assert diags == [] and facts is not None
    # the default listing (what the driver can load) is exactly .nv_fatbin: SASS only
    assert [(e.kind, e.arch, e.ptx_isa, e.compressed) for e in facts.fatbin] == oracle(RDC)
    assert {(e.kind, e.arch) for e in facts.fatbin} == {("sass", "sm_75"), ("sass", "sm_90")}
    # -all adds the relocatable inputs, including the PTX that no GPU can JIT from this object
    both = sorted([(e.kind, e.arch) for e in (*facts.fatbin, *facts.relocatable_fatbin)])
    assert both == _all_listing(RDC)
    assert ("ptx", "sm_90") in {(e.kind, e.arch) for e in facts.relocatable_fatbin}


def test_relocatable_code_counts_toward_no_coverage() -> None:
    facts, _ = read_elf_file(RDC)
    assert facts is not None
    report = build_report(artifact="x", kind="elf", elf=[facts], provided=set(), diagnostics=[])
    assert report.sass_archs == ("sm_75", "sm_90") and report.ptx_archs == ()


@pytest.mark.parametrize("chunk", [7, 100, 4096])
def test_small_chunks_find_the_section_headers(chunk: int) -> None:
    data = RDC.read_bytes()
    whole, _ = read_elf_file(RDC)
    facts, diags = read_elf(_stream(data, chunk, []), path="rdc", size=len(data))
    assert diags == [] and facts is not None and whole is not None
    assert facts.fatbin == whole.fatbin and facts.relocatable_fatbin == whole.relocatable_fatbin


def _without_section_headers(data: bytes) -> bytes:
    # e_shoff (u64 at 40), e_shnum (u16 at 60), e_shstrndx (u16 at 62) zeroed, as sstrip leaves them
    out = bytearray(data)
    struct.pack_into("<Q", out, 40, 0)
    struct.pack_into("<HH", out, 60, 0, 0)
    return bytes(out)


def test_no_section_headers_count_everything_as_loadable_with_bn111() -> None:
    data = _without_section_headers(RDC.read_bytes())
    facts, diags = read_elf(iter([data]), path="rdc", size=len(data))
    assert facts is not None and [d.code for d in diags] == ["BN111"]
    assert facts.relocatable_fatbin == () and len(facts.fatbin) == 5
    # no device code: no section headers needed, no note
    plain = _without_section_headers((BIN / "libplain.so.1").read_bytes())
    facts, diags = read_elf(iter([plain]), path="plain", size=len(plain))
    assert facts is not None and diags == []


@pytest.mark.parametrize("chunk", [64, 4096, 1 << 20])
def test_shstrtab_far_before_the_section_headers_is_found_by_its_name(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """lld puts .strtab (often > 64 kB) between .shstrtab and the section headers: the tail window misses it,
    the window kept around the `.shstrtab` name seen behind the loaded segments does not."""
    monkeypatch.setattr(elf, "SHSTR_TAIL", 0)
    data = RDC.read_bytes()
    whole, _ = read_elf_file(RDC)
    facts, diags = read_elf(_stream(data, chunk, []), path="rdc", size=len(data))
    assert diags == [] and facts is not None and whole is not None
    assert facts.relocatable_fatbin == whole.relocatable_fatbin and len(facts.fatbin) == 2


def test_shstrtab_out_of_reach_falls_back_to_bn111(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elf, "SHSTR_TAIL", 0)  # .shstrtab lies before the table: not retained
    monkeypatch.setattr(elf, "SHSTR_AROUND", 0)
    data = RDC.read_bytes()
    facts, diags = read_elf(_stream(data, 64, []), path="rdc", size=len(data))
    assert facts is not None and [d.code for d in diags] == ["BN111"]
    assert len(facts.fatbin) == 5


@pytest.mark.parametrize("hostile", ["huge_shnum", "shoff_outside", "bad_shstrndx"])
def test_hostile_section_header_fields_fall_back(hostile: str) -> None:
    out = bytearray(RDC.read_bytes())
    if hostile == "huge_shnum":
        struct.pack_into("<H", out, 60, 0xFFFF)
    elif hostile == "shoff_outside":
        struct.pack_into("<Q", out, 40, 1 << 40)
    else:
        struct.pack_into("<H", out, 62, 0xFFF0)
    facts, diags = read_elf(iter([bytes(out)]), path="rdc", size=len(out))
    assert facts is not None and "BN111" in [d.code for d in diags]
    assert len(facts.fatbin) == 5


def test_the_stream_is_left_once_everything_is_in_hand() -> None:
    """Bytes behind the last thing needed (here 3 MiB after the section headers) are never pulled."""
    tail = bytes(3 << 20)
    for name, loadable in (("libplain.so.1", 0), ("libcuda_rdc.so", 2)):
        data = (BIN / name).read_bytes()
        fed: list[int] = []
        facts, diags = read_elf(_stream(data + tail, 4096, fed), path=name, size=len(data) + len(tail))
        assert diags == [] and facts is not None
        assert len(facts.fatbin) == loadable and facts.needs("GLIBC")
        assert max(fed) < len(data), name
    # a small remainder is read to the end (archive readers check member sizes there)
    data = (BIN / "libplain.so.1").read_bytes() + bytes(100_000)
    fed = []
    read_elf(_stream(data, 4096, fed), path="p", size=len(data))
    assert max(fed) + 4096 >= len(data)


def test_text_report_shows_device_link_code_apart() -> None:
    from envresolve.binary import inspect
    from envresolve.cli.inspect import render_reports_text

    text = render_reports_text([inspect(RDC, cache=False)])
    assert "SASS 75,90   PTX -" in text
    assert "device-link only (__nv_relfatbin, never loaded; 1 members): SASS 75,90   PTX 90" in text
