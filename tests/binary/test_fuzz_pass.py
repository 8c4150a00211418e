"""The bounded fuzz pass (fuzz/run.py) runs in CI: every fuzz/fuzz_*.py harness, few examples, time-capped."""

from __future__ import annotations

import importlib.util
import platform
import sys

import pytest

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


def _coverage():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fuzz_coverage", REPO / "fuzz" / "coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _atheris_must_run() -> bool:
    """Where atheris ships wheels (pyproject.toml installs it there): CPython 3.11-3.13 on Linux x86_64.
    CI is CPython 3.11 on Linux x86_64, so the coverage-guided pass cannot be skipped there."""
    return (
        sys.implementation.name == "cpython"
        and sys.platform == "linux"
        and platform.machine() == "x86_64"
        and (3, 11) <= sys.version_info[:2] < (3, 14)
    )


def test_coverage_guided_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not _atheris_must_run():
        pytest.importorskip("atheris")
    cov = _coverage()
    results = cov.run(["all"], seconds=2, artifacts=str(tmp_path), seed=1)
    assert [(name, status) for name, status, _ in results] == [("all", "ok")], results
    assert not list(tmp_path.iterdir())  # no crash input written


def test_the_committed_fuzz_corpus_replays_cleanly() -> None:
    cov = _coverage()
    assert all(any((cov.CORPUS / name).iterdir()) for name in ("yaml", "conda"))
    assert cov.replay(list(cov.TARGETS)) == []


def test_a_corpus_file_that_breaks_the_contract_is_reported(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cov = _coverage()
    (tmp_path / "yaml").mkdir()
    (tmp_path / "yaml" / "crash-1").write_bytes(b"a: 1")

    def broken(data: bytes) -> None:
        raise RecursionError("a reader bug")

    monkeypatch.setattr(cov, "CORPUS", tmp_path)
    monkeypatch.setattr(cov, "target", lambda name: (broken, []))
    assert cov.replay(["yaml"]) == ["yaml/crash-1: RecursionError: a reader bug"]
