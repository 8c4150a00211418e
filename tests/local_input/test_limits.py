"""Limits with their own codes: archive members, member names, symlinks, nesting depth, integer digits, ELF tables.

The memory-bound cases (the issue's 400k-member wheel, 200k-symlink .conda, 600 MiB GNU long name) run the CLI
in a child interpreter and assert its peak RSS and wall time; the rest run in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve._input import LimitError, check_nesting, loads_json
from envresolve.binary import inspect
from envresolve.errors import InputError
from envresolve.limits import MAX_FINDINGS_PER_CODE, MAX_INT_DIGITS, MAX_NESTING_DEPTH
from envresolve.node import load_node
from envresolve.specs import lint, load_spec
from tests.local_input.guard import cli
from tests.local_input.hostile import (
    deep_index_conda,
    hostile_elf,
    long_name_conda,
    many_member_wheel,
    measure,
    symlink_conda,
    zip_bytes,
)

SECONDS, RSS_MB = 60.0, 300.0


def codes(diags: object) -> list[str]:
    return [d.code for d in diags]  # type: ignore[attr-defined]


# -- archives ------------------------------------------------------------------------------------------------------


def test_wheel_of_400k_members_is_bn516_in_bounded_memory(tmp_path: Path) -> None:
    wheel = many_member_wheel(tmp_path / "many-1.0-py3-none-any.whl", 400_000)
    run = measure(["inspect", "--no-cache", "--format", "json", str(wheel)], cwd=tmp_path)
    assert run.rc == 2, run.err
    assert '"BN516"' in run.out
    assert run.seconds < SECONDS and run.rss_mb < RSS_MB, (run.seconds, run.rss_mb)


def test_wheel_just_under_the_member_limit_stays_bounded(tmp_path: Path) -> None:
    # 100k members named like libraries, none ELF: one BN505 each was 400 MB of findings; now 100 are listed
    wheel = many_member_wheel(tmp_path / "many-1.0-py3-none-any.whl", 100_000)
    run = measure(["inspect", "--no-cache", "--format", "json", str(wheel)], cwd=tmp_path)
    assert run.rc == 0, run.err
    assert run.out.count('"BN505"') == MAX_FINDINGS_PER_CODE + 1 and "not listed" in run.out
    assert run.seconds < SECONDS and run.rss_mb < RSS_MB, (run.seconds, run.rss_mb)


def test_conda_of_200k_symlinks_is_bn518_in_bounded_memory_and_output(tmp_path: Path) -> None:
    pkg = symlink_conda(tmp_path / "links-1.0-0.conda", 200_000)
    run = measure(["inspect", "--no-cache", "--format", "json", str(pkg)], cwd=tmp_path)
    assert run.rc == 1, run.err
    assert '"BN518"' in run.out
    assert len(run.out) < 1_000_000  # was 37 MB: one note per symlink
    assert run.seconds < SECONDS and run.rss_mb < RSS_MB, (run.seconds, run.rss_mb)


def test_conda_with_a_600mib_gnu_long_name_is_bn517_in_bounded_memory(tmp_path: Path) -> None:
    pkg = long_name_conda(tmp_path / "longname-1.0-0.conda", 600 << 20)
    assert pkg.stat().st_size < 16 << 20  # about 9.4 MB that declare 600 MiB
    run = measure(["inspect", "--no-cache", "--format", "json", str(pkg)], cwd=tmp_path)
    assert run.rc == 1, run.err
    assert '"BN517"' in run.out
    assert run.seconds < SECONDS and run.rss_mb < RSS_MB, (run.seconds, run.rss_mb)


def test_a_few_symlinks_are_listed_and_many_are_summed_up(tmp_path: Path) -> None:
    report = inspect(symlink_conda(tmp_path / "links-1.0-0.conda", 150), cache=False)
    notes = [d for d in report.diagnostics if d.code == "BN510"]
    assert len(notes) == 101 and sum("not listed" in d.message for d in notes) == 1
    assert "BN518" not in codes(report.diagnostics)


def test_member_names_too_long_or_too_deep_are_skipped(tmp_path: Path) -> None:
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    wheel.write_bytes(
        zip_bytes([("a" * 5000 + ".so", b"\x7fELF"), ("a/" * 200 + "x.so", b"\x7fELF"), ("x/ok.py", b"")])
    )
    report = inspect(wheel, cache=False)
    assert sorted(codes(report.diagnostics)) == ["BN517", "BN519"]
    assert all(len(d.subject or "") < 5000 for d in report.diagnostics)  # the name is not reproduced whole


def test_index_json_nested_100k_levels_is_gn108(tmp_path: Path) -> None:
    report = inspect(deep_index_conda(tmp_path / "deep-1.0-0.conda", 100_000), cache=False)
    assert "GN108" in codes(report.diagnostics)


def test_elf_section_table_beyond_the_file_is_bn520(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elf = hostile_elf(tmp_path / "libhostile.so")
    rc, out, err = cli(["inspect", "--no-cache", "--format", "json", str(elf)], capsys)
    assert rc == 0, err  # a warning: the loader does not need section headers
    assert '"BN520"' in out and str(2**62) in out


# -- JSON, TOML and digits -----------------------------------------------------------------------------------------


def test_json_limits() -> None:
    assert loads_json("[" * MAX_NESTING_DEPTH + "]" * MAX_NESTING_DEPTH) is not None
    assert loads_json('{"a": "' + "[" * 1000 + '"}') == {"a": "[" * 1000}  # brackets inside strings do not count
    assert loads_json("1" * MAX_INT_DIGITS) == int("1" * MAX_INT_DIGITS)
    for text, code in (("[" * 100_000 + "]" * 100_000, "GN108"), ("-" + "9" * (MAX_INT_DIGITS + 1), "GN109")):
        with pytest.raises(LimitError) as exc:
            loads_json(text)
        assert exc.value.code == code
    with pytest.raises(LimitError):
        check_nesting('a = [\n# ]]]]\n"]"' + "[" * 100 + "]" * 100 + "]", toml=True)


def test_node_json_with_a_5000_digit_integer_is_gn109(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"schema_version": 1, "name": "n"})[:-1] + ', "x": ' + "9" * 5000 + "}")
    with pytest.raises(InputError) as exc:
        load_node(node)
    assert exc.value.code == "GN109"
    rc, _out, err = cli(["probe", "--node", str(node)], capsys)
    assert rc == 2 and "GN109" in err


def test_node_json_nested_100k_levels_is_gn108(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = tmp_path / "node.json"
    node.write_text('{"schema_version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    rc, _out, err = cli(["probe", "--node", str(node)], capsys)
    assert rc == 2 and "GN108" in err


@pytest.mark.parametrize("deep", ["[" * 100_000 + "]" * 100_000, "{a = " * 100_000 + "}" * 100_000])
def test_deep_pixi_toml_is_gn108(tmp_path: Path, capsys: pytest.CaptureFixture[str], deep: str) -> None:
    manifest = tmp_path / "pixi.toml"
    manifest.write_text(f'[workspace]\nname = "x"\nchannels = ["conda-forge"]\nplatforms = ["linux-64"]\nx = {deep}\n')
    with pytest.raises(InputError) as exc:
        load_spec(manifest)
    assert exc.value.code == "GN108"
    for args in (["lint", str(manifest)], ["lock", str(manifest), "--node", "h100-driver580", "--offline"]):
        rc, _out, err = cli(args, capsys)
        assert rc == 2, err


def test_pixi_toml_with_a_5000_digit_integer_is_gn109(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "pixi.toml"
    manifest.write_text(f'[workspace]\nname = "x"\nplatforms = ["linux-64"]\nx = {"9" * 5000}\n')
    rc, out, err = cli(["lint", str(manifest)], capsys)
    assert rc == 2 and "GN109" in out + err, out + err


def test_conda_meta_json_nested_deeply_is_a_gn108_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "x-1-0.json").write_text('{"name": "x", "files": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (prefix / "conda-meta" / "y-1-0.json").write_text('{"name": "y", "version": 1' + "0" * 5000 + "}")
    rc, out, err = cli(["check", "--prefix", str(prefix), "--node", "h100-driver580", "--format", "json"], capsys)
    assert rc == 0, err
    assert '"GN108"' in out and '"GN109"' in out


def test_requirement_with_100k_digit_version_is_gn109(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "requirements.txt"
    spec.write_text("numpy\nidna==" + "9" * 100_000 + "\n")
    diags = lint([spec])
    assert "GN109" in codes(diags)
    assert all(len(d.message) < 400 for d in diags)  # the line is quoted, never reproduced
    rc, out, _err = cli(["lint", str(spec)], capsys)
    assert rc == 2 and "GN109" in out and len(out) < 2000
    rc, _out, err = cli(["lock", str(spec), "--node", "h100-driver580", "--offline"], capsys)
    assert rc == 2, err
    assert "Exceeds the limit" not in err
