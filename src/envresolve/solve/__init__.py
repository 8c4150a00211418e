"""The solvers: conda (py-rattler, `envresolve.solve.conda`) and pip (GPU-aware resolvelib, `envresolve.solve.pip`).

They know nothing of locks; `envresolve.orchestrate` runs them, attaches facts, judges and builds the lock.
Public API here: the conda side's `CondaSettings`. Names load lazily so that importing one side does not load
the other.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CondaSettings"]

_LAZY = {
    "CondaSettings": "envresolve.solve.conda",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'envresolve.solve' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
