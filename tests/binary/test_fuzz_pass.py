"""The bounded fuzz pass (fuzz/run.py) runs in CI: every fuzz/fuzz_*.py harness, few examples, time-capped."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def _runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fuzz_run", REPO / "fuzz" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_harness_passes_a_bounded_run() -> None:
    runner = _runner()
    names = [p.stem for p in runner.modules()]
    assert "fuzz_zip" in names
    results = runner.run(examples=25, total_seconds=120)
    failed = [(name, status) for name, status, _ in results if status != "ok"]
    assert not failed, failed
    assert [name for name, _, _ in results] == names


def test_the_runner_reports_a_violation(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runner = _runner()
    bad = tmp_path / "fuzz_broken.py"
    bad.write_text("def fuzz(max_examples):\n    raise ValueError('a reader bug')\n")
    hang = tmp_path / "fuzz_hang.py"
    hang.write_text("import time\ndef fuzz(max_examples):\n    time.sleep(60)\n")
    monkeypatch.setattr(runner, "HERE", tmp_path)
    results = {name: status for name, status, _ in runner.run(examples=1, total_seconds=3, min_slice=1.0)}
    assert "ValueError: a reader bug" in results["fuzz_broken"]
    assert results["fuzz_hang"].startswith("hang")
