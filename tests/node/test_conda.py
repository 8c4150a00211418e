from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.errors import InputError
from envresolve.node import apply_conda_overrides, load_node, load_nodes, virtual_packages
from envresolve.node.conda import linux_version
from envresolve.node.facts import CpuFacts, DriverFacts, GpuFacts, NodeFacts, OsFacts
from envresolve.node.load import parse_node_text

FIX = Path(__file__).parent / "fixtures"


def _node(**kw: object) -> NodeFacts:
    base = dict(
        os=OsFacts(id="ubuntu", version_id="24.04", kernel="6.8.0-45-generic"),
        cpu=CpuFacts(arch="x86_64", microarch_level=3),
        glibc="2.39",
        driver=DriverFacts(version="580.65.06", cuda="13.0"),
        gpus=(
            GpuFacts(index=0, name="NVIDIA H100 80GB HBM3", compute_capability="9.0"),
            GpuFacts(index=1, name="Tesla T4", compute_capability="7.5"),
        ),
    )
    base.update(kw)
    return NodeFacts(**base)  # type: ignore[arg-type]


def test_virtual_packages_as_conda_names_them() -> None:
    assert virtual_packages(_node()) == [
        ("__archspec", "1", "x86_64_v3"),
        ("__cuda", "13.0", "0"),
        ("__cuda_arch", "7.5", "0"),  # the LOWEST compute capability
        ("__glibc", "2.39", "0"),
        ("__linux", "6.8.0", "0"),
        ("__unix", "0", "0"),
    ]


def test_virtual_packages_without_driver_or_microarch() -> None:
    vps = dict((n, (v, b)) for n, v, b in virtual_packages(_node(driver=None, gpus=(), cpu=CpuFacts(arch="aarch64"))))
    assert "__cuda" not in vps and "__cuda_arch" not in vps
    assert vps["__archspec"] == ("1", "aarch64")
    unknown = dict((n, (v, b)) for n, v, b in virtual_packages(_node(cpu=CpuFacts())))
    assert unknown["__archspec"] == ("0", "x86_64")


def test_cuda_arch_absent_without_gpus_but_with_driver() -> None:
    names = [n for n, _, _ in virtual_packages(_node(gpus=()))]
    assert "__cuda" in names and "__cuda_arch" not in names


def test_linux_version_drops_distribution_suffix() -> None:
    assert linux_version("6.8.0-45-generic") == "6.8.0"
    assert linux_version("5.14.0-427.13.1.el9_4.x86_64") == "5.14.0"
    assert linux_version("weird") is None


def test_overrides_set_values() -> None:
    node, diags = apply_conda_overrides(
        _node(), {"CONDA_OVERRIDE_CUDA": "12.8", "CONDA_OVERRIDE_GLIBC": "2.28", "CONDA_OVERRIDE_CUDA_ARCH": "8.0"}
    )
    vps = {n: v for n, v, _ in virtual_packages(node)}
    assert (vps["__cuda"], vps["__glibc"], vps["__cuda_arch"]) == ("12.8", "2.28", "8.0")
    assert node.driver is not None and node.driver.version == "580.65.06"  # the driver version stays
    assert node.provenance["glibc"].value == "declared"
    assert [d.code for d in diags] == ["ND210"] * 3


def test_empty_override_disables_the_package() -> None:
    node, _ = apply_conda_overrides(_node(), {"CONDA_OVERRIDE_CUDA": ""})
    assert node.driver is None and node.gpus == ()
    names = [n for n, _, _ in virtual_packages(node)]
    assert "__cuda" not in names and "__cuda_arch" not in names
    node, _ = apply_conda_overrides(_node(), {"CONDA_OVERRIDE_GLIBC": "", "CONDA_OVERRIDE_CUDA_ARCH": ""})
    names = [n for n, _, _ in virtual_packages(node)]
    assert "__glibc" not in names and "__cuda_arch" not in names and "__cuda" in names


def test_override_cuda_on_a_node_without_driver() -> None:
    node, _ = apply_conda_overrides(_node(driver=None, gpus=()), {"CONDA_OVERRIDE_CUDA": "12.4"})
    assert node.driver is not None and (node.driver.version, node.driver.cuda) == (None, "12.4")


def test_invalid_override_is_ignored_with_a_warning() -> None:
    original = _node()
    node, diags = apply_conda_overrides(
        original, {"CONDA_OVERRIDE_CUDA": "twelve", "CONDA_OVERRIDE_CUDA_ARCH": "sm_90"}
    )
    assert node == original
    assert [d.code for d in diags] == ["ND209", "ND209"]


def test_overrides_are_pure() -> None:
    node = _node()
    env = {"OTHER": "x"}
    assert apply_conda_overrides(node, env) == (node, [])


def test_virtual_packages_file_from_a_real_ci_runner() -> None:
    node = load_node(FIX / "virtual-packages.yaml")
    assert node.driver is not None and node.driver.cuda == "12.8" and node.driver.version is None
    assert node.glibc == "2.39"
    assert node.cpu.arch == "x86_64"
    assert {n: v for n, v, _ in virtual_packages(node)}["__cuda"] == "12.8"


def test_virtual_packages_file_with_cuda_arch_and_several_subdirs() -> None:
    text = (
        "subdirs:\n  linux-64:\n    packages:\n      __cuda: '12.4'\n      __cuda_arch: '8.0'\n      __glibc: '2.28'\n"
        "  linux-aarch64:\n    packages:\n      __glibc: '2.35'\n  osx-arm64:\n    packages:\n      __osx: '14.0'\n"
    )
    (x86, _), (arm, _) = parse_node_text(text, origin="vp.yaml")
    assert x86.min_compute_capability == "8.0"
    assert ("__cuda_arch", "8.0", "0") in virtual_packages(x86)
    assert arm.cpu.arch == "aarch64" and arm.driver is None


@pytest.mark.parametrize(
    "text",
    [
        "subdirs: {}\n",
        "subdirs: {osx-64: {packages: {__osx: '10.15'}}}\n",
        "subdirs: {linux-64: {packages: [1]}}\n",
        "subdirs: {linux-64: {packages: {__cuda: 12.8}}}\n",  # unquoted: YAML made it a float
        "subdirs: {linux-64: {packages: {__glibc: 'x.y'}}}\n",
        "subdirs: {linux-64: {packages: {__win: '1'}}}\n",
        "subdirs: {linux-s390x: {packages: {}}}\n",
    ],
)
def test_bad_virtual_packages_files(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_node_text(text, origin="vp.yaml")
    assert exc.value.code == "ND202"


def test_directory_of_nodes(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text((FIX / "node-gfd-nfd.yaml").read_text())
    (tmp_path / "b.yaml").write_text((FIX / "virtual-packages.yaml").read_text())
    (tmp_path / "notes.txt").write_text("ignored")
    assert len(load_nodes(tmp_path)) == 2
