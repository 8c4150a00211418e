"""The offline demo (examples/) resolved once per module: real conda solve + real pip resolution, no network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from envresolve.node import load_node
from envresolve.orchestrate import Resolution, ResolveSettings, resolve
from envresolve.solve.conda import CondaSettings
from envresolve.specs import load_spec
from envresolve.specs.model import EnvSpec
from tests.conftest import REPO

DEMO = REPO / "examples" / "llm-finetune-dataset.yaml"
INDEX = REPO / "examples" / "index"


@pytest.fixture(scope="session")
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every cache (repodata, pip pages/metadata, inspect reports) in a fresh directory."""
    root = tmp_path_factory.mktemp("cache")
    old = os.environ.get("ENVRESOLVE_CACHE_DIR")
    os.environ["ENVRESOLVE_CACHE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("ENVRESOLVE_CACHE_DIR", None)
    else:
        os.environ["ENVRESOLVE_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def demo_spec() -> EnvSpec:
    return load_spec(DEMO)[0]


def demo_settings(cache: Path) -> ResolveSettings:
    return ResolveSettings(
        conda=CondaSettings(cache_dir=str(cache / "repodata")),
        index_urls=(str(INDEX),),
        notebook_packages=False,
        pip_cache_dir=str(cache / "pip"),
    )


def demo_resolve(spec: EnvSpec, cache: Path, *nodes: str, explain: bool = True) -> Resolution:
    return resolve(spec, [load_node(n) for n in nodes], offline=True, explain=explain, settings=demo_settings(cache))


@pytest.fixture(scope="session")
def two_gpu_resolution(demo_spec: EnvSpec, isolated_cache: Path) -> Resolution:
    return demo_resolve(demo_spec, isolated_cache, "a100-driver535", "h100-driver580")
