"""check's text output leads with the verdict and the problems; the evidence behind them only with --verbose."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.cli import EXIT_FINDINGS, main
from envresolve.lock import write
from tests.check.test_lock_spec import torch_lock


def test_evidence_only_with_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)
    assert main(["check", str(lock), "--node", "v100-driver470"]) == EXIT_FINDINGS
    plain = capsys.readouterr().out
    assert plain.startswith("FAIL: ") and "error[" in plain and "hint:" in plain and "evidence:" not in plain
    assert main(["check", str(lock), "--node", "v100-driver470", "--verbose"]) == EXIT_FINDINGS
    assert "evidence:" in capsys.readouterr().out
