from __future__ import annotations

import subprocess
import sys

import pytest

from envresolve import __version__
from envresolve.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"envresolve {__version__}"


def test_explain_known_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "GN101"]) == 0
    assert "file-unreadable" in capsys.readouterr().out
    assert main(["explain", "file-unreadable"]) == 0
    assert main(["explain", "QQ123"]) == 2
    err = capsys.readouterr().err
    assert "GN102" in err and "Traceback" not in err


def test_usage_error_has_code_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "GN104" in capsys.readouterr().err


def test_console_script_runs_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "envresolve", "explain", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
