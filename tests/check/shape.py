"""The one shape of `envresolve check --format json`, checked against the committed schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from envresolve.preflight.report import CheckOutput
from envresolve.preflight.schema import SCHEMA_PATH


def check_schema_errors(obj: Any) -> list[str]:
    """What `docs/schemas/check.schema.json` says is wrong with `obj` (empty: it validates)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def assert_check_shape(obj: Any) -> None:
    """`obj` validates against the schema and reads back into the model unchanged."""
    assert check_schema_errors(obj) == []
    assert CheckOutput.model_validate(obj).model_dump(mode="json") == obj
