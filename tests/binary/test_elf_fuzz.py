"""A short, bounded run of the ELF and fatbinary fuzz harnesses (the CI fuzz pass runs longer)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["fuzz_elf", "fuzz_fatbin"])
def test_fuzz_harness_runs(name: str) -> None:
    mod = _load(name)
    assert mod.SEEDS, "the harness found its seeds in tests/fixtures/elf"
    mod.fuzz(max_examples=25)


def test_harness_flags_a_contract_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness is not vacuous: a reader that raises a plain exception fails it."""
    mod = _load("fuzz_elf")

    def broken(*_a: object, **_k: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(mod, "read_elf", broken)
    with pytest.raises(ValueError, match="boom"):
        mod.one_input(b"\x7fELF")
