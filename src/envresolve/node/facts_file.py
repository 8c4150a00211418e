"""Node facts files: the JSON (or YAML) that `envresolve probe --format json` writes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from envresolve.diagnostics import make
from envresolve.errors import InputError
from envresolve.node.facts import NODE_FACTS_SCHEMA_VERSION, NodeFacts

__all__ = ["facts_from_obj", "is_facts_obj", "validation_message"]


def is_facts_obj(obj: Any) -> bool:
    """True for a mapping that looks like a facts file (it carries `schema_version` and no Kubernetes `kind`)."""
    return isinstance(obj, dict) and "schema_version" in obj and "kind" not in obj and "subdirs" not in obj


def validation_message(exc: ValidationError, limit: int = 3) -> str:
    """The first errors of a pydantic ValidationError as `/json/pointer: message` parts."""
    parts = []
    for err in exc.errors()[:limit]:
        pointer = "/" + "/".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{pointer}: {err.get('msg', 'invalid')}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def facts_from_obj(obj: Any, *, origin: str) -> NodeFacts:
    """Validate a parsed facts file. Raises InputError: ND201 for a newer schema, ND202 for anything invalid."""
    if not isinstance(obj, dict):
        raise InputError(make("ND202", f"{origin}: a node facts file holds one JSON/YAML object"))
    version = obj.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(make("ND202", f"{origin}: schema_version must be a positive integer, got {version!r}"))
    if version > NODE_FACTS_SCHEMA_VERSION:
        raise InputError(
            make(
                "ND201",
                f"node facts schema_version {version} is newer than this envresolve reads (up to "
                f"{NODE_FACTS_SCHEMA_VERSION})",
                subject=origin,
                hint="upgrade envresolve, or probe the node again with this version",
            )
        )
    try:
        node = NodeFacts.model_validate(obj)
    except ValidationError as exc:
        raise InputError(make("ND202", f"{origin} is not valid node facts: {validation_message(exc)}")) from None
    return node if node.source else node.model_copy(update={"source": origin})
