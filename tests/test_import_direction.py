"""Imports flow one way (DESIGN.md): `envresolve.orchestrate` sits above `solve` and `lock` and is the only module
importing both; `solve` never imports the orchestration, `lock` never imports `solve`, and the judge (`compat`)
imports none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "envresolve"


def _module_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _imports(package: str) -> set[tuple[str, str]]:
    root = SRC / package
    paths = sorted(root.rglob("*.py")) if root.is_dir() else [SRC / f"{package}.py"]
    return {(path.name, module) for path in paths for module in _module_imports(path)}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("lock", ("envresolve.solve", "envresolve.orchestrate")),
        ("solve", ("envresolve.orchestrate",)),
        ("compat", ("envresolve.solve", "envresolve.lock", "envresolve.specs", "envresolve.orchestrate")),
    ],
)
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    bad = sorted((f, m) for f, m in _imports(package) if any(_under(m, p) for p in forbidden))
    assert bad == []


def test_only_the_orchestration_imports_both_solve_and_lock() -> None:
    both = []
    for path in sorted(SRC.rglob("*.py")):
        modules = _module_imports(path)
        if any(_under(m, "envresolve.solve") for m in modules) and any(_under(m, "envresolve.lock") for m in modules):
            both.append(str(path.relative_to(SRC)))
    assert both == ["orchestrate.py"]
