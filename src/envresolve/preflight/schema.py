"""The JSON Schema of `envresolve check --format json`, generated from the model: `python -m
envresolve.preflight.schema [--check]` writes (or checks) `docs/schemas/check.schema.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from envresolve.preflight.report import CHECK_JSON_VERSION, CheckOutput

__all__ = ["SCHEMA_PATH", "schema_text"]

#: where the generated schema lives in a source checkout
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "schemas" / "check.schema.json"


def schema_text() -> str:
    """The check output's JSON Schema (draft 2020-12, as pydantic writes it), stable text."""
    schema = CheckOutput.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://envresolve.invalid/schemas/check/v{CHECK_JSON_VERSION}.json"
    schema["title"] = f"envresolve check --format json (version {CHECK_JSON_VERSION})"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    from envresolve._generated import write_or_check

    args = sys.argv[1:] if argv is None else argv
    return write_or_check(SCHEMA_PATH, schema_text(), command="python -m envresolve.preflight.schema", argv=args)


if __name__ == "__main__":
    raise SystemExit(main())
