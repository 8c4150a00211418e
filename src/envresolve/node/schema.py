"""The JSON Schema of node facts files; `python -m envresolve.node.schema [--check]` writes (or checks)
`docs/schemas/node-facts.schema.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from envresolve.node.facts import NODE_FACTS_SCHEMA_VERSION, NodeFacts

__all__ = ["SCHEMA_PATH", "node_facts_json_schema", "render_schema"]

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "schemas" / "node-facts.schema.json"


def node_facts_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of what `envresolve probe --format json` writes."""
    schema = NodeFacts.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://envresolve.invalid/schemas/node-facts/v{NODE_FACTS_SCHEMA_VERSION}.json"
    return schema


def render_schema() -> str:
    """The schema file's exact text."""
    return json.dumps(node_facts_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    from envresolve._generated import write_or_check

    args = sys.argv[1:] if argv is None else argv
    return write_or_check(SCHEMA_PATH, render_schema(), command="python -m envresolve.node.schema", argv=args)


if __name__ == "__main__":
    raise SystemExit(main())
