"""`check --format json` has one shape, with a `version`, whether one node, a fleet or several environments were
checked; `docs/schemas/check.schema.json` is that shape, generated from the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envresolve.cli import EXIT_FINDINGS, EXIT_OK, main
from envresolve.lock import write
from envresolve.preflight.report import CHECK_JSON_VERSION
from envresolve.preflight.schema import SCHEMA_PATH, schema_text
from tests.check.shape import assert_check_shape, check_schema_errors
from tests.check.test_lock_spec import NODES, torch_lock


def test_schema_file_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run python -m envresolve.preflight.schema"


def _keys(obj: Any) -> Any:
    """The shape of a JSON value: its keys, recursively (lists by the union of their items' shapes)."""
    if isinstance(obj, dict):
        return {k: _keys(v) for k, v in obj.items() if k != "diagnostics"}
    if isinstance(obj, list):
        merged: dict[str, Any] = {}
        for item in obj:
            shape = _keys(item)
            if isinstance(shape, dict):
                merged.update(shape)
        return [merged] if merged else []
    return type(obj).__name__


def test_one_node_and_a_fleet_give_the_same_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)
    capsys.readouterr()
    assert main(["check", str(lock), "--node", "h100-driver580", "--format", "json"]) == EXIT_OK
    one = json.loads(capsys.readouterr().out)
    assert main(["check", str(lock), "--nodes", str(NODES), "--format", "json"]) == EXIT_FINDINGS
    fleet = json.loads(capsys.readouterr().out)

    for obj in (one, fleet):
        assert_check_shape(obj)
        assert obj["version"] == CHECK_JSON_VERSION and obj["tool"] == "envresolve check"
    assert (one["verdict"], fleet["verdict"]) == ("runs", "does-not-run")
    assert len(one["reports"]) == len(fleet["reports"]) == 1
    assert len(one["reports"][0]["nodes"]) == 1 and len(fleet["reports"][0]["nodes"]) == 6
    assert _keys(one) == _keys(fleet)


def test_a_bare_report_is_not_the_check_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The schema tells the shapes apart: a report on its own (the old single-report output) does not validate."""
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)
    capsys.readouterr()
    assert main(["check", str(lock), "--node", "h100-driver580", "--format", "json"]) == EXIT_OK
    (report,) = json.loads(capsys.readouterr().out)["reports"]
    assert check_schema_errors(report) != []
