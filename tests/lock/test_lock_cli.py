"""`envresolve lock` end to end on the bundled offline demo (examples/): exit codes, verdicts, --explain, exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import main
from tests.lock.conftest import DEMO, INDEX

BASE = ["lock", str(DEMO), "--index-url", str(INDEX), "--no-notebook-packages", "--offline"]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*BASE, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_main_job_pass_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "demo.lock"
    code, out, _ = run(capsys, "--node", "h100-driver580", "--node", "v100-driver470", "-o", str(lock))
    assert code == 1
    assert "PASS h100-driver580" in out
    assert "FAIL v100-driver470" in out
    # the blocking fact and the smallest change
    assert "__cuda >= 12.0" in out and "__cuda 11.4" in out and "driver 470.82.01" in out
    assert "NVIDIA driver >= 525.60.13" in out
    assert "RS109" in out and "v100-driver470 prevents it" in out
    assert not lock.exists()


def test_single_failing_node_exit_1_names_fact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--node", "v100-driver470", "-o", str(tmp_path / "x.lock"))
    assert code == 1
    assert "RS102" in out and "__cuda 11.4" in out


def test_passing_node_writes_lock_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "out" / "envresolve.lock"
    lock.parent.mkdir()
    code, out, err = run(
        capsys, "--node", "h100-driver580", "-o", str(lock), "--export", "pylock.toml,pixi.lock", "--export", "explicit"
    )
    assert code == 0, out + err
    assert "PASS h100-driver580" in out and "locked: one lock valid for every node" in out
    data = json.loads(lock.read_text())
    pip = {p["name"]: p["version"] for p in data["pip"]}
    # CUDA 13 runs on the driver-580 node, but conda already chose CUDA 12 (cuda-version=12): pip prefers the
    # CUDA 12 torch and its companions, so the lock mixes no CUDA majors (no CP160)
    assert (pip["torch"], pip["torchvision"], pip["torchaudio"]) == ("2.10.0", "0.25.0", "2.10.0")
    assert any(name.endswith("-cu12") for name in pip) and not any(name.endswith("-cu13") for name in pip)
    assert not [d for d in data["diagnostics"] if d["code"] == "CP160"]
    for name in ("pylock.toml", "pixi.lock", "conda-explicit.txt"):
        assert (lock.parent / name).is_file()
    assert not (lock.parent / "requirements.lock.txt").exists()


def test_explain_names_rejected_candidate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--node", "a100-driver535", "--explain", "-o", str(tmp_path / "a.lock"))
    assert code == 0
    line = next(ln for ln in out.splitlines() if "why not torch 2.11.0" in ln)
    assert "a100-driver535" in line and "CUDA 13" in line and "535.104.05" in line


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--node",
        "a100-driver535",
        "--node",
        "v100-driver470",
        "--format",
        "json",
        "-o",
        str(tmp_path / "j.lock"),
    )
    assert code == 1
    obj = json.loads(out)
    assert obj["version"] == 1 and obj["ok"] is False and obj["lock"] is None and obj["written"] == []
    verdicts = {n["node"]: n["ok"] for n in obj["nodes"]}
    assert verdicts == {"a100-driver535": True, "v100-driver470": False}


@pytest.mark.parametrize(
    "args",
    [
        ["--node", "h100-driver580", "--export", "nope"],
        ["--node", "no-such-profile"],
        [],
        ["--node", "h100-driver580", "--mirror", "broken"],
    ],
)
def test_bad_input_exit_2(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *args, "-o", str(tmp_path / "b.lock"))
    assert code == 2, err
    assert "error[" in err and "Traceback" not in err


def test_missing_spec_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lock", str(tmp_path / "missing.yaml"), "--node", "h100-driver580"])
    _, err = capsys.readouterr()
    assert code == 2 and "GN101" in err


def test_demo_wheels_and_index_match_their_script() -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "build_wheels.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
