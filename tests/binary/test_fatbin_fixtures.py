"""Fatbinary entries against NVIDIA's cuobjdump (PyPI package nvidia-cuda-cuobjdump) on nvcc 13.0 fixtures."""

from __future__ import annotations

import lzma
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envresolve.binary.elf import read_elf_file
from envresolve.binary.fatbin import FatbinScanner, parse_fatbin
from envresolve.binary.model import FatbinEntry

BIN = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"
CUDA = ["libcuda_sass.so", "libcuda_ptx.so", "libcuda_mixed.so", "libcuda_sm90a.so", "libcuda_sm100f.so",
        "libcuda_compressed.so", "libcuda_lz.so", "libcuda_static.so", "libcuda_nort.so",
        "libcuda_dlopen.so", "libcuda_rdc.so"]  # fmt: skip


def _cuobjdump() -> str | None:
    for base in map(Path, sys.path):
        for cand in sorted((base / "nvidia").glob("cu*/bin/cuobjdump")) if (base / "nvidia").is_dir() else []:
            return str(cand)
        cand = base / "nvidia" / "cuda_cuobjdump" / "bin" / "cuobjdump"
        if cand.is_file():
            return str(cand)
    return shutil.which("cuobjdump")


CUOBJDUMP = _cuobjdump()
needs_cuobjdump = pytest.mark.skipif(
    CUOBJDUMP is None, reason="cuobjdump not found: `pip install nvidia-cuda-cuobjdump` (the test extra has it)"
)


@pytest.fixture(scope="module")
def static_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fatbin") / "libcuda_static.so"
    out.write_bytes(lzma.decompress((BIN / "libcuda_static.so.xz").read_bytes()))
    return out


def path_of(name: str, static_so: Path) -> Path:
    return static_so if name == "libcuda_static.so" else BIN / name


def oracle(path: Path) -> list[tuple[str, str, str | None, bool]]:
    """(kind, arch, PTX code version, compressed) per entry, in file order, from cuobjdump's default listing."""
    assert CUOBJDUMP is not None
    text = subprocess.run([CUOBJDUMP, str(path)], capture_output=True, text=True, check=True).stdout
    out = []
    for block in re.split(r"\n(?=Fatbin (?:elf|ptx) code:)", text):
        m = re.match(r"\s*Fatbin (elf|ptx) code:", block)
        if not m:
            continue
        arch = re.search(r"arch = (\S+)", block)
        ver = re.search(r"code version = \[(\d+),(\d+)\]", block)
        assert arch and ver
        kind = "sass" if m.group(1) == "elf" else "ptx"
        out.append(
            (
                kind,
                arch.group(1),
                f"{ver.group(1)}.{ver.group(2)}" if kind == "ptx" else None,
                bool(re.search(r"^compressed$", block, re.M)),
            )
        )
    return out


def listed(path: Path, flag: str) -> list[str]:
    assert CUOBJDUMP is not None
    proc = subprocess.run([CUOBJDUMP, flag, str(path)], capture_output=True, text=True, check=True)
    return re.findall(r"(?:ELF|PTX) file\s+\d+: \S+\.(sm_\w+)\.(?:cubin|ptx)", proc.stdout)


def mine(path: Path) -> tuple[FatbinEntry, ...]:
    facts, diags = read_elf_file(path)
    assert diags == []
    assert facts is not None
    return facts.fatbin


@needs_cuobjdump
@pytest.mark.parametrize("name", CUDA)
def test_entries_match_cuobjdump(name: str, static_so: Path) -> None:
    path = path_of(name, static_so)
    got = [(e.kind, e.arch, e.ptx_isa, e.compressed) for e in mine(path)]
    assert got == oracle(path)


@needs_cuobjdump
@pytest.mark.parametrize("name", CUDA)
def test_counts_match_cuobjdump_lists(name: str, static_so: Path) -> None:
    path = path_of(name, static_so)
    entries = mine(path)
    assert len(listed(path, "--list-elf")) == sum(e.kind == "sass" for e in entries)
    assert len(listed(path, "--list-ptx")) == sum(e.kind == "ptx" for e in entries)


def _archs(name: str, static_so: Path, kind: str) -> set[str]:
    return {e.arch for e in mine(path_of(name, static_so)) if e.kind == kind}


def test_gencode_combinations(static_so: Path) -> None:
    # SASS only
    assert _archs("libcuda_sass.so", static_so, "sass") == {"sm_75", "sm_86"}
    assert _archs("libcuda_sass.so", static_so, "ptx") == set()
    # PTX only
    assert _archs("libcuda_ptx.so", static_so, "sass") == set()
    assert _archs("libcuda_ptx.so", static_so, "ptx") == {"sm_80"}
    # mixed
    assert _archs("libcuda_mixed.so", static_so, "sass") == {"sm_75", "sm_90"}
    assert _archs("libcuda_mixed.so", static_so, "ptx") == {"sm_90"}
    # arch-specific and family targets
    e90a = mine(BIN / "libcuda_sm90a.so")
    assert {(e.kind, e.arch, e.sm, e.variant) for e in e90a} == {
        ("sass", "sm_90a", 90, "a"),
        ("ptx", "sm_90a", 90, "a"),
    }
    e100f = mine(BIN / "libcuda_sm100f.so")
    assert {(e.kind, e.arch, e.sm, e.variant) for e in e100f} == {
        ("sass", "sm_100f", 100, "f"),
        ("ptx", "sm_100f", 100, "f"),
    }


def test_versions_and_compression() -> None:
    for e in mine(BIN / "libcuda_mixed.so"):
        if e.kind == "ptx":
            assert e.ptx_isa == "9.0"  # nvcc 13.0 writes PTX ISA 9.0
            assert e.compressed  # nvcc 13 compresses PTX by default
        else:
            assert e.ptx_isa is None
            assert e.toolkit == "13.0"  # from the cubin's .note.nv.tkinfo
            assert not e.compressed
    compressed = mine(BIN / "libcuda_compressed.so")
    assert all(e.compressed for e in compressed)
    assert {e.toolkit for e in compressed if e.kind == "sass"} == {"13.0"}  # read through zstd
    lz = mine(BIN / "libcuda_lz.so")  # --compress-mode=speed: the LZ-style flag 0x2000
    assert lz and all(e.compressed for e in lz)
    assert {(e.kind, e.arch) for e in lz} == {("sass", "sm_86"), ("ptx", "sm_86")}


def test_no_device_code_in_plain_objects() -> None:
    for name in ("libplain.so.1", "libcxx11.so", "libversioned.so.1"):
        assert mine(BIN / name) == ()


def _section(path: Path, name: str) -> bytes:
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        assert sec is not None
        return bytes(sec.data())


def test_parse_fatbin_on_a_section_agrees_with_the_stream() -> None:
    path = BIN / "libcuda_mixed.so"
    data = _section(path, ".nv_fatbin")
    entries, diags = parse_fatbin(data)
    assert diags == []
    assert len(entries) >= 2  # parse_fatbin reads the first container
    assert tuple(entries) == mine(path)[: len(entries)]
    scanner = FatbinScanner(subject="section", size=len(data))
    for i in range(0, len(data), 5):
        scanner.feed(data[i : i + 5])
    scanner.finish()
    assert tuple(scanner.entries) == mine(path)
    assert scanner.containers == 2
