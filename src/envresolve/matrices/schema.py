"""JSON Schema export of the matrix models to `docs/schemas/matrices/`."""

from __future__ import annotations

import json
from pathlib import Path

from envresolve._atomic import atomic_write_text
from envresolve.matrices.access import MATRIX_FILES

__all__ = ["render_schemas", "schema_dir", "stale_schemas", "write_schemas"]


def schema_dir() -> Path:
    """`docs/schemas/matrices/` of the repository."""
    return Path(__file__).resolve().parents[3] / "docs" / "schemas" / "matrices"


def render_schemas() -> dict[str, str]:
    """file name -> JSON Schema text, one per matrix file (`cuda_drivers.yaml` -> `cuda_drivers.schema.json`)."""
    out: dict[str, str] = {}
    for name, model in MATRIX_FILES.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"envresolve/matrices/{name.removesuffix('.yaml')}.schema.json"
        out[name.removesuffix(".yaml") + ".schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def stale_schemas(directory: Path | None = None) -> list[str]:
    """Schema files that are missing or differ from the models."""
    directory = directory or schema_dir()
    stale = []
    for fname, text in render_schemas().items():
        path = directory / fname
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(fname)
    return stale


def write_schemas(directory: Path | None = None) -> list[Path]:
    """Write every schema (atomically); returns the paths written."""
    directory = directory or schema_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in render_schemas().items():
        path = directory / fname
        atomic_write_text(path, text)
        written.append(path)
    return written
