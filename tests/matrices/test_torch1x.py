"""torch 1.7-1.13 rows of pytorch.yaml agree with the committed PyPI survey (tests/fixtures/index/pypi)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from envresolve.compat import Environment, Package, check_companions, check_cxx11_abi, check_kernels
from envresolve.matrices import torch_release, torch_variant
from envresolve.matrices.names import decode_bundled_runtime
from envresolve.node import load_node

SURVEY = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "index" / "pypi" / "torch1x-survey.json").read_text()
)
TORCH = {k.split("==")[1]: v for k, v in SURVEY.items() if k.startswith("torch==")}


@pytest.mark.parametrize("version", sorted(TORCH))
def test_rows_match_the_measured_wheels(version: str) -> None:
    facts = TORCH[version]
    rel = torch_release(version)
    assert rel is not None and rel.row.latest_patch == version
    # Pythons: the x86_64 wheel tags on PyPI
    tags = {w.split("-")[0] for w in facts["linux_wheels"] if w.endswith("x86_64.whl")}
    assert {f"cp{p.replace('.', '')}" for p in rel.row.python} == tags
    assert rel.row.manylinux == "manylinux1" and all(
        "manylinux1_x86_64" in w for w in facts["linux_wheels"] if "x86_64" in w
    )
    # the default variant's CUDA: what the bundled runtime's hashed name says
    (cudart,) = [lib for lib in facts["shared_libs"] if "libcudart" in lib]
    bundled = decode_bundled_runtime(cudart)
    default = torch_variant(version)
    assert bundled is not None and default is not None
    assert default.row.cuda.split(".")[0] == str(bundled.cuda_major)
    if bundled.cuda is not None:
        assert default.row.cuda == bundled.cuda
    pins = [r for r in facts["requires_dist"] if r.startswith("nvidia-cuda-runtime")]
    for pin in pins:  # 1.13.1: nvidia-cuda-runtime-cu11 (==11.7.99)
        m = re.search(r"==([0-9]+\.[0-9]+)", pin)
        assert m and m.group(1) == default.row.cuda


@pytest.mark.parametrize("project", ["torchvision", "torchaudio"])
def test_companion_pairings_match_their_exact_pins(project: str) -> None:
    for key, facts in SURVEY.items():
        if not key.startswith(project + "=="):
            continue
        version = key.split("==")[1]
        (pin,) = [r for r in facts["requires_dist"] if r.startswith("torch ")]
        torch = re.search(r"==([0-9.]+)", pin)
        assert torch is not None
        rel = torch_release(torch.group(1))
        assert rel is not None
        assert getattr(rel.row, project) == ".".join(version.split(".")[:2])


def test_the_rules_now_know_torch_1x() -> None:
    a100 = load_node("a100-driver535")
    # torch 1.10.2 from PyPI is the CUDA 10.2 build without sm_80 (users report exactly this): CP110
    kernels = check_kernels(Environment(packages=(Package(name="torch", version="1.10.2", ecosystem="pypi"),)), a100)
    assert [d.code for d in kernels] == ["CP110"] and kernels[0].severity.value == "error"
    # 1.12.1's arch list is measured too (matrices/measured_wheels.yaml): an error as well
    k12 = check_kernels(Environment(packages=(Package(name="torch", version="1.12.1", ecosystem="pypi"),)), a100)
    assert [d.severity.value for d in k12] == ["error"]
    pair = Environment(
        packages=(
            Package(name="torch", version="1.12.1", ecosystem="pypi"),
            Package(name="torchvision", version="0.14.1", ecosystem="pypi"),
        )
    )
    assert [d.code for d in check_companions(pair, a100)] == ["CP150"]
    assert check_cxx11_abi(pair, a100) == []
