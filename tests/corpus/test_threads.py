"""The real-world regression corpus (tests/corpus/threads.yaml): envresolve's verdict on each public thread's stated
environment and node, and the counts docs/corpus.md reports. Zero false alarms is the bar."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from envresolve.compat import Environment, Package, evaluate
from envresolve.diagnostics import Severity
from envresolve.node.facts import DriverFacts, GpuFacts, NodeFacts
from tests.conftest import REPO

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "threads.yaml").read_text())["cases"]


def _node(spec: dict[str, Any]) -> NodeFacts:
    gpus = tuple(GpuFacts(index=i, name=n, compute_capability=cc) for i, (n, cc) in enumerate(spec.get("gpus", ())))
    driver = spec.get("driver")
    return NodeFacts(
        name="thread-node",
        glibc=spec.get("glibc"),
        driver=DriverFacts(**driver) if driver is not None else None,
        gpus=gpus,
    )


def _errors(case: dict[str, Any]) -> list[str]:
    pkgs = tuple(Package(name=p["name"], version=p["version"], ecosystem="pypi") for p in case["packages"])
    found = evaluate(Environment(packages=pkgs, python=case.get("python")), _node(case["node"]))
    return sorted({d.code for d in found if d.severity is Severity.ERROR})


def _outcome(case: dict[str, Any]) -> str:
    errors = _errors(case)
    if case["reported"] == "works":
        return "false-alarm" if errors else "ok"
    return "caught" if errors else "missed"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["thread"].split("github.com/")[1])
def test_verdict_on_a_public_thread(case: dict[str, Any]) -> None:
    errors = _errors(case)
    expect = case["expect"]
    if expect == "ok":
        assert case["reported"] == "works" and errors == []
    elif expect == "missed":
        assert case["reported"] == "fails" and errors == []
    else:
        assert case["reported"] == "fails" and expect["caught"] in errors, errors


def test_corpus_size_and_the_counts_in_the_docs() -> None:
    assert len({c["thread"] for c in CASES}) >= 30
    counts = Counter(_outcome(c) for c in CASES)
    assert counts["false-alarm"] == 0
    text = (REPO / "docs" / "corpus.md").read_text()
    line = re.search(r"cases: (\d+); caught: (\d+); missed: (\d+); ok: (\d+); false alarms: (\d+)", text)
    assert line is not None
    got = tuple(int(x) for x in line.groups())
    assert got == (len(CASES), counts["caught"], counts["missed"], counts["ok"], counts["false-alarm"])
