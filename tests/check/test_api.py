"""The operator API surface, the bounded-memory prefix scan, and the Containerfile."""

from __future__ import annotations

import importlib
import os
import shutil
import tracemalloc
from pathlib import Path

import pytest

import envresolve
from envresolve.compat.model import Environment, Package
from envresolve.errors import InputError
from envresolve.preflight.api import check_prefix
from envresolve.preflight.report import Report
from tests.check.conftest import Built, bookworm
from tests.conftest import REPO


def test_envresolve_check_is_the_operator_api() -> None:
    assert "check" in envresolve.__all__
    report = envresolve.check(
        Environment(packages=(Package(name="numpy", version="2.1.0", ecosystem="pypi"),)), bookworm()
    )
    assert isinstance(report, Report) and report.ok and report.nodes[0].node == "bookworm"
    # importing the preflight package's modules leaves `envresolve.check` the function
    importlib.import_module("envresolve.preflight.render")

    assert envresolve.check is envresolve.preflight.api.check
    assert isinstance(envresolve.check(Environment(), [bookworm(), bookworm()]), Report)
    with pytest.raises(InputError) as exc:
        envresolve.check(Environment(), [])
    assert exc.value.code == "CK112"


def _peak(prefix: Path) -> int:
    check_prefix(prefix, [bookworm()])  # warm caches and imports
    tracemalloc.start()
    try:
        check_prefix(prefix, [bookworm()])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_files(built: Built, tmp_path: Path) -> None:
    """Ten times more (non-library) files cost next to no memory: the walk streams, only objects are kept."""
    small = tmp_path / "small"
    shutil.copytree(built.venv_good, small, symlinks=True)
    big = tmp_path / "big"
    shutil.copytree(built.venv_good, big, symlinks=True)
    site = next(big.glob("lib/python3*/site-packages"))
    for d in range(40):
        pkg = site / f"bulk{d}"
        pkg.mkdir()
        for i in range(100):
            (pkg / f"m{i}.py").write_bytes(b"")
    assert sum(len(f) for _, _, f in os.walk(big)) > 4000
    grown = _peak(big) - _peak(small)
    assert grown < 200_000, f"4,000 more files cost {grown} bytes"


def test_containerfile_installs_from_the_repository() -> None:
    text = (REPO / "Containerfile").read_text(encoding="utf-8")
    copies = [line.split()[1:-1] for line in text.splitlines() if line.startswith("COPY ") and "--from" not in line]
    sources = [s for group in copies for s in group]
    assert sources == ["pyproject.toml", "README.md", "src", "matrices"]
    assert all((REPO / s).exists() for s in sources)
    # the checkout itself, with the webhook extra (deploy/ runs `envresolve webhook` from this image)
    assert 'pip install --no-cache-dir --disable-pip-version-check ".[webhook]"' in text
    assert 'ENTRYPOINT ["envresolve"]' in text and "USER 65534:65534" in text
