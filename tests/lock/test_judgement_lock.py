"""Lock and check agree by construction: the lock's verdicts are computed from exactly the facts it records."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.binary.cache import ReportCache
from envresolve.binary.model import ArtifactReport
from envresolve.diagnostics import Severity
from envresolve.node import load_node
from envresolve.preflight.api import check_lock
from envresolve.specs.model import EnvSpec
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

    cudart = next(p for p in first.lock.conda if p.name == "cuda-cudart")
    assert cudart.sha256
    bad = ArtifactReport(artifact=cudart.url or "cuda-cudart", kind="conda", sha256=cudart.sha256, max_glibc="2.99")
    ReportCache(tmp_path).put(cudart.sha256, bad, symbols=False)

    second = demo_resolve(demo_spec, tmp_path, "h100-driver580", explain=False)
    # before: locked as "compatible / basis: binary", then `check` of that lock failed on CP120
    assert not second.ok and second.lock is None
    errors = [d for d in second.diagnostics if d.severity is Severity.ERROR]
    assert [(d.code, d.subject) for d in errors] == [("CP120", "cuda-cudart")]
