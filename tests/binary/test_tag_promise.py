"""BN601 judges a wheel's platform tag by its manylinux policy's GLIBCXX_/CXXABI_ ceilings (matrices/abi.yaml, from
pypa's policy data), not only by the glibc in the tag's name."""

from __future__ import annotations

from pathlib import Path

from envresolve.binary import inspect
from envresolve.binary.model import ElfFacts
from envresolve.binary.report import build_report
from envresolve.binary.wheel import platform_tag_promise
from tests.fixtures.archives import build


def elf(path: str, machine: str = "x86_64", **needs: tuple[str, ...]) -> ElfFacts:
    return ElfFacts(path=path, elf_class=64, machine=machine, version_needs=needs)


def _report(plat: str, member: ElfFacts):  # type: ignore[no-untyped-def]
    from envresolve.binary.wheel import platform_tag_glibc

    return build_report(
        artifact="x.whl",
        kind="wheel",
        elf=[member],
        platform_tag=plat,
        tag_glibc=platform_tag_glibc(plat),
        tag_promise=platform_tag_promise(plat),
    )


def test_policy_ceilings_of_tags() -> None:
    p = platform_tag_promise("manylinux2014_x86_64.manylinux_2_17_x86_64")
    assert p is not None and (p.policy, p.glibc, p.glibcxx, p.cxxabi) == ("manylinux_2_17", "2.17", "3.4.19", "1.3.7")
    assert "auditwheel" in p.source and "(read 20" in p.source
    low = platform_tag_promise("manylinux_2_28_x86_64.manylinux_2_17_x86_64")
    assert low is not None and low.policy == "manylinux_2_17"  # the weakest promise of the set
    assert platform_tag_promise("manylinux_2_29_x86_64") is None  # pypa defines no such policy
    assert platform_tag_promise("manylinux2014_ppc64le") is None  # not in the matrix
    assert platform_tag_promise("musllinux_1_2_x86_64") is None


def test_glibcxx_above_the_policy_is_bn601_even_with_an_honest_glibc() -> None:
    so = elf("pkg/_ext.so", **{"libc.so.6": ("GLIBC_2.17",), "libstdc++.so.6": ("GLIBCXX_3.4.26", "CXXABI_1.3.7")})
    (d,) = _report("manylinux2014_x86_64", so).diagnostics
    assert d.code == "BN601" and d.severity.value == "warning"
    assert "manylinux_2_17" in d.message and "GLIBCXX_3.4.19 at most" in d.message and "GLIBCXX_3.4.26" in d.message
    assert "GLIBC_" not in d.message.replace("GLIBCXX", "")
    assert any(e.fact.startswith("pkg/_ext.so needs GLIBCXX_3.4.26 (from libstdc++.so.6)") for e in d.evidence)
    assert any(e.source and "auditwheel" in e.source for e in d.evidence)
    assert "libstdc++ defining GLIBCXX_3.4.26" in (d.hint or "")


def test_needs_within_the_policy_are_quiet() -> None:
    so = elf("pkg/_ext.so", **{"libc.so.6": ("GLIBC_2.28",), "libstdc++.so.6": ("GLIBCXX_3.4.24", "CXXABI_1.3.11")})
    assert _report("manylinux_2_28_x86_64", so).diagnostics == ()
    # a policy with no row keeps the glibc-only judgement
    assert _report("manylinux_2_30_x86_64", so).diagnostics == ()


def test_manylinux2014_aarch64_may_need_glibc_2_18() -> None:
    so = elf("pkg/_ext.so", "aarch64", **{"libc.so.6": ("GLIBC_2.18",)})
    assert _report("manylinux2014_aarch64", so).diagnostics == ()
    so19 = elf("pkg/_ext.so", "aarch64", **{"libc.so.6": ("GLIBC_2.19",)})
    (d,) = _report("manylinux2014_aarch64", so19).diagnostics
    assert d.code == "BN601" and "GLIBC_2.19" in d.message


def test_real_wheel_names_every_understated_family(tmp_path: Path) -> None:
    r = inspect(build.demo_wheel(tmp_path), cache=False)
    assert r.platform_tag == "manylinux2014_x86_64"
    (d,) = r.diagnostics
    assert d.code == "BN601"
    assert "GLIBC_2.34" in d.message and "GLIBCXX_3.4.21" in d.message and "CXXABI_1.3.9" in d.message
