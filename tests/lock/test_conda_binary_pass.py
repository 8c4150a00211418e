"""The lock's binary pass reads conda packages too: whole, sha256 checked, within the inspect budget."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from envresolve.diagnostics import Severity
from envresolve.node import NodeFacts
from envresolve.orchestrate import ResolveSettings, resolve
from envresolve.preflight import check_lock
from envresolve.solve.conda import CondaSettings
from envresolve.specs import load_spec
from tests.fixtures.archives import build

ELF = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"
NAME = "needs-glibcxx"

# libcvwait.so needs GLIBCXX_3.4.30 (libstdc++ 12); this node's libstdc++ has 3.4.28 (GCC 10)
NODE = NodeFacts.model_validate(
    {
        "schema_version": 1,
        "name": "old-libstdcxx",
        "cpu": {"arch": "x86_64"},
        "os": {"system": "linux", "id": "ubuntu", "version_id": "20.04"},
        "glibc": "2.31",
        "libstdcxx": {"glibcxx": "3.4.28", "cxxabi": "1.3.12"},
        "driver": {"version": "535.104.05", "cuda": "12.2"},
        "gpus": [{"index": 0, "name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}],
    }
)


def _channel(root: Path, libs: dict[str, str] | None = None) -> Path:
    """A local channel of real .conda packages of NAME: version -> the fixture library it ships (by default one,
    1.0, whose library needs GLIBCXX_3.4.30)."""
    sub = root / "channel" / "linux-64"
    sub.mkdir(parents=True)
    (root / "channel" / "noarch").mkdir()
    records = {}
    for version, lib in (libs or {"1.0": "libcvwait.so"}).items():
        index = {"name": NAME, "version": version, "build": "h0_0", "build_number": 0, "subdir": "linux-64"}
        members = [(f"lib/{lib}", (ELF / lib).read_bytes(), None)]
        pkg = build.demo_conda(sub, index={**index, "depends": []}, name=f"{NAME}-{version}-h0_0", members=members)
        data = pkg.read_bytes()
        records[pkg.name] = {**index, "depends": [], "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (sub / "repodata.json").write_text(
        json.dumps({"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": records})
    )
    (root / "channel" / "noarch" / "repodata.json").write_text(
        json.dumps({"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}})
    )
    return root / "channel"


def _spec(root: Path, channel: str) -> Path:
    spec = root / "environment.yml"
    spec.write_text(f"name: t\nchannels:\n  - {channel}\ndependencies:\n  - {NAME}\n")
    return spec


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The tmp_path directory over plain HTTP on loopback."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _lock(tmp_path: Path, channel: str, *, offline: bool = False, budget: int | None = None):  # type: ignore[no-untyped-def]
    spec = load_spec(_spec(tmp_path, channel))[0]
    settings = ResolveSettings(
        conda=CondaSettings(cache_dir=str(tmp_path / "repodata")), notebook_packages=False, inspect_budget=budget
    )
    return resolve(spec, [NODE], offline=offline, settings=settings)


def test_a_local_conda_package_is_read_and_its_glibcxx_need_fails_cp121(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    channel = _channel(tmp_path)
    res = _lock(tmp_path, str(channel))
    errors = [d for d in res.diagnostics if d.severity is Severity.ERROR]
    assert [(d.code, d.subject) for d in errors] == [("CP121", NAME)], [d.message for d in res.diagnostics]
    assert "GLIBCXX_3.4.30" in errors[0].message + " ".join(e.fact for e in errors[0].evidence)


def test_a_served_conda_package_is_read_within_the_budget_and_named_beyond_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: str
) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    _channel(tmp_path)
    small = _lock(tmp_path, f"{served}/channel", budget=64)
    assert not [d for d in small.diagnostics if d.severity is Severity.ERROR], [d.message for d in small.diagnostics]
    (note,) = [d for d in small.diagnostics if d.code == "BN552"]
    assert any(e.fact.startswith(f"{NAME} 1.0") for e in note.evidence)
    read = _lock(tmp_path, f"{served}/channel")
    assert [(d.code, d.subject) for d in read.diagnostics if d.severity is Severity.ERROR] == [("CP121", NAME)]
    # the facts are kept by sha256: offline, the same lock knows them without fetching anything
    again = _lock(tmp_path, f"{served}/channel", offline=True)
    assert [d.code for d in again.diagnostics if d.severity is Severity.ERROR] == ["CP121"]


def test_the_record_a_new_solve_brings_in_is_read_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2.0 needs GLIBCXX_3.4.30 and is kept out of the solve (RS110); 1.0, which the new solve brings in, is
    read as well before it is judged."""
    from envresolve.binary.cache import ReportCache

    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    channel = _channel(tmp_path, {"1.0": "libplain.so.1", "2.0": "libcvwait.so"})
    res = _lock(tmp_path, str(channel))
    assert res.ok and res.lock is not None, [d.message for d in res.diagnostics]
    assert [(p.name, p.version) for p in res.lock.conda] == [(NAME, "1.0")]
    assert [d.code for d in res.diagnostics if d.subject == NAME] == ["RS110"]
    (kept,) = res.lock.conda
    assert kept.sha256 and ReportCache(tmp_path / "cache").get_for(kept.sha256, NAME, "1.0") is not None
    # check of that lock judges the facts it records: no new error (lock and check agree)
    assert [d for d in check_lock(res.lock, [NODE]).diagnostics if d.severity is Severity.ERROR] == []
