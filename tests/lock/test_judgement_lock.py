"""Lock and check agree by construction: the lock's verdicts are computed from exactly the facts it records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.binary.cache import ReportCache
from envresolve.binary.model import ArtifactReport
from envresolve.diagnostics import Severity
from envresolve.node import load_node
from envresolve.preflight.api import check_lock
from envresolve.specs.model import EnvSpec
from tests.conftest import REPO
from tests.lock.conftest import demo_resolve


def test_recorded_facts_that_fail_are_judged_before_the_lock(
    demo_spec: EnvSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path))
    first = demo_resolve(demo_spec, tmp_path, "h100-driver580", explain=False)
    assert first.ok and first.lock is not None
    node = load_node("h100-driver580")
    # a lock made for a node never gets a new error from `check` on that node
    assert [d for d in check_lock(first.lock, [node]).diagnostics if d.severity is Severity.ERROR] == []

    cudarts = _records("cuda-cudart")
    assert len(cudarts) == 3  # 12.4.99, 12.6.68, 12.9.79 in the demo channel
    for version, sha in cudarts:
        bad = ArtifactReport(
            artifact=f"cuda-cudart-{version}",
            kind="conda",
            sha256=sha,
            name="cuda-cudart",
            version=version,
            max_glibc="2.99",
        )
        ReportCache(tmp_path).put(sha, bad, symbols=False)

    second = demo_resolve(demo_spec, tmp_path, "h100-driver580", explain=False)
    # before: locked as "compatible / basis: binary", then `check` of that lock failed on CP120
    assert not second.ok and second.lock is None
    errors = [d for d in second.diagnostics if d.severity is Severity.ERROR]
    assert [(d.code, d.subject) for d in errors] == [("CP120", "cuda-cudart")]
    # every cuda-cudart fails there, and the spec needs one: the unsat explanation says so
    (unsat,) = [d for d in second.diagnostics if d.code == "RS111"]
    assert unsat.subject == "cuda-cudart" and "CP120" in unsat.message and "no solution" in unsat.message
    assert any(e.fact.startswith("conda without it:") for e in unsat.evidence)


def _records(name: str) -> list[tuple[str, str]]:
    data = json.loads((REPO / "examples" / "channel" / "conda-forge" / "linux-64" / "repodata.json").read_text())
    recs = [*data.get("packages", {}).values(), *data.get("packages.conda", {}).values()]
    return sorted((r["version"], r["sha256"]) for r in recs if r["name"] == name)


def test_conda_keeps_out_a_record_the_judge_rejects_on_every_node(
    demo_spec: EnvSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path))
    newest, sha = _records("cuda-cudart")[-1]
    assert newest == "12.9.79"
    bad = ArtifactReport(
        artifact=f"cuda-cudart-{newest}", kind="conda", sha256=sha, name="cuda-cudart", version=newest, max_glibc="2.99"
    )
    ReportCache(tmp_path).put(sha, bad, symbols=False)
    res = demo_resolve(demo_spec, tmp_path, "h100-driver580", explain=False)
    assert res.ok and res.lock is not None, [d.message for d in res.diagnostics]
    conda = {p.name: p.version for p in res.lock.conda}
    assert conda["cuda-cudart"] == "12.6.68" and conda["cuda-version"] == "12.6"
    (kept,) = [d for d in res.diagnostics if d.code == "RS110"]
    assert "cuda-cudart 12.9.79" in kept.message and "CP120" in kept.message and "2.99" in kept.message
    node = load_node("h100-driver580")
    assert [d for d in check_lock(res.lock, [node]).diagnostics if d.severity is Severity.ERROR] == []


def test_a_lock_for_an_aarch64_node_is_for_linux_aarch64_and_check_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from envresolve.cli import EXIT_OK, main

    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    req = tmp_path / "requirements.txt"
    req.write_text("filelock\n")
    out = tmp_path / "envresolve.lock"
    index = str(REPO / "examples" / "index")
    args = ["lock", str(req), "--python", "3.12", "--index-url", index, "--offline", "--node", "gh200-driver570"]
    assert main([*args, "-o", str(out)]) == EXIT_OK, capsys.readouterr().out
    assert json.loads(out.read_text())["platform"] == "linux-aarch64"
    assert main(["check", str(out), "--node", "gh200-driver570"]) == EXIT_OK, capsys.readouterr().out
