"""The project's example requirement set resolved from PyPI against bundled node profiles (needs the network).

Resolver level: CONDA's lock tests cover the same set through `envresolve lock`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from envresolve.node import load_node
from envresolve.solve.pip import PipResolution, resolve_pip

pytestmark = pytest.mark.network

EXAMPLE = ["transformers==4.35.0", "torch", "torchaudio", "torchvision"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pip-cache")


def _resolve(profile: str, cache: Path) -> PipResolution:
    return resolve_pip(EXAMPLE, [load_node(profile)], python="3.11", cache_dir=cache)


def test_a100_driver535_gets_no_cuda13_wheel(cache: Path) -> None:
    res = _resolve("a100-driver535", cache)
    names = {p.name: p for p in res.packages}
    assert names["transformers"].version == "4.35.0"
    assert {"torch", "torchvision", "torchaudio"} <= set(names)
    for pkg in res.packages:
        assert pkg.cuda is None or Version(pkg.cuda.version).major <= 12, (pkg.name, pkg.version, pkg.cuda)
        assert len(pkg.sha256) == 64 and pkg.url.startswith("https://")
    # the newest torch on PyPI is built for CUDA 13: it was ruled out, with the reason
    cuda = [r for r in res.rejections if r.reason == "cuda-driver"]
    assert cuda, res.why_not()
    assert any(r.name == "torch" and "CUDA 13" in r.message for r in cuda)
    assert all(r.node == "a100-driver535" for r in cuda)
    # torchvision/torchaudio pair with the chosen torch (their metadata pins it exactly)
    torch_v = Version(names["torch"].version)
    for comp in ("torchvision", "torchaudio"):
        reqs = [Requirement(r) for r in names[comp].requires_dist]
        assert any(r.name == "torch" and r.specifier.contains(torch_v) for r in reqs), comp
    # torchaudio's release follows torch's (pytorch.yaml pairing), even where its metadata does not pin torch
    assert Version(names["torchaudio"].version).release[:2] == torch_v.release[:2]


def test_h100_driver580_allows_cuda13(cache: Path) -> None:
    res = _resolve("h100-driver580", cache)
    torch = res.find("torch")
    assert torch is not None and torch.cuda is not None
    assert Version(torch.cuda.version).major >= 13
    assert not [r for r in res.rejections if r.reason == "cuda-driver" and r.name == "torch"]
