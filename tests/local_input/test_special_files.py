"""Special files are not files: every reader of local input refuses a FIFO or a device (GN106), quickly.

FIFO cases run the CLI in-process under a SIGALRM guard (a reader that blocked would fail, not hang the suite).
/dev/zero cases run in a child interpreter, so that a reader streaming it would show in the peak RSS.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from envresolve._input import read_limited
from envresolve.errors import InputError
from tests.local_input.guard import cli
from tests.local_input.hostile import PLAIN_ELF, measure

DEV_ZERO = Path("/dev/zero")
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo") or not DEV_ZERO.exists(), reason="needs FIFOs, /dev/zero")

#: budget of every case here (the issue's bar is 60 s and 300 MB; these inputs are refused before any read)
SECONDS, RSS_MB = 20.0, 300.0


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "make_args",
    [
        lambda node, spec, tmp: ["probe", "--node", node],
        lambda node, spec, tmp: ["lint", spec, "--node", node],
        lambda node, spec, tmp: ["check", "--prefix", tmp, "--node", node],
        lambda node, spec, tmp: ["check", "--prefix", tmp, "--nodes", node],
        lambda node, spec, tmp: ["lock", spec, "--node", node, "--offline"],
    ],
    ids=["probe", "lint", "check", "check-nodes", "lock"],
)
def test_node_fifo_is_gn106(tmp_path: Path, capsys: pytest.CaptureFixture[str], make_args) -> None:  # type: ignore[no-untyped-def]
    node = fifo(tmp_path / "node.json")
    spec = tmp_path / "requirements.txt"
    spec.write_text("numpy\n")
    rc, _out, err = cli(make_args(str(node), str(spec), str(tmp_path)), capsys)
    assert rc == 2 and "GN106" in err, err


def test_nodes_directory_holding_a_fifo_is_gn106(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    fifo(nodes / "a.json")
    (nodes / "b.yaml").symlink_to(DEV_ZERO)
    rc, _out, err = cli(["check", "--prefix", str(tmp_path), "--nodes", str(nodes)], capsys)
    assert rc == 2 and "GN106" in err, err


def test_node_dev_zero_is_gn106_in_bounded_memory(tmp_path: Path) -> None:
    run = measure(["probe", "--node", str(DEV_ZERO)], cwd=tmp_path)
    assert run.rc == 2 and "GN106" in run.err and "no such file" not in run.err, run.err
    assert run.seconds < SECONDS and run.rss_mb < RSS_MB


@pytest.mark.parametrize("command", ["lint", "lock", "check"])
def test_spec_fifo_is_gn106(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    spec = fifo(tmp_path / "requirements.txt")
    args = {
        "lint": ["lint", str(spec)],
        "lock": ["lock", str(spec), "--node", "h100-driver580", "--offline"],
        "check": ["check", str(spec), "--node", "h100-driver580", "--offline"],
    }[command]
    rc, _out, err = cli(args, capsys)
    assert rc == 2 and "GN106" in err, err


def test_include_fifo_is_gn106(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo(tmp_path / "more.txt")
    spec = tmp_path / "requirements.txt"
    spec.write_text("numpy\n-r more.txt\n")
    rc, out, _err = cli(["lint", str(spec), "--format", "json"], capsys)
    assert rc == 2 and "GN106" in out


@pytest.mark.parametrize("name", ["x-1.0-py3-none-any.whl", "x-1.0-0.conda", "x-1.0-0.tar.bz2", "libx.so"])
def test_inspect_fifo_is_gn106(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    rc, _out, err = cli(["inspect", "--no-cache", str(fifo(tmp_path / name))], capsys)
    assert rc == 2 and "GN106" in err and "no such file" not in err, err


def test_inspect_dev_zero_says_what_it_is(tmp_path: Path) -> None:
    run = measure(["inspect", "--no-cache", str(DEV_ZERO)], cwd=tmp_path)
    assert run.rc == 2, run.err
    assert "GN106" in run.err and "character device" in run.err and "no such file" not in run.err
    assert run.seconds < SECONDS and run.rss_mb < RSS_MB


PLANTED = [
    "conda-meta/evil-1.0-0.json",
    "lib/python3.12/site-packages/x-1.0.dist-info/METADATA",
    "lib/python3.12/site-packages/y-1.0.dist-info/RECORD",
    "lib/libevil.so",
]


def conda_prefix_with(tmp_path: Path, kind: str) -> Path:
    """A small conda prefix with one real library, and each of `PLANTED` a FIFO or a symlink to /dev/zero."""
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "lib").mkdir()
    shutil.copy(PLAIN_ELF, prefix / "lib" / "libplain.so.1")
    (prefix / "conda-meta" / "plain-1.0-0.json").write_text(
        '{"name": "plain", "version": "1.0", "build": "0", "files": ["lib/libplain.so.1"]}'
    )
    site = prefix / "lib" / "python3.12" / "site-packages"
    for dist in ("x-1.0.dist-info", "y-1.0.dist-info"):
        (site / dist).mkdir(parents=True)
        (site / dist / "METADATA").write_text(f"Name: {dist[0]}\nVersion: 1.0\n")
        (site / dist / "RECORD").write_text(f"{dist[0]}/__init__.py,,\n")
    for rel in PLANTED:
        path = prefix / rel
        path.unlink(missing_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(DEV_ZERO)
    return prefix


def test_fifos_inside_a_prefix_are_gn106_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = conda_prefix_with(tmp_path, "fifo")
    rc, out, err = cli(["check", "--prefix", str(prefix), "--node", "h100-driver580", "--format", "json"], capsys)
    assert rc == 0, err
    found = {d["location"]["file"] for d in _diagnostics(json.loads(out)) if d["code"] == "GN106"}
    assert found == set(PLANTED)


def test_dev_zero_links_inside_a_prefix_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    prefix = conda_prefix_with(tmp_path, "devzero")
    run = measure(["check", "--prefix", str(prefix), "--node", "h100-driver580", "--format", "json"], cwd=tmp_path)
    assert run.rc == 0, run.err
    assert run.seconds < SECONDS and run.rss_mb < RSS_MB
    found = {d["location"]["file"] for d in _diagnostics(json.loads(run.out)) if d["code"] == "GN106"}
    # lib*.so symlinks are never opened (the loader follows links by name), the metadata ones are refused
    assert found == {rel for rel in PLANTED if not rel.endswith(".so")}


@pytest.mark.parametrize("kind", ["fifo", "devzero"])
def test_inspect_of_a_prefix_skips_special_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    prefix = conda_prefix_with(tmp_path, kind)
    rc, out, err = cli(["inspect", "--no-cache", "--format", "json", str(prefix)], capsys)
    assert rc == 0, err
    assert "libplain.so.1" in out


def test_bounded_reader_refuses_past_its_cap(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(InputError) as exc:
        read_limited(big, limit=1000)
    assert exc.value.code == "GN107"
    assert read_limited(big, limit=1001) == b"x" * 1001
    for path, code in ((DEV_ZERO, "GN106"), (tmp_path, "GN101"), (tmp_path / "nope", "GN101")):
        with pytest.raises(InputError) as exc:
            read_limited(path, limit=1000)
        assert exc.value.code == code


def _diagnostics(doc: object) -> list[dict[str, object]]:
    """Every diagnostic object anywhere in a JSON report."""
    out: list[dict[str, object]] = []
    stack = [doc]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if "code" in cur and "severity" in cur:
                out.append(cur)
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return out
