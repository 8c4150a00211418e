"""The operator's Dataset reconcile step (examples/operator/handler.py), tested as a plain function."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import yaml

from envresolve import ResolveSettings
from envresolve.solve.conda import CondaSettings
from tests.conftest import FIXTURES, REPO

DEMO = REPO / "examples" / "llm-finetune-dataset.yaml"


def load_handler() -> ModuleType:
    path = REPO / "examples" / "operator" / "handler.py"
    spec = importlib.util.spec_from_file_location("envresolve_operator_handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return load_handler()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResolveSettings]:
    cache = tmp_path_factory.mktemp("operator-cache")
    old = os.environ.get("ENVRESOLVE_CACHE_DIR")
    os.environ["ENVRESOLVE_CACHE_DIR"] = str(cache)
    yield ResolveSettings(
        conda=CondaSettings(cache_dir=str(cache / "repodata"), base_dir=str(DEMO.parent)),
        index_urls=(str(REPO / "examples" / "index"),),
        notebook_packages=False,
        pip_cache_dir=str(cache / "pip"),
    )
    if old is None:
        os.environ.pop("ENVRESOLVE_CACHE_DIR", None)
    else:
        os.environ["ENVRESOLVE_CACHE_DIR"] = old


def dataset() -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    obj["metadata"]["generation"] = 3
    obj["status"] = {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending"}]}
    return obj


def pool(*names: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "check" / "nodes-gfd.yaml").read_text())["items"]
    return [n for n in items if not names or n["metadata"]["name"] in names]


def test_refuses_a_dataset_the_pool_cannot_run(handler: ModuleType, settings: ResolveSettings) -> None:
    decision = handler.reconcile_dataset(dataset(), pool(), offline=True, settings=settings, now="2026-11-23T04:00:00Z")
    assert decision.build is False
    conds = {c["type"]: c for c in decision.status["conditions"]}
    assert conds["Ready"]["reason"] == "Pending"  # other conditions are kept
    mine = conds["EnvironmentCompatible"]
    assert mine["status"] == "False" and mine["reason"] == "IncompatibleWithNodePool"
    assert mine["observedGeneration"] == 3 and mine["lastTransitionTime"] == "2026-11-23T04:00:00Z"
    assert "runs on 5 of 6 node(s)" in mine["message"]
    assert "t4-legacy: RS102 conda-needs-newer-driver" in mine["message"]
    summary = decision.status["envresolve"][0]
    assert summary["verdict"] == "does-not-run" and summary["nodesOk"] == 5
    assert decision.reports[0].summary.nodes == 6


def test_builds_when_every_pool_node_runs_it(handler: ModuleType, settings: ResolveSettings) -> None:
    body = dataset()
    body["status"]["conditions"].append(
        {"type": "EnvironmentCompatible", "status": "True", "lastTransitionTime": "2026-11-01T00:00:00Z"}
    )
    decision = handler.reconcile_dataset(body, pool("h100-a", "h100-b"), offline=True, settings=settings)
    assert decision.build is True
    mine = next(c for c in decision.status["conditions"] if c["type"] == "EnvironmentCompatible")
    assert mine["status"] == "True" and mine["reason"] == "ChecksPassed"
    assert mine["lastTransitionTime"] == "2026-11-01T00:00:00Z"  # unchanged status keeps its transition time
    assert decision.status["envresolve"][0]["verdict"] == "runs"


def test_other_sources_and_bad_input(handler: ModuleType) -> None:
    git = {"apiVersion": "dataset.baizeai.io/v1alpha1", "kind": "Dataset", "metadata": {"name": "g"},
           "spec": {"source": {"type": "GIT", "uri": "https://example.invalid/repo.git"}}}  # fmt: skip
    assert handler.reconcile_dataset(git, pool()).build is True
    decision = handler.reconcile_dataset(dataset(), [])
    assert decision.build is False and decision.status["conditions"][-1]["reason"] == "NoTargetNodes"
    broken = dataset()
    del broken["spec"]["source"]["options"]["name"]
    decision = handler.reconcile_dataset(broken, pool("h100-a"), offline=True)
    assert decision.build is False and decision.status["conditions"][-1]["reason"] == "InvalidSpec"


def test_handler_module_has_no_operator_framework_import() -> None:
    text = (REPO / "examples" / "operator" / "handler.py").read_text(encoding="utf-8")
    assert "import kopf" not in text and "kubernetes" not in text.split('"""')[2]
    doc = (REPO / "docs" / "operator.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```python\n")[1:]]
    assert len(blocks) == 2
    for block in blocks:
        compile(block, "docs/operator.md", "exec")  # the kopf wiring stays valid Python
