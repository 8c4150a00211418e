"""Fixtures of the matrix tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envresolve.matrices import base, matrices_dir


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the matrix files that the loaders read instead, for tests that edit a file."""
    for path in matrices_dir().glob("*.yaml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(base, "matrices_dir", lambda: tmp_path)
    base.forget_loaded()
    yield tmp_path
    base.forget_loaded()
