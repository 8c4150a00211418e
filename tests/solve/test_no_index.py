"""`--no-index` in a requirements file reaches the resolver: nothing but the find-links is read, with no network."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from envresolve.cli import main
from envresolve.solve.pip import indexes_from_spec
from envresolve.specs import load_spec
from tests.conftest import FIXTURES

LINKS = FIXTURES / "index" / "findlinks"


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    tried: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        tried.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return tried


def test_no_index_is_a_typed_spec_field_and_drops_every_index(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(f"--no-index\n--extra-index-url https://example.invalid/simple/\n-f {LINKS}\nlocalpkg\n")
    spec = load_spec(req)[0]
    assert spec.no_index is True
    assert indexes_from_spec(spec) == ([], [str(LINKS)])


def test_no_index_lock_runs_with_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    tried = _no_network(monkeypatch)
    links = tmp_path / "links"
    links.mkdir()
    for wheel in (LINKS / "localpkg-0.3-py3-none-any.whl", FIXTURES / "index" / "files" / "beta-1.1-py3-none-any.whl"):
        shutil.copy(wheel, links / wheel.name)
    req = tmp_path / "requirements.txt"
    req.write_text(f"--no-index\n-f {links}\nlocalpkg\n")
    out = tmp_path / "envresolve.lock"
    code = main(["lock", str(req), "--python", "3.11", "--node", "cpu-only", "-o", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    assert tried == []
    pip = json.loads(out.read_text())["pip"]
    assert sorted((p["name"], p["version"]) for p in pip) == [("beta", "1.1"), ("localpkg", "0.3")]
