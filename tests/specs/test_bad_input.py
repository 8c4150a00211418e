"""Hostile input: alias bombs, deep nesting, size cap, binary garbage, wrong encodings -> clear SP errors, fast."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from envresolve.errors import InputError
from envresolve.specs import load_file, load_spec
from envresolve.specs._text import read_spec_text
from envresolve.specs._yaml import compose_documents

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "bad"


def _codes(path: Path) -> set[str]:
    return {d.code for d in load_file(path).diagnostics}


def test_alias_bomb_is_refused_quickly_with_bounded_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    res = load_file(BAD / "alias-bomb.yaml")
    assert time.perf_counter() - start < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    (diag,) = res.diagnostics
    assert diag.code == "SP105"
    assert diag.location is not None and diag.location.line == 9


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(InputError) as exc:
        compose_documents("a: &x [1, *x]\n", "f.yaml")
    assert exc.value.code == "SP105"


def test_deep_nesting_is_refused_without_crashing() -> None:
    assert _codes(BAD / "deep-nesting.yaml") == {"SP105"}
    with pytest.raises(InputError) as exc:
        compose_documents("[" * 200_000 + "]" * 200_000, "f.yaml")  # the C composer would overflow its stack
    assert exc.value.code == "SP105"


def test_binary_garbage() -> None:
    assert _codes(BAD / "garbage.yaml") == {"SP102"}
    with pytest.raises(InputError) as exc:
        load_spec(BAD / "garbage.yaml")
    assert exc.value.code == "SP102"


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("utf16-environment.yml", "UTF-16"),
        ("latin1-environment.yml", "Latin-1"),
        ("latin1-requirements.txt", "Latin-1"),
    ],
)
def test_wrong_encodings(name: str, needle: str) -> None:
    (diag,) = load_file(BAD / name).diagnostics
    assert diag.code == "SP103"
    assert needle in diag.message
    assert diag.hint and "iconv" in diag.hint


def test_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "environment.yml"
    big.write_text("dependencies:\n" + "  - numpy\n" * 600_000)  # ~6 MB
    start = time.perf_counter()
    (diag,) = load_file(big).diagnostics
    assert time.perf_counter() - start < 2
    assert diag.code == "SP101"
    with pytest.raises(InputError):
        read_spec_text(tmp_path / "environment.yml", max_bytes=1024)
    assert read_spec_text(big, max_bytes=10_000_000).startswith("dependencies")


def test_missing_file_is_gn101(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_spec(tmp_path / "nope.yml")
    assert exc.value.code == "GN101"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "environment.yml"
    p.write_bytes(b"\xef\xbb\xbfdependencies:\n  - numpy\n")
    (spec,) = load_spec(p)
    assert [d.name for d in spec.conda] == ["numpy"]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "environment.yml"
    p.write_text("name: x\ndependencies:\n  - numpy\n - scipy\n")
    (diag,) = load_file(p).diagnostics
    assert diag.code == "SP104"
    assert diag.location is not None and (diag.location.line, diag.location.column) == (4, 2)
