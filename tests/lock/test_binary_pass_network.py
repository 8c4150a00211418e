"""The single binary pass against PyPI: `lock` reads the torch wheels it considers, with no earlier `inspect`.

torch 2.7 and later (manylinux_2_28 wheels) need GLIBCXX_3.4.22; torch 2.6 (manylinux1 tag) needs GLIBCXX_3.4.19
(measured with this reader on the PyPI cp311 x86_64 wheels, 2026-12-06). The node here runs glibc 2.28, so
every one of those tags installs, but its libstdc++ stops at GLIBCXX_3.4.21 (GCC 5's): the binary facts tell the
releases apart. For Python 3.12 the lock reads them from the wheels; the cp311 wheels have rows in the measured
table (by sha256), so for Python 3.11 the lock reads nothing and its verdicts rest on those rows ("measured").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import main

pytestmark = pytest.mark.network

NODE = """\
schema_version: 1
name: a100-gcc5-libstdcxx
cpu: {arch: x86_64}
driver: {version: 535.104.05, cuda: '12.2'}
glibc: '2.28'
libstdcxx: {glibcxx: 3.4.21, cxxabi: 1.3.9}
gpus:
- {index: 0, name: NVIDIA A100-SXM4-80GB, compute_capability: '8.0'}
os: {system: linux, id: rhel, version_id: '8.10'}
"""


def _lock(
    tmp: Path, capsys: pytest.CaptureFixture[str], reqs: str, *extra: str, python: str = "3.12"
) -> tuple[int, str]:
    spec = tmp / "requirements.txt"
    spec.write_text(reqs)
    node = tmp / "node.yaml"
    node.write_text(NODE)
    out = tmp / "envresolve.lock"
    out.unlink(missing_ok=True)
    capsys.readouterr()
    argv = ["lock", str(spec), "--python", python, "--node", str(node), "-o", str(out), "--explain", *extra]
    rc = main([*argv, "--format", "json"])
    return rc, capsys.readouterr().out


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_lock_fails_cp121_on_a_glibcxx_the_node_lacks_without_inspect(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = _lock(env, capsys, "torch==2.8.0\n")
    assert rc == 1
    assert '"CP121"' in out and "GLIBCXX_3.4.22" in out


def test_lock_backtracks_to_the_newest_release_that_runs(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _lock(env, capsys, "torch>=2.5,<2.9\n")
    assert rc == 0, out
    lock = json.loads((env / "envresolve.lock").read_text())
    torch = next(p for p in lock["pip"] if p["name"] == "torch")
    assert torch["version"].startswith("2.6.")
    assert torch["verdict"]["basis"] == "binary" and torch["binary"]["max_glibcxx"] == "3.4.19"
    assert "CP121" in out and "2.8.0" in out  # --explain: why not the newer releases
    capsys.readouterr()
    assert main(["check", str(env / "envresolve.lock"), "--node", str(env / "node.yaml")]) == 0
    # the cp311 wheels are measured (rows by sha256): nothing is read, the same releases are told apart, and the
    # verdict says it rests on the measured rows
    rc, out = _lock(env, capsys, "torch>=2.5,<2.9\n", python="3.11")
    assert rc == 0, out
    lock = json.loads((env / "envresolve.lock").read_text())
    torch = next(p for p in lock["pip"] if p["name"] == "torch")
    assert torch["version"].startswith("2.6.") and "CP121" in out
    assert torch["verdict"]["basis"] == "measured" and torch["binary"] is None
    capsys.readouterr()
    assert main(["check", str(env / "envresolve.lock"), "--node", str(env / "node.yaml")]) == 0
