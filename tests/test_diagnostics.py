from __future__ import annotations

import json
import subprocess
import sys

import pytest

from envresolve.diagnostics import REGISTRY, Category, Severity, lookup, make, sort_diagnostics
from envresolve.diagnostics.registry import FAMILIES
from envresolve.diagnostics.render import render_json, render_markdown_registry, render_text
from tests.conftest import REPO

ISSUE_CATEGORIES = {
    "spec", "node", "driver", "compute-capability", "glibc", "libstdcxx", "cxx-abi", "missing-library",
    "python", "companion", "cudnn", "nccl", "resolution", "lockfile", "security",
}  # fmt: skip


def test_category_vocabulary_covers_the_issue_list() -> None:
    assert {c.value for c in Category} >= ISSUE_CATEGORIES


def test_every_code_is_well_formed() -> None:
    assert REGISTRY, "registry is empty"
    for code, info in REGISTRY.items():
        assert code == info.code
        assert code[:2] in FAMILIES
        assert info.explanation.strip() and info.summary.strip()
        assert lookup(info.name) is info
        assert lookup(code.lower()) is info


def test_make_takes_defaults_from_registry() -> None:
    d = make("GN101", "cannot read x", subject="x", evidence=["a fact"], hint="fix it")
    assert d.category is Category.SPEC and d.severity is Severity.ERROR and d.name == "file-unreadable"
    assert d.evidence[0].fact == "a fact"
    with pytest.raises(KeyError):
        make("ZZ999", "nope")


def test_renderers() -> None:
    diags = [make("GN104", "bad --format", hint="use json"), make("GN101", "gone", severity=Severity.WARNING)]
    text = render_text(sort_diagnostics(diags))
    assert text.splitlines()[0].startswith("error[GN104 bad-argument]")
    assert "  hint: use json" in text
    obj = json.loads(render_json(diags))
    assert obj["version"] == 1
    assert [d["code"] for d in obj["diagnostics"]] == ["GN104", "GN101"]
    assert obj["diagnostics"][0]["category"] == "spec"


def test_docs_diagnostics_md_is_in_sync() -> None:
    doc = REPO / "docs" / "diagnostics.md"
    assert doc.read_text(encoding="utf-8") == render_markdown_registry(), (
        "docs/diagnostics.md is stale: run `python -m envresolve.diagnostics`"
    )


def test_docgen_check_mode() -> None:
    proc = subprocess.run([sys.executable, "-m", "envresolve.diagnostics", "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
