"""The README's Python example runs, and its two commands are the ones CI and users run."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = re.findall(r"^```sh\n(.*?)\n```$", README, re.S | re.M)
    assert len(commands) >= 2
    test_command = commands[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
    assert "pytest" in test_command


def test_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    (code,) = re.findall(r"^```python\n(.*?)^```$", README, re.S | re.M)
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    printed = out.getvalue()
    assert "why not torch 2.11.0" in printed
    assert printed.rstrip().endswith("runs")
