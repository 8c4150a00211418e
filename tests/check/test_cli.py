"""`envresolve check` on the command line: verdict line, formats and exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import EXIT_CANNOT_PROBE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from envresolve.errors import ProbeError
from tests.check.conftest import Built, bookworm, centos7


@pytest.fixture
def node_files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for node in (centos7(), bookworm()):
        path = tmp_path / f"{node.name}.json"
        path.write_text(node.to_json(), encoding="utf-8")
        out[str(node.name)] = path
    return out


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, node_files: dict[str, Path]) -> None:
    assert main(["check", "--node", str(node_files["centos7"])]) == EXIT_USAGE
    assert "exactly one of" in capsys.readouterr().err
    assert main(["check", "x.lock", "--prefix", str(tmp_path), "--node", str(node_files["centos7"])]) == EXIT_USAGE
    assert main(["check", str(tmp_path / "missing.lock"), "--node", str(node_files["centos7"])]) == EXIT_USAGE
    assert "GN101" in capsys.readouterr().err
    assert main(["check", "--prefix", str(tmp_path), "--node", str(node_files["centos7"])]) == EXIT_USAGE
    assert "CK107" in capsys.readouterr().err
    assert main(["check", "--prefix", str(tmp_path), "--node", str(tmp_path / "nope.json")]) == EXIT_USAGE
    assert main(["check", "--prefix", str(tmp_path), "--format", "xml"]) == EXIT_USAGE


def test_prefix_exit_codes_and_output(
    built: Built, capsys: pytest.CaptureFixture[str], node_files: dict[str, Path]
) -> None:
    assert main(["check", "--prefix", str(built.venv_good), "--node", str(node_files["centos7"])]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"OK: prefix {built.venv_good} runs on centos7")

    rc = main(["check", "--prefix", str(built.venv_bad), "--node", str(node_files["centos7"])])
    assert rc == EXIT_FINDINGS
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"FAIL: prefix {built.venv_bad} does not run on centos7")
    for code in ("CK101", "CK102", "CK104"):
        assert f"[{code} " in out
    assert out.count("  hint: ") >= 3

    rc = main(["check", "--prefix", str(built.venv_bad), "--node", str(node_files["centos7"]), "--format", "json"])
    assert rc == EXIT_FINDINGS
    (obj,) = json.loads(capsys.readouterr().out)["reports"]
    assert obj["verdict"] == "does-not-run" and obj["nodes"][0] == {
        "node": "centos7",
        "verdict": "does-not-run",
        "group": 1,
        "errors": obj["summary"]["errors"],
        "warnings": obj["summary"]["warnings"],
    }
    assert {d["code"] for d in obj["groups"][0]["diagnostics"]} >= {"CK101", "CK102", "CK104"}

    for fmt in ("sarif", "github"):
        rc = main(["check", "--prefix", str(built.venv_bad), "--node", str(node_files["bookworm"]), "--format", fmt])
        assert rc == EXIT_FINDINGS
        out = capsys.readouterr().out
        if fmt == "sarif":
            results = json.loads(out)["runs"][0]["results"]
            assert {r["ruleId"] for r in results} >= {"CK101", "CK102"}
            assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results)
        else:
            assert any(line.startswith("::error file=lib/python3") for line in out.splitlines())


def test_two_nodes_print_the_table(
    built: Built, capsys: pytest.CaptureFixture[str], node_files: dict[str, Path]
) -> None:
    rc = main(
        [
            "check",
            "--prefix",
            str(built.venv_bad),
            "--node",
            str(node_files["centos7"]),
            "--node",
            str(node_files["bookworm"]),
        ]
    )
    assert rc == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "runs on 0 of 2 nodes (2 group(s)" in out.splitlines()[0]
    assert "group  nodes  verdict" in out


def test_could_not_probe_is_exit_3(
    built: Built, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import envresolve.node
    from envresolve.diagnostics import make

    def fail() -> None:
        raise ProbeError(make("GN101", "cannot read /proc/cpuinfo"))

    monkeypatch.setattr(envresolve.node, "probe_with_diagnostics", fail)
    assert main(["check", "--prefix", str(built.venv_good)]) == EXIT_CANNOT_PROBE
    assert "cannot read /proc/cpuinfo" in capsys.readouterr().err


def test_live_probe_of_this_machine(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    """No --node: this machine is probed (NODE's probe) and its ldconfig cache read; the good venv runs here."""
    rc = main(["check", "--prefix", str(built.venv_good), "--format", "json"])
    (obj,) = json.loads(capsys.readouterr().out)["reports"]
    assert rc == EXIT_OK, obj
    assert obj["summary"]["nodes"] == 1 and obj["verdict"] == "runs"


def test_nodes_directory_of_published_facts(
    built: Built, capsys: pytest.CaptureFixture[str], node_files: dict[str, Path], tmp_path: Path
) -> None:
    """What the fleet-probe DaemonSet publishes (one facts file per node) read back as a directory."""
    facts = tmp_path / "facts"
    facts.mkdir()
    for name, path in node_files.items():
        (facts / f"{name}.json").write_bytes(path.read_bytes())
    rc = main(["check", "--prefix", str(built.venv_good), "--nodes", str(facts), "--format", "json"])
    (obj,) = json.loads(capsys.readouterr().out)["reports"]
    assert rc == EXIT_OK and sorted(n["node"] for n in obj["nodes"]) == ["bookworm", "centos7"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["check", "--prefix", str(built.venv_good), "--nodes", str(empty)]) == EXIT_USAGE
