"""The two views of the one ELF reader agree: streaming facts (`read_elf_file`) and symbol lookup (`DynObject`)."""

from __future__ import annotations

import lzma
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection

from envresolve.binary.elf import TAG_ARCH_MACHINES, DynObject, read_dyninfo, read_elf_file
from envresolve.binary.wheel import platform_tag_archs

BIN = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"
PLAIN = sorted(p.name for p in BIN.iterdir() if not p.name.endswith(".xz"))


@pytest.fixture(scope="module")
def static_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("elf") / "libcuda_static.so"
    out.write_bytes(lzma.decompress((BIN / "libcuda_static.so.xz").read_bytes()))
    return out


def _path(name: str, static_so: Path) -> Path:
    return static_so if name == "libcuda_static.so" else BIN / name


def _verdefs_pyelftools(path: Path) -> list[str]:
    with path.open("rb") as f:
        for sec in ELFFile(f).iter_sections():
            if isinstance(sec, GNUVerDefSection):
                return [next(iter(aux)).name for _vd, aux in sec.iter_versions()]
    return []


@pytest.mark.parametrize("name", [*PLAIN, "libcuda_static.so"])
def test_both_views_say_the_same(name: str, static_so: Path) -> None:
    path = _path(name, static_so)
    facts, diags = read_elf_file(path, symbols=True)
    assert diags == [] and facts is not None
    with DynObject(path) as obj:
        info = obj.info()
        assert (info.elf_class, info.machine, info.soname) == (facts.elf_class, facts.machine, facts.soname)
        assert (info.needed, info.rpath, info.runpath) == (facts.needed, facts.rpath, facts.runpath)
        assert info.version_defs == facts.version_defs
        libs = set(facts.version_needs) | set(facts.weak_version_needs)
        assert set(info.version_needs) == libs
        for lib in libs:
            want = {*facts.version_needs.get(lib, ()), *facts.weak_version_needs.get(lib, ())}
            assert set(info.version_needs[lib]) == want
        assert info.weak_version_needs == {v for vs in facts.weak_version_needs.values() for v in vs}
        # every symbol the facts view lists as defined, the lookup view finds through the hash tables
        assert facts.defined_symbols is not None and facts.undefined_symbols is not None
        for sym in facts.defined_symbols:
            base, _, version = sym.partition("@")
            assert obj.exports(base, version or None), sym
        und = {f"{u.name}@{u.version}" if u.version else u.name for u in obj.undefined_symbols()}
        assert und == set(facts.undefined_symbols)
        assert obj.version_definitions() == _verdefs_pyelftools(path)


def test_version_definitions_of_the_system_libstdcxx_match_pyelftools() -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("needs gcc")
    lib = Path(subprocess.check_output([gcc, "-print-file-name=libstdc++.so.6"], text=True).strip())
    if not lib.is_file():
        pytest.skip("no libstdc++.so.6 next to gcc")
    with DynObject(lib) as obj:
        names = obj.version_definitions()
    assert names == _verdefs_pyelftools(lib)
    assert "GLIBCXX_3.4" in names and "CXXABI_1.3" in names


@pytest.mark.parametrize(
    ("e_machine", "little", "want"),
    [(3, True, "i386"), (40, True, "arm"), (243, True, "riscv"), (21, True, "ppc64le"), (21, False, "ppc64"),
     (62, True, "x86_64"), (183, True, "aarch64"), (22, False, "s390x"), (0x1234, True, "em_4660")],
)  # fmt: skip
def test_one_naming_of_machines(tmp_path: Path, e_machine: int, little: bool, want: str) -> None:
    """Both views name a machine the same way (an ELF64 header alone: no program or section headers)."""
    e = "<" if little else ">"
    ident = b"\x7fELF" + bytes([2, 1 if little else 2, 1]) + bytes(9)
    path = tmp_path / "m.so"
    path.write_bytes(ident + struct.pack(e + "HHIQQQIHHHHHH", 3, e_machine, 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0))
    facts, _diags = read_elf_file(path)
    assert facts is not None and facts.machine == want
    assert read_dyninfo(path).machine == want


def test_every_platform_tag_architecture_names_a_machine_of_the_reader() -> None:
    assert TAG_ARCH_MACHINES["x86_64"] == "x86_64" and TAG_ARCH_MACHINES["i686"] == "i386"
    for plat in ("manylinux_2_28_x86_64", "manylinux2014_aarch64", "musllinux_1_2_ppc64le", "linux_armv7l"):
        (arch,) = platform_tag_archs(plat)
        assert arch in TAG_ARCH_MACHINES, plat
