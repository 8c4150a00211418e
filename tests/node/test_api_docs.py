"""Every ```python block of docs/api.md runs (each in a fresh namespace)."""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest

from tests.conftest import REPO

DOC = REPO / "docs" / "api.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.S | re.M)


def test_api_doc_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_api_doc_block_runs(code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    # The examples use paths of a checkout (examples/, tests/fixtures/) and must not touch the user's cache.
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path))
    for var in list(os.environ):
        if var.startswith("CONDA_OVERRIDE_"):
            monkeypatch.delenv(var)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__api_doc__"})
