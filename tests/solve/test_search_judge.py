"""The search uses the judge: a candidate the judge rejects for a node (no kernel for its GPU, from the matrices,
with no cached binary report) is skipped, the resolver backtracks to the newest release that runs, and
`--explain` names the newer release with its reason. Offline: a local index of stand-in wheels."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from envresolve.cli import main
from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("build_wheels", REPO / "examples" / "build_wheels.py")
assert _spec is not None and _spec.loader is not None
build_wheels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_wheels)

# Stand-in wheels: name, version, file name and the Requires-Dist pin of PyPI's default CUDA variant as recorded in
# matrices/pytorch.yaml and cuda_packages.yaml notes (torch 2.7.1: nvidia-cuda-runtime-cu12==12.6.77; 2.8.0:
# nvidia-cuda-runtime-cu12==12.8.90); no code inside.
WHEELS = [
    ("torch", "2.8.0", "torch-2.8.0-cp312-cp312-manylinux_2_28_x86_64.whl", ["nvidia-cuda-runtime-cu12==12.8.90"]),
    ("torch", "2.7.1", "torch-2.7.1-cp312-cp312-manylinux_2_28_x86_64.whl", ["nvidia-cuda-runtime-cu12==12.6.77"]),
    (
        "nvidia-cuda-runtime-cu12",
        "12.8.90",
        "nvidia_cuda_runtime_cu12-12.8.90-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        [],
    ),
    (
        "nvidia-cuda-runtime-cu12",
        "12.6.77",
        "nvidia_cuda_runtime_cu12-12.6.77-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        [],
    ),
]


def _index(root: Path) -> Path:
    index, files = root / "index", root / "wheels"
    files.mkdir(parents=True)
    pages: dict[str, list[str]] = {}
    for name, version, filename, requires in WHEELS:
        entry = {"name": name, "version": version, "filename": filename, "requires_dist": requires}
        fname, data = build_wheels.build_wheel(entry)
        (files / fname).write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        pages.setdefault(name, []).append(f'<a href="../../wheels/{fname}#sha256={sha}">{fname}</a><br/>')
    for name, links in pages.items():
        (index / name).mkdir(parents=True)
        page = "<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        (index / name / "index.html").write_text(page)
    return index


def _node(root: Path, name: str, gpu: str, cc: str) -> Path:
    facts = {
        "schema_version": 1,
        "name": name,
        "os": {"system": "linux", "id": "ubuntu", "version_id": "22.04"},
        "cpu": {"arch": "x86_64"},
        "glibc": "2.35",
        "libstdcxx": {"glibcxx": "3.4.30", "cxxabi": "1.3.13"},
        "driver": {"version": "570.86.15", "cuda": "12.8"},
        "gpus": [{"index": 0, "name": gpu, "compute_capability": cc}],
    }
    path = root / f"{name}.json"
    path.write_text(json.dumps(facts))
    return path


def _lock(root: Path, node: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict[str, str]]:
    req = root / "requirements.txt"
    req.write_text("torch\n")
    out = root / "envresolve.lock"
    args = ["lock", str(req), "--python", "3.12", "--index-url", str(_index_dir(root)), "--offline"]
    code = main([*args, "--node", str(node), "--explain", "-o", str(out)])
    printed = capsys.readouterr().out
    pip = {p["name"]: p["version"] for p in json.loads(out.read_text())["pip"]} if out.exists() else {}
    return code, printed, pip


def _index_dir(root: Path) -> Path:
    return root / "index" if (root / "index").is_dir() else _index(root)


def test_pascal_node_backtracks_to_the_newest_torch_with_its_kernels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    node = _node(tmp_path, "p100-driver570", "Tesla P100-PCIE-16GB", "6.0")
    code, printed, pip = _lock(tmp_path, node, capsys)
    assert code == 0, printed
    assert pip["torch"] == "2.7.1" and pip["nvidia-cuda-runtime-cu12"] == "12.6.77"
    (line,) = [ln for ln in printed.splitlines() if "why not torch 2.8.0" in ln]
    assert "no kernel for GPU 0 (Tesla P100-PCIE-16GB" in line and "sm_60" in line and "CP110" in line


def test_a_node_the_newest_torch_runs_on_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    node = _node(tmp_path, "v100-driver570", "Tesla V100-SXM2-32GB", "7.0")
    code, printed, pip = _lock(tmp_path, node, capsys)
    assert code == 0, printed
    assert pip["torch"] == "2.8.0" and "why not torch" not in printed
