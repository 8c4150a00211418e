"""The fleet view: grouping, one evaluation per group, the table, and the JSON/SARIF/GitHub forms."""

from __future__ import annotations

import json
from pathlib import Path

from envresolve.diagnostics import Diagnostic, Severity, make
from envresolve.node import load_nodes
from envresolve.node.facts import NodeFacts
from envresolve.preflight.fleet import check_fleet, group_key, render_table, verdict_line
from envresolve.preflight.render import render_github, render_sarif, render_text
from envresolve.preflight.report import Report
from tests.conftest import FIXTURES

NODES = FIXTURES / "check" / "nodes-gfd.yaml"


def old_driver_rule(calls: list[str]):  # type: ignore[no-untyped-def]
    """A stand-in rule for the grouping machinery (the real rules are MATRIX's, tested in tests/compat)."""

    def rule(node: NodeFacts) -> list[Diagnostic]:
        calls.append(node.label)
        v = node.driver_version
        if v is not None and v.major < 570:
            return [make("CK109", f"driver {v} is older than 570", severity=Severity.ERROR, hint="upgrade the driver")]
        return []

    return rule


def test_nodes_group_by_relevant_facts() -> None:
    nodes = load_nodes(NODES)
    assert len(nodes) == 6
    keys = [group_key(n) for n in nodes]
    # h100-c has 4 GPUs and another kernel, still the same group as h100-a/b
    assert keys[0] == keys[1] == keys[2] and keys[3] == keys[4] and len(set(keys)) == 3


def test_fleet_checks_each_group_once_and_prints_the_table() -> None:
    nodes = load_nodes(NODES)
    calls: list[str] = []
    report = check_fleet(nodes, old_driver_rule(calls), subject="env.lock", kind="lock", packages=3)
    assert len(calls) == 3
    assert report.verdict == "does-not-run"
    assert {v.node: v.verdict for v in report.nodes} == {
        "h100-a": "runs",
        "h100-b": "runs",
        "h100-c": "runs",
        "a100-old-driver-1": "does-not-run",
        "a100-old-driver-2": "does-not-run",
        "t4-legacy": "does-not-run",
    }
    assert report.summary.nodes == 6 and report.summary.nodes_ok == 3 and report.summary.groups == 3
    assert verdict_line(report).startswith("FAIL: lock env.lock runs on 3 of 6 nodes")
    table = render_table(report)
    rows = table.splitlines()
    assert rows[0].split() == [
        "group",
        "nodes",
        "verdict",
        "arch",
        "os",
        "glibc",
        "libstdcxx",
        "driver",
        "cuda",
        "gpus",
    ]
    assert rows[1].split()[:3] == ["1", "3", "runs"] and "580.95.05" in rows[1] and "9.0" in rows[1]
    assert "DOES NOT RUN" in rows[2] and "535.247.01" in rows[2] and "22.04" in rows[2]
    assert "470.256.02" in rows[3] and "2.31" in rows[3]
    assert "group 2 (does-not-run): a100-old-driver-1, a100-old-driver-2" in table
    assert "  why: CK109 lock-package-without-binary-facts: driver 535.247.1 is older than 570" in table
    # JSON carries the same verdicts, and round-trips
    obj = json.loads(report.to_json())
    assert {n["node"]: n["verdict"] for n in obj["nodes"]} == {v.node: v.verdict for v in report.nodes}
    assert [g["verdict"] for g in obj["groups"]] == ["runs", "does-not-run", "does-not-run"]
    assert Report.model_validate_json(report.to_json()) == report


def test_text_sarif_and_github_forms() -> None:
    nodes = load_nodes(NODES)
    report = check_fleet(nodes, old_driver_rule([]), subject="env.lock", kind="lock", packages=3)
    text = render_text(report)
    assert text.splitlines()[0] == verdict_line(report)
    assert "hint: upgrade the driver" in text
    sarif = json.loads(render_sarif(report))
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0" and run["tool"]["driver"]["rules"][0]["id"] == "CK109"
    assert len(run["results"]) == 2 and run["results"][0]["level"] == "error"
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "env.lock"
    gh = render_github(report).splitlines()
    assert gh[0].startswith("::error file=env.lock,title=CK109 lock-package-without-binary-facts::")
    assert gh[-1].startswith("::notice title=envresolve check::FAIL")


def test_condition_for_a_custom_resource() -> None:
    nodes = load_nodes(NODES)
    bad = check_fleet(nodes, old_driver_rule([]), subject="env", kind="spec", packages=1)
    cond = bad.condition()
    assert cond["status"] == "False" and "runs on 3 of 6" in cond["message"] and "CK109" in cond["message"]
    good = check_fleet(nodes[:3], old_driver_rule([]), subject="env", kind="spec", packages=1)
    assert good.condition()["status"] == "True" and good.ok


def test_ten_thousand_nodes_collapse(tmp_path: Path) -> None:
    nodes = load_nodes(NODES)
    many = [n.model_copy(update={"name": f"{n.name}-{i}"}) for i in range(1700) for n in nodes]
    calls: list[str] = []
    report = check_fleet(many, old_driver_rule(calls), subject="env.lock", kind="lock", packages=1)
    assert len(calls) == 3 and report.summary.nodes == 10_200 and report.summary.nodes_ok == 5100
