"""JSON Schema of the lockfile, generated from the model: `python -m envresolve.lock.schema [--check]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from envresolve.lock.model import Lock

__all__ = ["SCHEMA_PATH", "schema_text"]

#: where the generated schema lives in a source checkout
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "schemas" / "lockfile.schema.json"


def schema_text() -> str:
    """The lock's JSON Schema (draft 2020-12, as pydantic writes it), stable text."""
    schema = Lock.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "envresolve lockfile (lock-version 1)"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    from envresolve._generated import write_or_check

    return write_or_check(SCHEMA_PATH, schema_text(), command="python -m envresolve.lock.schema", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
