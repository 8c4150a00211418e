"""The ELF reader against pyelftools and readelf, on real objects built by tests/fixtures/elf/build.sh."""

from __future__ import annotations

import lzma
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection

from envresolve.binary.elf import COUNTERS, is_elf_magic, read_elf, read_elf_file
from envresolve.binary.model import CudaRuntimeLink

BIN = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"
PLAIN = sorted(p.name for p in BIN.iterdir() if not p.name.endswith(".xz"))


@pytest.fixture(scope="module")
def static_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("elf") / "libcuda_static.so"
    out.write_bytes(lzma.decompress((BIN / "libcuda_static.so.xz").read_bytes()))
    return out


def fixture_path(name: str, static_so: Path) -> Path:
    return static_so if name == "libcuda_static.so" else BIN / name


ALL = [*PLAIN, "libcuda_static.so"]


def oracle(path: Path) -> dict[str, object]:
    """Everything pyelftools says, in the reader's shape (section headers, the classic route)."""
    out: dict[str, object] = {"needed": [], "soname": None, "rpath": [], "runpath": [], "vn": {}, "weak": {}, "vd": []}
    ver_index: dict[int, str] = {}
    with path.open("rb") as f:
        elf = ELFFile(f)
        out["class"] = elf.elfclass
        out["machine"] = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}.get(elf["e_machine"], elf["e_machine"])
        for sec in elf.iter_sections():
            if isinstance(sec, DynamicSection):
                for t in sec.iter_tags():
                    tag = t.entry.d_tag
                    if tag == "DT_NEEDED":
                        out["needed"].append(t.needed)  # type: ignore[attr-defined]
                    elif tag == "DT_SONAME":
                        out["soname"] = t.soname
                    elif tag == "DT_RPATH":
                        out["rpath"] += [p for p in t.rpath.split(":") if p]  # type: ignore[operator]
                    elif tag == "DT_RUNPATH":
                        out["runpath"] += [p for p in t.runpath.split(":") if p]  # type: ignore[operator]
            elif isinstance(sec, GNUVerNeedSection):
                for vn, auxs in sec.iter_versions():
                    names = out["vn"].setdefault(vn.name, [])  # type: ignore[attr-defined]
                    for a in auxs:
                        into = out["weak"].setdefault(vn.name, []) if a["vna_flags"] & 2 else names  # type: ignore[attr-defined]
                        if a.name not in into:
                            into.append(a.name)
                        ver_index[a["vna_other"] & 0x7FFF] = a.name
            elif isinstance(sec, GNUVerDefSection):
                for vd, auxs in sec.iter_versions():
                    name = next(iter(auxs)).name
                    ver_index[vd["vd_ndx"]] = name
                    if not vd["vd_flags"] & 1:
                        out["vd"].append(name)  # type: ignore[attr-defined]
        dynsym = elf.get_section_by_name(".dynsym")
        versym = elf.get_section_by_name(".gnu.version")
        defined, undefined = set(), set()
        if isinstance(dynsym, SymbolTableSection):
            for i, sym in enumerate(dynsym.iter_symbols()):
                if i == 0 or not sym.name or sym["st_info"]["type"] in ("STT_SECTION", "STT_FILE"):
                    continue
                name = sym.name
                if isinstance(versym, GNUVerSymSection):
                    v = versym.get_symbol(i)["ndx"]
                    v = v if isinstance(v, int) else {"VER_NDX_LOCAL": 0, "VER_NDX_GLOBAL": 1}[v]
                    if v & 0x7FFF > 1 and (v & 0x7FFF) in ver_index:
                        name = f"{name}@{ver_index[v & 0x7FFF]}"
                (undefined if sym["st_shndx"] == "SHN_UNDEF" else defined).add(name)
        out["defined"] = sorted(defined)
        out["undefined"] = sorted(undefined)
    return out


