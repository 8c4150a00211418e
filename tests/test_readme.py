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


def test_test_environment_is_pinned() -> None:
    """Every distribution the test command installs is pinned exactly, and the running one is the pinned one."""
    from importlib import metadata

    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in (REPO / "requirements" / "test.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = version
    for dist in ("pytest", "hypothesis", "pyyaml", "py-rattler", "pydantic", "resolvelib", "packaging"):
        assert canonicalize_name(dist) in pins
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drift = {n: (v, installed[n]) for n, v in pins.items() if n in installed and installed[n] != v}
    assert not drift, f"installed versions differ from requirements/test.txt: {drift}"
