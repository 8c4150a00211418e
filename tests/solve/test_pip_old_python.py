"""Python 3.6/3.7 targets: the `cp36m`/`cp37m` ABI tags, against a local slice of REAL PyPI pages and metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.node.facts import NodeFacts
from envresolve.solve.pip import PipResolutionError, node_tags, resolve_pip

PYPI = Path(__file__).resolve().parents[1] / "fixtures" / "index" / "pypi"  # see its fetch.py
EL7 = NodeFacts(name="el7", glibc="2.17")


@pytest.mark.parametrize(("python", "abi"), [("3.6", "cp36m"), ("3.7", "cp37m"), ("3.8", "cp38"), ("3.12", "cp312")])
def test_stock_cpython_abi_tags(python: str, abi: str) -> None:
    tags = node_tags([EL7], python)
    assert tags[0].abi == abi
    assert not any(t.abi == abi + "m" for t in tags)


@pytest.mark.parametrize("mode", ["json", "html"])
def test_torch_1_9_0_resolves_for_python_3_7_on_glibc_2_17(mode: str, tmp_path: Path) -> None:
    index = PYPI / "simple"
    if mode == "html":  # the same pages without the PEP 691 JSON documents
        import shutil

        shutil.copytree(PYPI, tmp_path / "pypi", ignore=shutil.ignore_patterns("*.json", "*.py"))
        index = tmp_path / "pypi" / "simple"
    res = resolve_pip(["torch==1.9.0"], [EL7], python="3.7", index_urls=[index.as_uri()], use_cache=False)
    versions = {p.name: p.version for p in res.packages}
    assert versions == {"torch": "1.9.0", "typing-extensions": "4.7.1"}
    torch = res.find("torch")
    assert torch is not None and torch.filename == "torch-1.9.0-cp37-cp37m-manylinux1_x86_64.whl"
    assert torch.sha256 == "0164673908e6b291ace592d382eba3e258b3bad009b8078cad8f3b9e00d8f23e"  # PyPI's hash
    assert torch.metadata_source == "pep658"


def test_python_3_6_0_is_below_torch_1_9_0s_requires_python() -> None:
    # Requires-Python >=3.6.2 (PyPI's value): `3.6` is read as 3.6.0, so no torch 1.9.0 wheel is acceptable
    with pytest.raises(PipResolutionError, match="torch"):
        resolve_pip(["torch==1.9.0"], [EL7], python="3.6", index_urls=[(PYPI / "simple").as_uri()], use_cache=False)


def test_lock_of_torch_1_9_0_for_python_3_7_on_centos7(tmp_path: Path) -> None:
    # the whole lock path: pip resolution, then every compatibility rule with the torch 1.9 matrix row
    from envresolve.node import load_node
    from envresolve.orchestrate import ResolveSettings, resolve
    from envresolve.specs import load_spec

    req = tmp_path / "requirements.txt"
    req.write_text("torch==1.9.0\n")
    spec = load_spec(req)[0].model_copy(update={"python": "3.7"})
    settings = ResolveSettings(
        index_urls=((PYPI / "simple").as_uri(),), notebook_packages=False, pip_cache_dir=str(tmp_path / "c")
    )
    node = load_node("v100-driver470")  # CentOS 7: glibc 2.17; V100 (sm_70) is in the cu102 build's arch list
    assert node.glibc == "2.17"
    res = resolve(spec, [node], offline=True, settings=settings)
    assert res.ok, [d.line() for d in res.diagnostics]
    torch = next(p for p in res.lock.pip if p.name == "torch")
    assert torch.filename == "torch-1.9.0-cp37-cp37m-manylinux1_x86_64.whl"
