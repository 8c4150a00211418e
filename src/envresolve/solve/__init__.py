"""Resolution: conda (py-rattler) first, then pip (GPU-aware resolvelib), then the compatibility rules.

Public API: `resolve(spec, nodes, *, offline=False, explain=False, settings=None) -> Resolution`, with
`Resolution`, `NodeOutcome`, `WhyNot`, `ResolveSettings` and the conda side's `CondaSettings`. Names load
lazily so that `envresolve.solve.conda` can be imported (by the lock model) without the pip side.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CondaSettings", "NodeOutcome", "Resolution", "ResolveSettings", "WhyNot", "resolve"]

_LAZY = {
    "CondaSettings": "envresolve.solve.conda",
    "NodeOutcome": "envresolve.solve.combine",
    "Resolution": "envresolve.solve.combine",
    "ResolveSettings": "envresolve.solve.combine",
    "WhyNot": "envresolve.solve.combine",
    "resolve": "envresolve.solve.combine",
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
