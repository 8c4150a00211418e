"""`envresolve inspect`: text table, stable JSON, exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import main
from tests.fixtures.archives import build


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))


def test_text_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = build.demo_wheel(tmp_path)
    assert main(["inspect", str(w)]) == 0
    out = capsys.readouterr().out
    assert "needs 2.34 > tag 2.17  TAG UNDERSTATES (BN601)" in out
    assert "runtime 13   SASS 80   PTX 90" in out
    assert "libgamma.so.3" in out and "libcudart.so.13" in out
    row = next(line for line in out.splitlines() if "demo/lib/libkern.so" in line)
    assert row.split()[1:6] == ["2.2.5", "-", "13", "80", "90"]  # needs only CXXABI_1.3 from libstdc++
    assert "warning[BN601 tag-understates-glibc]" in out


def test_json_is_stable_and_complete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = build.demo_wheel(tmp_path)
    assert main(["inspect", "--format", "json", str(w)]) == 0
    first = capsys.readouterr().out
    assert main(["inspect", "--format", "json", str(w)]) == 0  # from the cache: same bytes
    assert capsys.readouterr().out == first
    doc = json.loads(first)
    assert doc["version"] == 1 and doc["diagnostics"] == []
    (rep,) = doc["reports"]
    assert rep["max_glibc"] == "2.34" and rep["sass_archs"] == ["sm_80"] and len(rep["elf"]) == 4
    assert list(rep) == sorted(rep)


def test_symbols_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = build.demo_wheel(tmp_path)
    assert main(["inspect", "--format", "json", "--symbols", str(w)]) == 0
    rep = json.loads(capsys.readouterr().out)["reports"][0]
    alpha = next(e for e in rep["elf"] if e["path"] == "demo.libs/libalpha.so.1")
    assert any("alpha_name" in s for s in alpha["defined_symbols"])


def test_error_findings_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = build.demo_wheel(tmp_path, extra=[("../evil.so", build.ALPHA)])
    assert main(["inspect", str(w)]) == 1
    assert "BN504" in capsys.readouterr().out


def test_bad_input_exit_2_and_the_rest_is_still_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    w = build.demo_wheel(tmp_path)
    assert main(["inspect", str(tmp_path / "missing.whl"), str(notes), str(w)]) == 2
    captured = capsys.readouterr()
    assert "GN101" in captured.err and "BN515" in captured.err
    assert "demo/lib/libkern.so" in captured.out


def test_json_carries_input_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--format", "json", str(tmp_path / "missing.whl")]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["reports"] == [] and doc["diagnostics"][0]["code"] == "GN101"


def test_directory_and_single_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "env" / "lib").mkdir(parents=True)
    (tmp_path / "env" / "lib" / "libkern.so").write_bytes(build.KERN)
    assert main(["inspect", str(tmp_path / "env"), str(build.HERE / "libalpha.so.1")]) == 0
    out = capsys.readouterr().out
    assert "kind      directory" in out and "kind      elf" in out
