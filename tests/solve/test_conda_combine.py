"""`resolve()`: conda first, then pip with conda's Python packages installed, per node and for several nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.errors import InputError
from envresolve.node import load_node
from envresolve.orchestrate import Resolution, resolve
from envresolve.specs import load_spec
from envresolve.specs.digest import spec_digest
from envresolve.specs.model import CondaDependency, EnvSpec
from tests.lock.conftest import DEMO, demo_resolve, demo_settings


@pytest.fixture(scope="module")
def demo_spec() -> EnvSpec:
    return load_spec(DEMO)[0]


@pytest.fixture(scope="module")
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def two_gpu_resolution(demo_spec: EnvSpec, isolated_cache: Path) -> Resolution:
    return demo_resolve(demo_spec, isolated_cache, "a100-driver535", "h100-driver580")


@pytest.fixture(scope="module")
def cpu(demo_spec: EnvSpec, isolated_cache: Path) -> Resolution:
    return demo_resolve(demo_spec, isolated_cache, "cpu-only")


def test_cpu_node_locks_and_records_its_virtual_packages(cpu: Resolution) -> None:
    # conda's cuda-version only *constrains* __cuda, and CUDA torch wheels also run on CPU: a lock exists
    assert cpu.ok and cpu.lock is not None, cpu.diagnostics
    (node,) = cpu.lock.nodes
    assert node.name == "cpu-only" and node.facts.driver is None
    assert "__cuda" not in {vp.name for vp in node.virtual_packages}
    assert {vp.name for vp in node.virtual_packages} >= {"__glibc", "__unix", "__linux"}


def test_resolution_is_json_serialisable(two_gpu_resolution: Resolution) -> None:
    obj = json.loads(two_gpu_resolution.to_json())
    assert obj["ok"] is True and obj["lock"]["lock-version"] == 1
    assert Resolution.model_validate(obj) == two_gpu_resolution


def test_conda_python_packages_count_as_installed(two_gpu_resolution: Resolution) -> None:
    lock = two_gpu_resolution.lock
    assert lock is not None
    conda = {p.name for p in lock.conda}
    pip = {p.name for p in lock.pip}
    # numpy, pyyaml, filelock, typing_extensions come from conda; pip did not install them again
    assert {"numpy", "pyyaml", "filelock", "typing_extensions"} <= conda
    assert not {"numpy", "pyyaml", "filelock", "typing-extensions"} & pip


def test_spec_digest_ignores_locations(demo_spec: EnvSpec) -> None:
    moved = demo_spec.model_copy(update={"source": "/elsewhere/x.yaml"})
    assert spec_digest(moved) == spec_digest(demo_spec)
    extra = CondaDependency(name="zstd", spec="zstd", raw="zstd")
    assert spec_digest(demo_spec.model_copy(update={"conda": (*demo_spec.conda, extra)})) != spec_digest(demo_spec)


def test_exact_pin_in_spec_solves(demo_spec: EnvSpec, isolated_cache: Path) -> None:
    pinned = CondaDependency(name="numpy", spec="numpy 2.1.1", raw="numpy 2.1.1")
    conda = (*(d for d in demo_spec.conda if d.name != "numpy"), pinned)
    res = resolve(
        demo_spec.model_copy(update={"conda": conda, "pip": ()}),
        [load_node("h100-driver580")],
        offline=True,
        settings=demo_settings(isolated_cache),
    )
    assert res.ok and res.lock is not None
    assert {p.name: p.version for p in res.lock.conda}["numpy"] == "2.1.1"


def test_no_nodes_is_input_error(demo_spec: EnvSpec) -> None:
    with pytest.raises(InputError):
        resolve(demo_spec, [])
