"""Report aggregation over member facts."""

from __future__ import annotations

from envresolve.binary.model import CudaRuntimeLink, ElfFacts, FatbinEntry
from envresolve.binary.report import build_report, is_system_lib


def elf(path: str, **kw) -> ElfFacts:  # type: ignore[no-untyped-def]
    return ElfFacts(path=path, elf_class=64, machine="x86_64", **kw)


def sass(arch: str) -> FatbinEntry:
    sm = int(arch[3:].rstrip("af"))
    return FatbinEntry(kind="sass", arch=arch, sm=sm, variant=arch[-1] if arch[-1] in "af" else "")


def test_aggregation() -> None:
    members = [
        elf(
            "pkg/libb.so",
            needed=("liba.so.1", "libcudart.so.12", "libc.so.6", "libnss_files.so.2", "libfoo.so"),
            version_needs={"libc.so.6": ("GLIBC_2.2.5", "GLIBC_2.17"), "libstdc++.so.6": ("GLIBCXX_3.4.29",)},
            fatbin=(sass("sm_90a"), sass("sm_100"), sass("sm_80"), FatbinEntry(kind="ptx", arch="sm_90", sm=90)),
        ),
        elf("pkg/.libs/liba-1234.so", soname="liba.so.1", cuda_runtime=CudaRuntimeLink(mode="static")),
        elf(
            "pkg/libc.so",
            needed=("libcublas.so.11",),
            cuda_runtime=CudaRuntimeLink(mode="dynamic", major=11),
            version_needs={"libc.so.6": ("GLIBC_2.28",)},
            fatbin=(sass("sm_90"),),
        ),
    ]
    r = build_report(artifact="x.whl", kind="wheel", elf=members, tag_glibc="2.17", platform_tag="manylinux2014_x86_64")
    assert r.external_libs == ("libc.so.6", "libcublas.so.11", "libcudart.so.12", "libfoo.so", "libnss_files.so.2")
    assert r.system_libs == ("libc.so.6", "libnss_files.so.2")
    assert r.cuda_runtime_majors == (11, 12) and r.cuda_runtime_static and not r.cuda_runtime_dlopen
    assert r.sass_archs == ("sm_80", "sm_90", "sm_90a", "sm_100") and r.ptx_archs == ("sm_90",)
    assert r.max_glibc == "2.28" and r.max_glibcxx == "3.4.29"
    (d,) = r.diagnostics
    assert d.code == "BN601" and "GLIBC_2.28" in d.message
    assert d.evidence[0].fact.startswith("pkg/libc.so needs GLIBC_2.28 (from libc.so.6)")
    assert [f.path for f in r.elf] == sorted(f.path for f in members)


def test_dlopen_runtime() -> None:
    r = build_report(artifact="a", kind="wheel", elf=[elf("a.so", cuda_runtime=CudaRuntimeLink(mode="dlopen"))])
    assert r.cuda_runtime_dlopen and r.cuda_runtime_majors == () and not r.cuda_runtime_static


def test_no_finding_when_the_tag_is_honest_or_absent() -> None:
    members = [elf("a.so", version_needs={"libc.so.6": ("GLIBC_2.17",)})]
    assert build_report(artifact="a", kind="wheel", elf=members, tag_glibc="2.17").diagnostics == ()
    assert build_report(artifact="a", kind="wheel", elf=members, tag_glibc="2.28").diagnostics == ()
    assert build_report(artifact="a", kind="wheel", elf=members).diagnostics == ()


def test_arch_mismatch_and_system_lib_names() -> None:
    r = build_report(artifact="a", kind="wheel", elf=[elf("a.so")], tag_archs=["aarch64"])
    assert [d.code for d in r.diagnostics] == ["BN602"]
    assert build_report(artifact="a", kind="wheel", elf=[elf("a.so")], tag_archs=["x86_64"]).diagnostics == ()
    assert is_system_lib("ld-linux-aarch64.so.1") and is_system_lib("libstdc++.so.6")
    assert not is_system_lib("libz.so.1") and not is_system_lib("libcuda.so.1")
