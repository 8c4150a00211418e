"""envresolve: resolve and check conda + pip ML environments against a target GPU node.

The public API is small; heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from envresolve._version import __version__

__all__ = [
    "ArtifactReport",
    "Diagnostic",
    "EnvSpec",
    "EnvresolveError",
    "ImageFacts",
    "Lock",
    "NodeFacts",
    "Resolution",
    "ResolveSettings",
    "__version__",
    "candidate_verdict",
    "check",
    "evaluate",
    "image_facts",
    "image_on_node",
    "inspect",
    "lint",
    "load_node",
    "load_nodes",
    "load_spec",
    "probe",
    "resolve",
    "resolve_pip",
]

_LAZY = {
    "ArtifactReport": "envresolve.binary.model",
    "inspect": "envresolve.binary",
    "candidate_verdict": "envresolve.compat",
    "check": "envresolve.preflight.api",
    "evaluate": "envresolve.compat",
    "Diagnostic": "envresolve.diagnostics",
    "EnvresolveError": "envresolve.errors",
    "NodeFacts": "envresolve.node.facts",
    "ImageFacts": "envresolve.node.images",
    "image_facts": "envresolve.node.images",
    "image_on_node": "envresolve.node.images",
    "load_node": "envresolve.node",
    "load_nodes": "envresolve.node",
    "probe": "envresolve.node",
    "Lock": "envresolve.lock",
    "Resolution": "envresolve.orchestrate",
    "ResolveSettings": "envresolve.orchestrate",
    "resolve": "envresolve.orchestrate",
    "resolve_pip": "envresolve.solve.pip",
    "EnvSpec": "envresolve.specs",
    "load_spec": "envresolve.specs",
    "lint": "envresolve.specs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'envresolve' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
