"""`envresolve probe` through `envresolve.cli.main`: formats, --against, and bad input (exit 2, code, no traceback)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from envresolve.cli import main

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _no_conda_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("CONDA_OVERRIDE_"):
            monkeypatch.delenv(var)


def _bad(capsys: pytest.CaptureFixture[str], argv: list[str], code: str) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert code in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""
    return captured.err


def test_malformed_node_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "node.yaml"
    bad.write_text("apiVersion: v1\nkind: Node\nmetadata:\n  labels: [nvidia.com/gpu.count]\n")
    err = _bad(capsys, ["probe", "--node", str(bad)], "ND202")
    assert "metadata.labels" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}\n")
    err = _bad(capsys, ["probe", "--node", str(broken)], "ND202")
    assert "line" in err


def test_facts_file_with_newer_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = json.loads((FIX / "node-gfd-nfd.facts.json").read_text())
    obj["schema_version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(obj))
    err = _bad(capsys, ["probe", "--node", str(path)], "ND201")
    assert "99" in err and "upgrade" in err


def test_unknown_profile_name(capsys: pytest.CaptureFixture[str]) -> None:
    err = _bad(capsys, ["probe", "--node", "a100-driver530"], "ND204")
    assert "did you mean a100-driver535" in err
    _bad(capsys, ["probe", "--against", "h200-driver580"], "ND204")


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _bad(capsys, ["probe", "--node", str(tmp_path / "missing.json")], "GN101")
    _bad(capsys, ["probe", "--node", str(tmp_path / "nested" / "node.yaml")], "GN101")
    binary = tmp_path / "node.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    _bad(capsys, ["probe", "--node", str(binary)], "ND202")
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.json"
        locked.write_text("{}")
        locked.chmod(0)
        _bad(capsys, ["probe", "--node", str(locked)], "GN101")


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    _bad(capsys, ["probe", "--format", "xml"], "GN104")


def test_formats_for_a_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--node", "h100-driver580", "--format", "json", "-q"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["driver"] == {"cuda": "13.0", "version": "580.65.06"} and len(obj["gpus"]) == 8
    assert main(["probe", "--node", "h100-driver580", "--format", "yaml", "-q"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == obj
    assert main(["probe", "--node", "h100-driver580", "--format", "conda-virtual-packages", "-q"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "__archspec=0=x86_64",
        "__cuda=13.0=0",
        "__cuda_arch=9.0=0",
        "__glibc=2.39=0",
        "__linux=0=0",
        "__unix=0=0",
    ]
    assert main(["probe", "--node", "h100-driver580"]) == 0
    captured = capsys.readouterr()
    assert "NVIDIA H100 80GB HBM3" in captured.out and "ND207" in captured.err


def test_conda_overrides_apply_to_probe_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "12.8")
    assert main(["probe", "--node", "h100-driver580", "--format", "conda-virtual-packages", "-q"]) == 0
    assert "__cuda=12.8=0" in capsys.readouterr().out
    assert (
        main(["probe", "--node", "h100-driver580", "--format", "conda-virtual-packages", "--ignore-conda-overrides"])
        == 0
    )
    assert "__cuda=13.0=0" in capsys.readouterr().out


def test_against_profile_reports_differences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--node", "l4-driver570", "--against", "t4-driver550", "-q"]) == 0
    captured = capsys.readouterr()
    assert "differs" in captured.out and "ND301" in captured.err
    assert "glibc: this node has 2.36, t4-driver550 has 2.28 (newer here)" in captured.err
    assert main(["probe", "--node", "l4-driver570", "--against", "t4-driver550", "--fail-on-difference", "-q"]) == 1
    capsys.readouterr()
    assert main(["probe", "--node", "l4-driver570", "--against", "l4-driver570", "--fail-on-difference", "-q"]) == 0
    assert "no differences from l4-driver570" in capsys.readouterr().out


def test_against_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--node", "a100-driver535", "--against", "h100-driver580", "--format", "json", "-q"]) == 0
    obj = json.loads(capsys.readouterr().out)
    results = {r["fact"]: r["result"] for r in obj["comparison"]}
    assert results["os"] == "differs" and results["arch"] == "match" and results["kernel"] == "unknown"
    assert {d["code"] for d in obj["diagnostics"]} >= {"ND301"}


def test_quick_start_against_profile_on_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    """The README quick start: probe this machine and check it against a bundled profile (exit 0)."""
    assert main(["probe", "--against", "h100-driver580"]) == 0
    out = capsys.readouterr().out
    assert "h100-driver580" in out and "glibc" in out


def test_list_profiles_and_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--list-profiles"]) == 0
    listed = capsys.readouterr().out
    for name in ("h100-driver580", "cpu-only", "gh200-driver570"):
        assert name in listed
    out = tmp_path / "node.json"
    assert main(["probe", "--node", "cpu-only", "--format", "json", "-q", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["gpus"] == []


def test_several_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--node", str(FIX / "nodes-list.yaml"), "--format", "json", "-q"]) == 0
    assert [n["name"] for n in json.loads(capsys.readouterr().out)] == ["mig-single", "mig-mixed"]
