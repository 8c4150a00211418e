"""Include policy for requirements files: no reads outside the spec's tree by default (SP160), each file read once
within a budget (SP161), and diagnostics that quote at most a short excerpt of a line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from envresolve.limits import EXCERPT_CHARS, MAX_INCLUDE_FILES
from envresolve.specs import lint, load_spec
from tests.local_input.guard import cli
from tests.local_input.hostile import diamond, measure

SECRET = "machine ci.example.invalid login bot password hunter2-s3cr3t"


def secret_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A spec directory and, beside it, a netrc-like file with a credential on every line."""
    spec_dir = tmp_path / "repo" / "envs"
    spec_dir.mkdir(parents=True)
    secret = tmp_path / "home" / ".netrc"
    secret.parent.mkdir()
    secret.write_text("\n".join(f"{SECRET}{i}" for i in range(20)) + "\nroot:x:0:0:root:/root:/bin/bash\n")
    return spec_dir, secret


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink"])
@pytest.mark.parametrize("flag", ["-r", "-c"])
def test_include_outside_the_tree_is_sp160_and_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, flag: str
) -> None:
    spec_dir, secret = secret_tree(tmp_path)
    target = {"relative": "../../home/.netrc", "absolute": str(secret), "symlink": "inside.txt"}[how]
    if how == "symlink":
        (spec_dir / "inside.txt").symlink_to(secret)
    spec = spec_dir / "requirements.txt"
    spec.write_text(f"numpy\n{flag} {target}\n")
    diags = lint([spec])
    assert [d.code for d in diags if d.code.startswith("SP16")] == ["SP160"]
    for args, status in (
        (["lint", str(spec)], 1),  # a finding about the spec, as every lint error
        (["lock", str(spec), "--node", "h100-driver580", "--offline"], 2),  # lock refuses a spec with errors
    ):
        rc, out, err = cli(args, capsys)
        assert rc == status and "SP160" in out + err
        assert "hunter2" not in out + err and "root:x" not in out + err


def test_environment_yml_pip_include_outside_is_sp160(tmp_path: Path) -> None:
    spec_dir, secret = secret_tree(tmp_path)
    env = spec_dir / "environment.yml"
    env.write_text(f"name: x\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - -r {secret}\n")
    diags = [d for s in load_spec(env) for d in s.diagnostics]
    assert "SP160" in [d.code for d in diags]
    assert not any("hunter2" in d.message for d in diags)


def test_opt_in_reads_outside_includes_but_never_echoes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_dir, _secret = secret_tree(tmp_path)
    spec = spec_dir / "requirements.txt"
    spec.write_text("numpy\n-r ../../home/.netrc\n")
    diags = lint([spec], allow_outside_includes=True)
    assert "SP160" not in [d.code for d in diags]
    invalid = [d for d in diags if d.code == "SP121"]
    assert len(invalid) == 1 and "does not parse as a requirements file" in invalid[0].message
    rc, out, err = cli(["lint", "--allow-outside-includes", str(spec)], capsys)
    assert rc == 1 and "SP121" in out
    assert "hunter2" not in out + err and "root:x" not in out + err


def test_invalid_lines_are_quoted_as_short_excerpts(tmp_path: Path) -> None:
    spec = tmp_path / "requirements.txt"
    spec.write_text("numpy\n" + "not a requirement " * 20 + "\n")
    [bad] = [d for d in lint([spec]) if d.code == "SP121"]
    quoted = bad.message.split("'")[1]
    assert len(quoted) <= EXCERPT_CHARS and quoted.endswith("…")


def test_diamond_of_30_levels_is_read_once_per_file(tmp_path: Path) -> None:
    top = diamond(tmp_path, 30)
    start = time.perf_counter()
    [spec] = load_spec(top)
    assert time.perf_counter() - start < 5
    assert len(spec.pip) == 60 and not [d for d in spec.diagnostics if d.code.startswith("SP1")]
    run = measure(["lint", str(top)], cwd=tmp_path)
    assert run.rc == 0, run.err
    assert run.seconds < 30 and run.rss_mb < 300, (run.seconds, run.rss_mb)


def test_include_budget_is_sp161(tmp_path: Path) -> None:
    count = MAX_INCLUDE_FILES + 5
    for i in range(count):
        (tmp_path / f"r{i}.txt").write_text(f"pkg{i}\n")
    top = tmp_path / "requirements.txt"
    top.write_text("".join(f"-r r{i}.txt\n" for i in range(count)))
    [spec] = load_spec(top)
    budget = [d for d in spec.diagnostics if d.code == "SP161"]
    assert len(budget) == 6 and len(spec.pip) == MAX_INCLUDE_FILES - 1


def test_cycle_is_still_sp125(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\n-r b.txt\n")
    (tmp_path / "b.txt").write_text("y\n-r a.txt\n")
    [spec] = load_spec(tmp_path / "a.txt")
    assert [d.code for d in spec.diagnostics if d.code.startswith("SP1")] == ["SP125"]


def test_a_file_included_as_requirements_and_as_constraints_counts_in_both_roles(tmp_path: Path) -> None:
    (tmp_path / "pins.txt").write_text("numpy==2.0\n")
    top = tmp_path / "requirements.txt"
    top.write_text("-r pins.txt\n-c pins.txt\n-r pins.txt\n")
    [spec] = load_spec(top)
    assert sorted(p.constraint for p in spec.pip) == [False, True]
