"""Exit status 2 for input that cannot be read, in every command (lint, inspect, lock, check, probe)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.local_input.guard import cli


@pytest.fixture
def unreadable(tmp_path: Path) -> dict[str, Path]:
    garbage = b"\x00\x01binary\xff" * 10
    files = {
        "spec": tmp_path / "requirements.txt",
        "wheel": tmp_path / "x-1.0-py3-none-any.whl",
        "conda": tmp_path / "x-1.0-0.conda",
        "node": tmp_path / "node.json",
        "lock": tmp_path / "env.lock",
    }
    for path in files.values():
        path.write_bytes(garbage)
    files["lock"].write_text('{"lock-version": 1, "x": ' + "[" * 1000 + "]" * 1000 + "}")
    return files


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["lint", "{spec}"], "SP102"),
        (["lock", "{spec}", "--node", "h100-driver580", "--offline"], "SP102"),
        (["check", "{spec}", "--node", "h100-driver580", "--offline"], "SP102"),
        (["check", "{lock}", "--node", "h100-driver580"], "GN108"),
        (["inspect", "--no-cache", "{wheel}"], "BN501"),
        (["inspect", "--no-cache", "{conda}"], "BN501"),
        (["probe", "--node", "{node}"], "ND202"),
        (["lint", "{missing}"], "GN101"),
        (["inspect", "{missing}"], "GN101"),
        (["probe", "--node", "{missing}"], "GN101"),
    ],
)
def test_unreadable_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], unreadable: dict[str, Path], args: list[str], code: str
) -> None:
    paths = {k: str(v) for k, v in unreadable.items()} | {"missing": str(tmp_path / "missing.json")}
    rc, out, err = cli([a.format(**paths) for a in args], capsys)
    assert rc == 2, out + err
    assert code in out + err