@pytest.mark.parametrize("name", ALL)
def test_reader_matches_pyelftools(name: str, static_so: Path) -> None:
    path = fixture_path(name, static_so)
    facts, diags = read_elf_file(path, symbols=True)
    assert diags == []
    assert facts is not None
    want = oracle(path)
    assert facts.elf_class == want["class"]
    assert facts.machine == want["machine"]
    assert facts.soname == want["soname"]
    assert list(facts.needed) == want["needed"]
    assert list(facts.rpath) == want["rpath"]
    assert list(facts.runpath) == want["runpath"]
    assert {k: list(v) for k, v in facts.version_needs.items()} == want["vn"]
    assert {k: list(v) for k, v in facts.weak_version_needs.items()} == want["weak"]
    assert list(facts.version_defs) == want["vd"]
    assert list(facts.defined_symbols or ()) == want["defined"]
    assert list(facts.undefined_symbols or ()) == want["undefined"]
    assert facts.size == path.stat().st_size


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed")
@pytest.mark.parametrize("name", ALL)
def test_needed_and_versions_match_readelf(name: str, static_so: Path) -> None:
    path = fixture_path(name, static_so)
    facts, _ = read_elf_file(path)
    assert facts is not None
    text = subprocess.run(["readelf", "-dV", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    needed = [line.split("[", 1)[1].rstrip("]") for line in text.splitlines() if "(NEEDED)" in line]
    assert list(facts.needed) == needed
    needs = text.split("Version needs section", 1)[1] if "Version needs section" in text else ""
    lines = [line for line in needs.splitlines() if "Name: " in line and "Flags:" in line]
    versions = {line.split("Name: ")[1].split()[0] for line in lines}
    assert {v for vs in facts.version_needs.values() for v in vs} == versions


def test_symbols_are_only_returned_on_demand() -> None:
    facts, _ = read_elf_file(BIN / "libversioned.so.1")
    assert facts is not None
    assert facts.defined_symbols is None and facts.undefined_symbols is None
    facts, _ = read_elf_file(BIN / "libversioned.so.1", symbols=True)
    assert facts is not None
    assert {"fx_old@FX_1.0", "fx_new@FX_1.1", "fx_other@FX_2.0"} <= set(facts.defined_symbols or ())


def test_specific_facts() -> None:
    plain, _ = read_elf_file(BIN / "libplain.so.1")
    assert plain is not None
    assert plain.soname == "libplain.so.1"
    assert plain.needs("GLIBC") == "2.2.5"
    assert "libm.so.6" in plain.needed
    rpath, _ = read_elf_file(BIN / "libpaths_rpath.so")
    assert rpath is not None and rpath.rpath == ("$ORIGIN/../lib", "/opt/x") and rpath.runpath == ()
    runpath, _ = read_elf_file(BIN / "libpaths_runpath.so")
    assert runpath is not None and runpath.runpath == ("$ORIGIN",) and runpath.rpath == ()
    versioned, _ = read_elf_file(BIN / "libversioned.so.1")
    assert versioned is not None
    assert versioned.version_defs == ("FX_1.0", "FX_1.1", "FX_2.0")
    assert versioned.defines("FX") == "2.0"


@pytest.mark.parametrize(
    ("name", "abi"),
    [
        ("libcxx11.so", "cxx11"),
        ("libprecxx11.so", "pre-cxx11"),
        ("libcxxmixed.so", "mixed"),
        ("libcxxnone.so", "none"),
        ("libplain.so.1", "none"),
    ],
)
def test_cxx_abi_flavour(name: str, abi: str) -> None:
    facts, _ = read_elf_file(BIN / name)
    assert facts is not None
    assert facts.cxx_abi == abi


@pytest.mark.parametrize(
    ("name", "link"),
    [
        ("libcuda_sass.so", CudaRuntimeLink(mode="dynamic", major=13)),
        ("libcuda_ptx.so", CudaRuntimeLink(mode="dynamic", major=13)),
        ("libcuda_static.so", CudaRuntimeLink(mode="static", major=None)),
        ("libcuda_nort.so", CudaRuntimeLink(mode="dynamic", major=None)),  # -cudart none: imports, no NEEDED
        ("libcuda_dlopen.so", CudaRuntimeLink(mode="dlopen", major=None)),  # hidden stub that dlopens libcudart
        ("libplain.so.1", None),
        ("libcxx11.so", None),
    ],
)
def test_cuda_runtime_linkage(name: str, link: CudaRuntimeLink | None, static_so: Path) -> None:
    facts, _ = read_elf_file(fixture_path(name, static_so))
    assert facts is not None
    assert facts.cuda_runtime == link


def test_static_cudart_has_no_libcudart_needed(static_so: Path) -> None:
    facts, _ = read_elf_file(static_so)
    assert facts is not None
    assert not any(n.startswith("libcudart") for n in facts.needed)
    assert facts.fatbin  # device code registered by the runtime linked inside


_SMALL = ["libcuda_mixed.so", "libpatched.so", "libversioned.so.1"]


@pytest.mark.parametrize(
    ("name", "chunk"),
    [(n, c) for n in _SMALL for c in (1, 7, 64, 4096, 1 << 20)]
    + [("libcuda_static.so", c) for c in (61, 4096, 1 << 20)],  # 700 kB: byte-sized chunks would only be slow
)
def test_chunking_does_not_change_the_answer(name: str, chunk: int, static_so: Path) -> None:
    data = fixture_path(name, static_so).read_bytes()
    whole, _ = read_elf([data], path=name, size=len(data), symbols=True, reopen=lambda: [data])
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    pieces, diags = read_elf(iter(chunks), path=name, size=len(data), symbols=True, reopen=lambda: iter(chunks))
    assert diags == []
    assert pieces == whole


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_patchelf_moved_tables_are_read_in_one_pass(chunk: int) -> None:
    """patchelf put .dynstr after the original segments, in the segment of .dynamic; .dynsym in another one."""
    data = (BIN / "libpatched.so").read_bytes()
    before = COUNTERS["reopen_passes"]
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    facts, diags = read_elf(chunks, path="libpatched.so", size=len(data))
    assert diags == []
    assert facts is not None
    assert "libz.so.1" in facts.needed
    assert facts.runpath[0].startswith("/a/very/long/rpath")  # patchelf --set-rpath writes DT_RUNPATH
    assert COUNTERS["reopen_passes"] == before


def test_tables_outside_the_kept_windows_use_a_second_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import envresolve.binary.elf as elf

    data = (BIN / "libplain.so.1").read_bytes()
    monkeypatch.setattr(elf, "PREFIX_RETAIN", 64)
    opened = []

    def reopen() -> list[bytes]:
        opened.append(1)
        return [data[i : i + 100] for i in range(0, len(data), 100)]

    before = COUNTERS["reopen_passes"]
    chunks = [data[i : i + 256] for i in range(0, len(data), 256)]
    facts, diags = read_elf(chunks, path="libplain.so.1", size=len(data), symbols=True, reopen=reopen)
    assert diags == []
    assert facts is not None and facts.needs("GLIBC") == "2.2.5" and facts.soname == "libplain.so.1"
    assert opened and COUNTERS["reopen_passes"] > before
    # without a way to reopen: the facts that need those bytes are unknown, and BN108 says so
    facts, diags = read_elf(chunks, path="libplain.so.1", size=len(data))
    assert facts is not None and facts.needed == ()
    assert [d.code for d in diags] == ["BN108"]


def test_symbols_behind_the_kept_windows_need_a_second_pass() -> None:
    """libpatched.so has .dynsym in a segment of its own before PT_DYNAMIC: without reopen, BN108."""
    data = (BIN / "libpatched.so").read_bytes()
    chunks = [data[i : i + 64] for i in range(0, len(data), 64)]
    facts, diags = read_elf(chunks, path="p.so", size=len(data), symbols=True)
    assert [d.code for d in diags] == ["BN108"]
    assert facts is not None and "libz.so.1" in facts.needed  # names and versions are still read
    assert facts.defined_symbols is None
    facts, diags = read_elf(chunks, path="p.so", size=len(data), symbols=True, reopen=lambda: chunks)
    assert diags == [] and facts is not None and "plain_hypot" in (facts.defined_symbols or ())


def _elf64_strtab_after_dynamic(e: str = "<", machine: int = 62) -> bytes:
    """A minimal ELF64 object laid out like torch's _C.so: .dynstr after .dynamic (patchelf)."""
    dynstr = b"\0libfoo.so.1\0libbar.so\0$ORIGIN/x\0"
    dyn_off, str_off, size = 0x100, 0x1000, 0x1100
    buf = bytearray(size)
    ident = b"\x7fELF" + bytes([2, 1 if e == "<" else 2, 1]) + bytes(9)
    struct.pack_into(e + "16sHHIQQQIHHHHHH", buf, 0, ident, 3, machine, 1, 0, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    struct.pack_into(e + "IIQQQQQQ", buf, 64, 1, 6, 0, 0, 0, size, size, 0x1000)  # PT_LOAD, RW, whole file
    struct.pack_into(e + "IIQQQQQQ", buf, 120, 2, 6, dyn_off, dyn_off, dyn_off, 16 * 5, 16 * 5, 8)  # PT_DYNAMIC
    for i, (t, v) in enumerate([(1, 1), (1, 13), (5, str_off), (10, len(dynstr)), (29, 23)]):
        struct.pack_into(e + "QQ", buf, dyn_off + 16 * i, t, v)
    buf[str_off : str_off + len(dynstr)] = dynstr
    return bytes(buf)


def test_big_endian_object() -> None:
    data = _elf64_strtab_after_dynamic(">", machine=22)
    facts, diags = read_elf([data], path="be.so", size=len(data))
    assert diags == []
    assert facts is not None and facts.machine == "s390x" and facts.elf_class == 64
    assert facts.needed == ("libfoo.so.1", "libbar.so") and facts.runpath == ("$ORIGIN/x",)


@pytest.mark.parametrize("chunk", [16, 100, 4096, 1 << 20])
def test_tables_after_the_dynamic_section_are_captured_on_the_way(chunk: int) -> None:
    data = _elf64_strtab_after_dynamic()
    before = COUNTERS["reopen_passes"]
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    facts, diags = read_elf(iter(chunks), path="c.so", size=len(data))
    assert diags == [], diags
    assert facts is not None
    assert facts.needed == ("libfoo.so.1", "libbar.so") and facts.runpath == ("$ORIGIN/x",)
    assert COUNTERS["reopen_passes"] == before


def test_weak_version_needs_are_kept_apart() -> None:
    """VER_FLG_WEAK needs do not stop the loader; they must not raise the 'highest GLIBC needed'."""
    import io

    data = bytearray((BIN / "libplain.so.1").read_bytes())
    sec = ELFFile(io.BytesIO(bytes(data))).get_section_by_name(".gnu.version_r")
    assert sec is not None
    off = sec["sh_offset"]
    rel = 0
    while True:  # mark every aux record weak
        _v, cnt, _f, aux, nxt = struct.unpack_from("<HHIII", data, off + rel)
        a = rel + aux
        for _ in range(cnt):
            struct.pack_into("<H", data, off + a + 4, 2)
            a += struct.unpack_from("<I", data, off + a + 12)[0]
        if not nxt:
            break
        rel += nxt
    facts, diags = read_elf([bytes(data)], path="weak.so", size=len(data))
    assert diags == [] and facts is not None
    assert facts.needs("GLIBC") is None
    assert "GLIBC_2.2.5" in facts.weak_version_needs["libc.so.6"]


def test_is_elf_magic() -> None:
    assert is_elf_magic((BIN / "libplain.so.1").read_bytes()[:16])
    assert not is_elf_magic(b"INPUT(-lc)")
    assert not is_elf_magic(b"")


def test_unreadable_path_is_a_diagnostic(tmp_path: Path) -> None:
    facts, diags = read_elf_file(tmp_path / "missing.so")
    assert facts is None and [d.code for d in diags] == ["GN101"]
