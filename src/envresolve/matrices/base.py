"""Common shape of every matrix file: a schema version, named sources, and rows that cite them.

Each file under `matrices/` looks like::

    schema_version: 1
    kind: distros
    sources:
      ubuntu-glibc:
        title: "Ubuntu Packages: glibc source package"
        section: "noble (24.04) version"
        url: "https://..."
        read: "2026-11-23"
    rows:
      - {id: ubuntu, version_id: "24.04", glibc: "2.39", source: ubuntu-glibc, confidence: confirmed}

Versions are always quoted strings (YAML would read 12.10 as the float 12.1).
"""

from __future__ import annotations

import datetime as _dt
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

__all__ = [
    "MATRIX_SCHEMA_VERSION",
    "Confidence",
    "MatrixFile",
    "MatrixRow",
    "Source",
    "load_matrix",
    "matrices_dir",
]

MATRIX_SCHEMA_VERSION = 1

M = TypeVar("M", bound="MatrixFile")


class Confidence(str, Enum):
    """How sure we are of a row. A verdict resting on an unsure row says so instead of failing hard."""

    CONFIRMED = "confirmed"
    UNSURE = "unsure"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """Where facts were read: document title, table or section, address, and the date read."""

    title: StrictStr
    section: StrictStr | None = None
    url: StrictStr | None = None
    read: _dt.date

    def cite(self) -> str:
        """`title, section (read YYYY-MM-DD)`."""
        sec = f", {self.section}" if self.section else ""
        return f"{self.title}{sec} (read {self.read.isoformat()})"


class MatrixRow(_Frozen):
    """Base of every row: it names a source of its file and carries a confidence marker."""

    source: StrictStr
    confidence: Confidence = Confidence.CONFIRMED
    note: StrictStr | None = None


class MatrixFile(_Frozen):
    """Base of every matrix file. Subclasses add `kind: Literal[...]` and `rows: tuple[Row, ...]`."""

    schema_version: int = Field(ge=1, le=MATRIX_SCHEMA_VERSION)
    kind: str
    sources: dict[str, Source]

    @model_validator(mode="after")
    def _rows_cite_known_sources(self) -> MatrixFile:
        for i, row in enumerate(self._all_rows()):
            if row.source not in self.sources:
                raise ValueError(f"row {i} cites unknown source {row.source!r}")
        return self

    def _all_rows(self) -> list[MatrixRow]:
        rows = getattr(self, "rows", ())
        return [r for r in rows if isinstance(r, MatrixRow)]

    def cite(self, row: MatrixRow) -> str:
        """The full citation of a row's source."""
        return self.sources[row.source].cite()


def matrices_dir() -> Path:
    """The directory holding the matrix files: inside the installed wheel, or the repository's `matrices/`."""
    packaged = Path(__file__).resolve().parents[1] / "_matrices"
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parents[3] / "matrices"
    if repo.is_dir():
        return repo
    raise FileNotFoundError("envresolve's matrices are missing from this installation")


def _reject_unquoted_floats(obj: Any, where: str = "") -> None:
    if isinstance(obj, float):
        raise ValueError(f"{where or 'value'}: quote versions in matrix files, got {obj!r}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _reject_unquoted_floats(v, f"{where}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _reject_unquoted_floats(v, f"{where}/{i}")


def read_matrix_obj(path: Path) -> Any:
    """Parse a matrix file's YAML, refusing unquoted floats anywhere."""
    # The matrices are our own shipped data, so libyaml's faster loader is safe here (it is not for user input:
    # its composer recurses without a depth limit).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    obj = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    _reject_unquoted_floats(obj, path.name)
    return obj


@cache
def load_matrix(relpath: str, model: type[M]) -> M:
    """Load and validate one matrix file (cached). Raises `envresolve.errors.InternalError` (MX) if invalid."""
    path = matrices_dir() / relpath
    try:
        return model.model_validate(read_matrix_obj(path))
    except (OSError, ValueError, ValidationError, yaml.YAMLError) as exc:
        from envresolve.diagnostics import make
        from envresolve.errors import InternalError

        raise InternalError(make("GN103", f"matrix file {relpath} is invalid: {exc}")) from None
