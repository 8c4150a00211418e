"""The digest of what a spec asks for: how a lock knows it is stale (LK101) without importing the resolver."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envresolve.specs.model import EnvSpec

__all__ = ["spec_digest"]


def spec_digest(spec: EnvSpec) -> str:
    """sha256 of what the spec asks for (not where it was read from, nor line numbers)."""
    content = {
        "name": spec.name,
        "format": spec.format,
        "channels": [c.name for c in spec.channels],
        "conda": [d.spec for d in spec.conda],
        "pip": [r.requirement for r in spec.pip],
        "indexes": [(i.kind, i.display) for i in spec.indexes],
        **({"no_index": True} if spec.no_index else {}),
        "python": spec.python,
        "platforms": list(spec.platforms),
        "system_requirements": spec.system_requirements.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
