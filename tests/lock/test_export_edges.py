"""Exports of a pip-only spec (no conda packages), and an export never replacing its input spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from rattler import LockFile

from envresolve.cli import main
from tests.lock.conftest import INDEX

REQS = "transformers==4.35.0\ntorch\ntorchaudio\ntorchvision\n"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))


def _lock(spec: Path, out: Path, *extra: str) -> int:
    base = ["lock", str(spec), "--index-url", str(INDEX), "--offline", "--python", "3.12"]
    return main([*base, "--node", "h100-driver580", "-o", str(out), *extra])


def test_pip_only_spec_exports_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "requirements.txt"
    spec.write_text(REQS, encoding="utf-8")
    out = tmp_path / "out" / "envresolve.lock"
    out.parent.mkdir()
    code = _lock(spec, out, "--export", "pylock,pixi,explicit,requirements")
    text = capsys.readouterr().out
    assert code == 0, text
    for name in ("pylock.toml", "pixi.lock", "conda-explicit.txt", "requirements.lock.txt"):
        assert (out.parent / name).is_file(), name
    env = LockFile.from_path(out.parent / "pixi.lock").default_environment()
    assert env is not None
    (platform,) = env.platforms()
    assert not env.conda_repodata_records_for_platform(platform)
    pypi = env.pypi_packages_for_platform(platform)
    assert pypi is not None and any(p.name == "torch" for p in pypi)
    assert "--hash=sha256:" in (out.parent / "requirements.lock.txt").read_text(encoding="utf-8")
    assert spec.read_text(encoding="utf-8") == REQS


def test_an_export_never_replaces_the_input_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "requirements.lock.txt"
    spec.write_text(REQS, encoding="utf-8")
    code = _lock(spec, tmp_path / "envresolve.lock", "--export", "requirements")
    err = capsys.readouterr().err
    assert code == 2
    assert "GN104" in err and "would replace the input spec" in err
    assert spec.read_text(encoding="utf-8") == REQS
