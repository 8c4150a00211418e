"""Format sniffing: which loader a file goes to, and how files that are no spec are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.diagnostics import Severity
from envresolve.errors import InputError
from envresolve.specs import load_file, load_spec


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("requirements.yaml", "dependencies:\n  - numpy\n", "environment-yml"),
        ("dev-requirements.in", "numpy\n", "requirements-txt"),
        ("requirements", "numpy\n", "requirements-txt"),
        ("env.yml", "channels: [conda-forge]\ndependencies: [numpy]\n", "environment-yml"),
        ("ds.yaml", "apiVersion: dataset.baizeai.io/v1alpha1\nkind: Dataset\nmetadata: {name: a}\n", "dataset"),
        ("pixi.toml", '[workspace]\nname = "a"\nplatforms = ["linux-64"]\n', "pixi"),
        ("vp.yml", "subdirs:\n  linux-64:\n    packages:\n      __cuda: '12.8'\n", "conda-lock-virtual-packages"),
    ],
)
def test_sniffing(tmp_path: Path, name: str, text: str, fmt: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    assert load_file(p).format == fmt


def test_files_that_are_no_spec(tmp_path: Path) -> None:
    other = tmp_path / "values.yaml"
    other.write_text("replicaCount: 2\nimage: {tag: v1}\n")
    (w,) = load_file(other).diagnostics
    assert (w.code, w.severity) == ("SP107", Severity.WARNING)
    with pytest.raises(InputError):
        load_spec(other)
    lock = tmp_path / "pixi.lock"
    lock.write_text("version: 6\n")
    (i,) = load_file(lock).diagnostics
    assert (i.code, i.severity) == ("SP107", Severity.INFO)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n')
    (n,) = load_file(pyproject).diagnostics
    assert (n.code, n.severity) == ("SP107", Severity.INFO)
    readme = tmp_path / "README.md"
    readme.write_text("# hi\n")
    (e,) = load_file(readme).diagnostics
    assert (e.code, e.severity) == ("SP107", Severity.ERROR)
    assert e.location is not None and (e.location.line, e.location.column) == (1, 1)
