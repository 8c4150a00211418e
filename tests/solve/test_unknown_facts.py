"""Unknown node facts never give errors: lock, check and lint of a node whose glibc, libstdc++ or driver version is
unknown (Slurm facts of a non-RHEL kernel, a facts file without `glibc` or `driver`) succeed, and the floor the
chosen packages need of each unknown fact is a warning on the node (RS130, RS131, RS132)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.compat import evaluate
from envresolve.compat.model import Environment, Package
from envresolve.compat.unknown import check_unknown_facts, virtual_package_floor
from envresolve.diagnostics import Severity
from envresolve.lock.io import dumps, loads
from envresolve.node import load_node, read_node
from envresolve.node.facts import DriverFacts, GpuFacts, LibStdCxxFacts, NodeFacts
from envresolve.orchestrate import resolve
from envresolve.preflight.api import check_lock
from envresolve.solve.conda import (
    ADMIT_ALL,
    common_virtual_packages,
    node_virtual_packages,
    solve_virtual_packages,
)
from envresolve.solve.pip import node_tags
from envresolve.specs.checks import check_spec
from envresolve.specs.load import load_spec
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llm-finetune-dataset.yaml"
SLURM_UBUNTU = FIXTURES / "slurm" / "published-upenn-node-2080ti-3.txt"  # Ubuntu kernel: glibc and driver unknown
H100 = GpuFacts(index=0, name="NVIDIA H100 80GB HBM3", compute_capability="9.0")


def _vps(vps: tuple[object, ...]) -> dict[str, str]:
    return {vp.name: vp.version for vp in vps}  # type: ignore[attr-defined]


def _lock(node: NodeFacts) -> tuple[object, ...]:
    from envresolve.orchestrate import ResolveSettings
    from envresolve.solve.conda import CondaSettings

    spec = load_spec(EXAMPLE)[0]
    settings = ResolveSettings(
        conda=CondaSettings(base_dir=str(EXAMPLE.parent)),
        index_urls=((EXAMPLE.parent / "index").as_uri(),),
        notebook_packages=False,
        inspect_cache=False,
    )
    res = resolve(spec, [node], offline=True, settings=settings)
    return res, spec  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- lock + check


def test_lock_and_check_on_a_slurm_node_of_unknown_glibc_and_driver() -> None:
    node = load_node(SLURM_UBUNTU)
    assert node.glibc is None and node.driver == DriverFacts() and node.gpus
    res, _ = _lock(node)
    assert res.ok, [d.message for d in res.diagnostics if d.severity is Severity.ERROR]  # was RS103 "has no __glibc"
    assert not [d for d in res.diagnostics if d.severity is Severity.ERROR]
    floors = {d.code: d for d in res.diagnostics if d.code in {"RS130", "RS131", "RS132"}}
    assert floors["RS130"].severity is Severity.WARNING and floors["RS130"].node == "node-2080ti-3"
    assert "needs glibc >= 2.28 on node-2080ti-3, whose glibc is unknown" in floors["RS130"].message
    assert "whose driver version is unknown" in floors["RS132"].message
    # the lock records the node's own virtual packages, not the admit-all levels the solve used
    lock = res.lock
    assert lock is not None
    recorded = _vps(lock.nodes[0].virtual_packages)
    assert "__glibc" not in recorded and "__cuda" not in recorded
    # check of that lock on that node: no error, and the same floor warnings (lock and check agree)
    report = check_lock(loads(dumps(lock)), [node])
    assert report.ok and report.summary.errors == 0
    checked = {(d.code, d.message) for d in report.all_diagnostics() if d.code.startswith("RS13")}
    assert checked == {(d.code, d.message) for d in floors.values()}


def test_lock_for_a_facts_file_without_glibc(tmp_path: Path) -> None:
    facts = json.loads(load_node("a100-driver535").to_json())
    del facts["glibc"]
    path = tmp_path / "node.json"
    path.write_text(json.dumps(facts), encoding="utf-8")
    node = load_node(path)
    assert node.glibc is None and node.driver is not None and node.driver.version
    res, _ = _lock(node)
    assert res.ok
    [rs130] = [d for d in res.diagnostics if d.code == "RS130"]
    assert rs130.severity is Severity.WARNING and "glibc >=" in rs130.message
    assert not [d for d in res.diagnostics if d.code == "RS132"]  # the driver is known: judged, not floored


def test_a_known_old_glibc_still_blocks_the_conda_solve() -> None:
    node = load_node("a100-driver535").model_copy(update={"glibc": "2.12"})
    res, _ = _lock(node)
    assert not res.ok and "RS103" in {d.code for d in res.diagnostics}


# ----------------------------------------------------------------------------------- virtual packages


def test_solve_virtual_packages_admit_every_record_for_unknown_facts() -> None:
    node = NodeFacts(gpus=(H100,))  # glibc unknown; GPUs listed without a driver: a driver of unknown version
    assert node.driver == DriverFacts()
    facts = _vps(node_virtual_packages(node))
    assert "__glibc" not in facts and "__cuda" not in facts
    solve = _vps(solve_virtual_packages(node))
    assert solve["__glibc"] == ADMIT_ALL["__glibc"] and solve["__cuda"] == ADMIT_ALL["__cuda"]
    assert solve["__cuda_arch"] == "9.0"


def test_solve_virtual_packages_keep_known_and_absent_facts() -> None:
    profile = load_node("h100-driver580")
    known = profile.model_copy(update={"os": profile.os.model_copy(update={"kernel": "6.8.0-45-generic"})})
    assert solve_virtual_packages(known) == node_virtual_packages(known)
    cpu = NodeFacts(glibc="2.35")  # no GPUs, no driver: there is no __cuda to admit
    assert "__cuda" not in _vps(solve_virtual_packages(cpu))
    # a driver version without its CUDA level: the level that version runs, from the sourced driver table
    drv = NodeFacts(glibc="2.35", driver=DriverFacts(version="535.104.05"), gpus=(H100,))
    assert _vps(solve_virtual_packages(drv))["__cuda"] == "12.2"


def test_common_virtual_packages_take_the_known_glibc_over_an_unknown_one() -> None:
    known = NodeFacts(glibc="2.17")
    unknown = NodeFacts()
    common = _vps(common_virtual_packages([solve_virtual_packages(known), solve_virtual_packages(unknown)]))
    assert common["__glibc"] == "2.17"


def test_virtual_package_floor() -> None:
    assert virtual_package_floor(("__glibc >=2.17,<3.0.a0", "__glibc >=2.28"), "__glibc") == "2.28"
    assert virtual_package_floor(("__cuda >=12|>=11.8",), "__cuda") == "11.8"
    assert virtual_package_floor(("__glibc",), "__glibc") is None
    assert virtual_package_floor(("python >=3.12",), "__glibc") is None


# --------------------------------------------------------------------------------------------- pip tags


def test_pip_tags_for_an_unknown_glibc_accept_every_manylinux_wheel_lowest_first() -> None:
    tags = [str(t) for t in node_tags([NodeFacts()], "3.11")]
    assert "cp311-cp311-manylinux_2_28_x86_64" in tags  # was refused: unknown glibc was read as 2.17
    assert tags.index("cp311-cp311-manylinux_2_17_x86_64") < tags.index("cp311-cp311-manylinux_2_28_x86_64")
    # a node that states glibc decides for both
    both = [str(t) for t in node_tags([NodeFacts(), NodeFacts(glibc="2.17")], "3.11")]
    assert "cp311-cp311-manylinux_2_28_x86_64" not in both and both[0] == "cp311-cp311-manylinux_2_17_x86_64"


# ------------------------------------------------------------------------------------- the floor rules


def _torch(version: str = "2.8.0") -> Package:
    from tests.compat.helpers import elf, report

    so = elf("torch/lib/libtorch_cpu.so", version_needs={"libstdc++.so.6": ("GLIBCXX_3.4.22",)})
    return Package(
        name="torch",
        version=version,
        ecosystem="pypi",
        url=f"https://files.invalid/torch-{version}-cp311-cp311-manylinux_2_28_x86_64.whl",
        binary=report(f"torch-{version}.whl", so, max_glibc="2.28", max_glibcxx="3.4.22"),
    )


def test_floors_only_for_facts_the_node_leaves_unknown() -> None:
    conda_py = Package(name="python", version="3.11.9", ecosystem="conda", depends=("__glibc >=2.17,<3.0.a0",))
    env = Environment(packages=(conda_py, _torch()), python="3.11.9")
    unknown = NodeFacts(gpus=(H100,))
    codes = {d.code: d for d in check_unknown_facts(env, unknown)}
    assert set(codes) == {"RS130", "RS131", "RS132"}
    assert all(d.severity is Severity.WARNING for d in codes.values())
    assert "glibc >= 2.28" in codes["RS130"].message and codes["RS130"].subject == "torch"
    known = NodeFacts(
        glibc="2.35",
        libstdcxx=LibStdCxxFacts(glibcxx="3.4.30", cxxabi="1.3.13"),
        driver=DriverFacts(version="580.65.06", cuda="13.0"),
        gpus=(H100,),
    )
    assert check_unknown_facts(env, known) == []
    assert not [d for d in evaluate(env, unknown) if d.severity is Severity.ERROR]
    # a conda libstdc++ in the environment decides: no libstdc++ floor for the node
    with_cxx = env.model_copy(
        update={"packages": (*env.packages, Package(name="libstdcxx", version="15.1.0", ecosystem="conda"))}
    )
    assert "RS131" not in {d.code for d in check_unknown_facts(with_cxx, unknown)}


def test_conda_depends_set_the_floor() -> None:
    pkg = Package(name="libfoo", version="1", ecosystem="conda", depends=("__glibc >=2.34", "__cuda >=12.4"))
    found = {d.code: d for d in check_unknown_facts(Environment(packages=(pkg,)), NodeFacts(gpus=(H100,)))}
    assert "glibc >= 2.34" in found["RS130"].message
    assert "CUDA >= 12.4" in found["RS132"].message and "driver >= " in found["RS132"].message


# ---------------------------------------------------------------------------------- GPUs imply a driver


def _facts_file(tmp_path: Path, **extra: object) -> Path:
    obj = {"schema_version": 1, "name": "n1", "glibc": "2.35", "gpus": [H100.model_dump(mode="json")], **extra}
    path = tmp_path / "node.json"
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_facts_file_with_gpus_and_no_driver_key_has_a_driver_of_unknown_version(tmp_path: Path) -> None:
    node, notes = read_node(_facts_file(tmp_path))
    assert node.driver == DriverFacts()
    assert [d.code for d in notes] == ["ND230"]
    spec = load_spec(EXAMPLE)[0]
    lint = check_spec(spec, node)
    assert not [d for d in lint if d.severity is Severity.ERROR]  # was SP202 "no NVIDIA driver"
    cuda = Package(name="nvidia-cuda-runtime-cu12", version="12.8.90", ecosystem="pypi")
    found = evaluate(Environment(packages=(cuda,)), node)
    assert "CP103" not in {d.code for d in found}  # was CP103 "no NVIDIA driver on the node"
    assert "RS132" in {d.code for d in found}


def test_facts_file_driver_null_still_means_no_driver(tmp_path: Path) -> None:
    node, notes = read_node(_facts_file(tmp_path, driver=None))
    assert node.driver is None and notes == []
    cuda = Package(name="nvidia-cuda-runtime-cu12", version="12.8.90", ecosystem="pypi")
    assert "CP103" in {d.code for d in evaluate(Environment(packages=(cuda,)), node)}


def test_gfd_gpu_labels_without_driver_labels_mean_an_unknown_driver() -> None:
    from envresolve.node.kubernetes import nodes_from_kubernetes

    manifest = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "k1",
            "labels": {
                "nvidia.com/gpu.compute.major": "9",
                "nvidia.com/gpu.compute.minor": "0",
                "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
                "nvidia.com/gpu.count": "2",
            },
        },
    }
    [(node, diags)] = nodes_from_kubernetes(manifest, origin="k1.yaml")
    assert len(node.gpus) == 2 and node.driver == DriverFacts()
    assert "ND230" in {d.code for d in diags}


def test_nvidia_smi_without_a_driver_version_is_an_unknown_driver(tmp_path: Path) -> None:
    from envresolve.node.probe import probe_with_diagnostics
    from tests.node.fakes import FakeNvml, fake_run

    query = "0, NVIDIA H100 80GB HBM3, GPU-aaaa, 9.0, 81559, Disabled, 0x233010DE\n"
    smi = "nvidia-smi --query-gpu=index,name,uuid,compute_cap,memory.total,mig.mode.current,pci.device_id"
    run = fake_run({smi + " --format=csv,noheader,nounits": (0, query), "nvidia-smi": (0, "no header")})
    node = probe_with_diagnostics(nvml=FakeNvml(available=False), root=tmp_path, run=run).node
    assert len(node.gpus) == 1 and node.driver == DriverFacts()


@pytest.mark.parametrize("code", ["RS130", "RS131", "RS132", "RS133", "ND230"])
def test_new_codes_are_never_errors(code: str) -> None:
    from envresolve.diagnostics.registry import REGISTRY

    assert REGISTRY[code].severity is not Severity.ERROR


def test_unknown_kernel_admits_linux_floors_and_states_them(tmp_path: Path) -> None:
    from envresolve.solve.conda import CondaSettings, CondaSolver

    cf = EXAMPLE.parent / "channel" / "conda-forge"
    ch = tmp_path / "kernel"
    (ch / "linux-64").mkdir(parents=True)
    (ch / "noarch").mkdir()
    data = json.loads((cf / "linux-64" / "repodata.json").read_text())
    rec = next(v for v in data["packages"].values() if v["name"] == "xz")  # a real record as the template
    data["packages"]["kfoo-1.0-0.tar.bz2"] = dict(
        rec, name="kfoo", version="1.0", build="0", depends=["__linux >=4.18"]
    )
    (ch / "linux-64" / "repodata.json").write_text(json.dumps(data))
    (ch / "noarch" / "repodata.json").write_text(json.dumps({"info": {"subdir": "noarch"}, "packages": {}}))
    node = NodeFacts(glibc="2.35")  # no kernel release: conda's __linux is 0 in the node's own list
    assert _vps(node_virtual_packages(node))["__linux"] == "0"
    solver = CondaSolver([str(ch)], CondaSettings(cache_dir=str(tmp_path / "c")))
    assert "RS104" in {d.code for d in solver.solve(["kfoo"], node_virtual_packages(node), node=node).diagnostics}
    sol = solver.solve(["kfoo"], solve_virtual_packages(node), node=node)
    assert sol.ok, sol.diagnostics
    env = Environment(packages=tuple(p.as_package() for p in sol.packages))
    [rs133] = [d for d in check_unknown_facts(env, node) if d.code == "RS133"]
    assert "kernel >= 4.18" in rs133.message and rs133.severity is Severity.WARNING
    known = node.model_copy(update={"os": node.os.model_copy(update={"kernel": "5.14.0-70.el9.x86_64"})})
    assert [d.code for d in check_unknown_facts(env, known)] == []


def test_device_plugin_capacity_without_gfd_labels_means_an_unknown_driver() -> None:
    from envresolve.node.kubernetes import nodes_from_kubernetes

    manifest = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "k2", "labels": {"kubernetes.io/arch": "amd64"}},
        "status": {"capacity": {"nvidia.com/gpu": "4", "cpu": "64"}},
    }
    [(node, diags)] = nodes_from_kubernetes(manifest, origin="k2.yaml")
    assert node.gpus == () and node.driver == DriverFacts()  # GPU models unknown; the driver present, unknown
    assert "ND230" in {d.code for d in diags}
    lint = check_spec(load_spec(EXAMPLE)[0], node)
    assert not [d for d in lint if d.severity is Severity.ERROR]  # was SP202 "no NVIDIA driver and no GPU"
    cpu = {**manifest, "status": {"capacity": {"cpu": "64"}}}
    [(cpu_node, _)] = nodes_from_kubernetes(cpu, origin="k3.yaml")
    assert cpu_node.driver is None  # no GPU anywhere: no driver, as before
