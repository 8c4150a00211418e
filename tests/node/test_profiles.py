from __future__ import annotations

import pytest

from envresolve.errors import InputError
from envresolve.node import load_node, profile_names, virtual_packages
from envresolve.node.distros import distro_matrix, infer_glibc
from envresolve.node.profiles import load_profile

#: the fleet nodes issue 2 asks for: (profile, gpu name part, compute capability, driver major, os id, os version)
REQUIRED = [
    ("h100-driver580", "H100", "9.0", "580", "ubuntu", "24.04"),
    ("a100-driver535", "A100", "8.0", "535", "ubuntu", "22.04"),
    ("v100-driver470", "V100", "7.0", "470", "centos", "7"),
    ("t4-driver550", "T4", "7.5", "550", "rhel", "8"),
    ("l4-driver570", "L4", "8.9", "570", "debian", "12"),
    ("rtx5090-driver575", "RTX 5090", "12.0", "575", "ubuntu", "24.04"),
    ("b200-driver580", "B200", "10.0", "580", "ubuntu", "24.04"),
]


@pytest.mark.parametrize(("name", "gpu", "cc", "major", "os_id", "os_version"), REQUIRED)
def test_required_profiles(name: str, gpu: str, cc: str, major: str, os_id: str, os_version: str) -> None:
    node = load_node(name)
    assert node.gpus and all(gpu in g.name and g.compute_capability == cc for g in node.gpus)
    assert node.driver is not None and node.driver.version is not None
    assert node.driver.version.split(".")[0] == major and node.driver.cuda
    assert node.os.id == os_id and (node.os.version_id or "").startswith(os_version)
    assert node.glibc and node.libstdcxx and node.libstdcxx.glibcxx
    assert node.provenance["glibc"].value == "inferred"


def test_gh200_and_cpu_only() -> None:
    gh = load_node("gh200-driver570")
    assert gh.cpu.arch == "aarch64" and gh.gpus[0].compute_capability == "9.0"
    assert ("__archspec", "1", "aarch64") in virtual_packages(gh)
    cpu = load_node("cpu-only")
    assert cpu.gpus == () and cpu.driver is None
    assert "__cuda" not in [n for n, _, _ in virtual_packages(cpu)]


def test_every_profile_cites_sources_with_dates() -> None:
    for name in profile_names():
        profile = load_profile(name)
        assert profile.sources, name
        assert all(s.read and s.title for s in profile.sources.values())
        evidence = profile.evidence()
        assert {e.fact.split(": ")[1].split(" ")[0] for e in evidence} >= {"os", "cpu"}


def test_driver_cuda_levels_are_consistent_with_driver_branches() -> None:
    # a driver reports the CUDA level of the toolkit it ships with; the branch fixes the major
    for name in profile_names():
        node = load_node(name)
        if node.driver is None:
            continue
        assert node.driver.version and node.driver.cuda
        branch = int(node.driver.version.split(".")[0])
        cuda_major = int(node.driver.cuda.split(".")[0])
        assert cuda_major == (13 if branch >= 580 else 12 if branch >= 525 else 11), name


def test_unknown_profile_suggests_close_names() -> None:
    with pytest.raises(InputError) as exc:
        load_node("h100-driver590")
    diag = exc.value.diagnostics[0]
    assert diag.code == "ND204" and diag.hint and "h100-driver580" in diag.hint


def test_distro_table() -> None:
    matrix = distro_matrix()
    assert all(row.source in matrix.sources for row in matrix.rows)
    assert infer_glibc("ubuntu", "24.04").row.glibc == "2.39"  # type: ignore[union-attr]
    assert infer_glibc("rocky", "9.3").row.glibc == "2.34"  # type: ignore[union-attr]
    assert infer_glibc("ubuntu", "24.10").row.glibc == "2.40"  # type: ignore[union-attr]
    assert infer_glibc("ubuntu", "23.10") is None  # no row, and no major-only matching for Ubuntu
    for os_id, version in [("ubuntu", "18.04"), ("debian", "13"), ("amzn", "2"), ("almalinux", "10"), ("sles", "15.6")]:
        assert infer_glibc(os_id, version) is not None
