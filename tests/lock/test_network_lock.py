"""The example requirement set locked from PyPI for the bundled A100/driver-535 and H100/driver-580 profiles.

Network: off by default (`pytest -m network tests/lock/test_network_lock.py`). Shared with the pip side: the
GPU-aware rejection happens inside the pip resolver; this test drives it through `envresolve lock`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import main

pytestmark = pytest.mark.network

REQUIREMENTS = "transformers==4.35.0\ntorch\ntorchaudio\ntorchvision\n"


def _cuda13(pkg: dict[str, object]) -> bool:
    name = str(pkg["name"])
    if name.endswith("-cu13") or (name == "cuda-toolkit" and str(pkg["version"]).startswith("13.")):
        return True
    if name in {"nvidia-cuda-runtime", "nvidia-cublas", "nvidia-cuda-nvrtc"} and str(pkg["version"]).startswith("13."):
        return True
    return any("cuda-toolkit" in r and "==13." in r for r in pkg.get("requires_dist", []))  # type: ignore[union-attr]


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS)
    return path


def test_driver_535_gets_no_cuda13_wheel_and_explains(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "a100.lock"
    code = main(["lock", str(spec), "--python", "3.11", "--node", "a100-driver535", "--explain", "-o", str(lock)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    data = json.loads(lock.read_text())
    names = {p["name"]: p for p in data["pip"]}
    assert {"transformers", "torch", "torchaudio", "torchvision"} <= set(names)
    assert names["transformers"]["version"] == "4.35.0"
    assert not [p["name"] for p in data["pip"] if _cuda13(p)]
    why = [ln for ln in out.splitlines() if ln.strip().startswith("why not torch")]
    assert why, out
    assert any("CUDA 13" in ln and "535" in ln for ln in why)


def test_driver_580_allows_cuda13(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "h100.lock"
    code = main(["lock", str(spec), "--python", "3.11", "--node", "h100-driver580", "-o", str(lock)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    data = json.loads(lock.read_text())
    assert [p["name"] for p in data["pip"] if _cuda13(p)], "the driver-580 node should get the CUDA 13 torch"
