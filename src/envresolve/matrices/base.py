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
import hashlib
import json
import os
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from envresolve._once import Once

__all__ = [
    "MATRIX_SCHEMA_VERSION",
    "Confidence",
    "MatrixFile",
    "MatrixRow",
    "Source",
    "forget_loaded",
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
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


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


def _parsed_dir() -> Path:
    root = os.environ.get("ENVRESOLVE_CACHE_DIR")
    if root:
        return Path(root) / "matrices"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) / "envresolve" if xdg and os.path.isabs(xdg) else Path.home() / ".cache" / "envresolve"
    return base / "matrices"


def _parsed_path(name: str, raw: bytes) -> Path:
    # keyed by the file's bytes and the envresolve release that parsed them, so an edited matrix is parsed again
    # (not by PyYAML's version: knowing it would cost importing PyYAML on every run, the miss is the only use)
    from envresolve._version import __version__

    key = hashlib.sha256(b"envresolve %s\0" % __version__.encode() + raw).hexdigest()
    return _parsed_dir() / f"{name}.{key[:32]}.json"


def _store_parsed(target: Path, obj: Any) -> None:
    """Keep the parsed tree as JSON when JSON gives back exactly the same tree (else parse the YAML each time)."""
    from envresolve._atomic import atomic_write_text
    from envresolve.errors import EnvresolveError

    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        if json.loads(text) != obj:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text, durable=False)
        name = target.name.split(".", 2)
        for old in target.parent.glob(f"{name[0]}.{name[1]}.*.json"):  # earlier versions of the same file
            if old != target:
                old.unlink(missing_ok=True)
    except (TypeError, ValueError, OSError, EnvresolveError):
        return


def read_matrix_obj(path: Path) -> Any:
    """Parse a matrix file's YAML, refusing unquoted floats anywhere.

    The parsed tree is kept in the cache directory as JSON, keyed by the file's sha256: reading it back costs a
    few milliseconds where parsing the measured table takes about 15 ms, on every fresh process."""
    raw = path.read_bytes()
    parsed = _parsed_path(path.name, raw)
    try:
        return json.loads(parsed.read_bytes())
    except (OSError, ValueError):
        pass
    from envresolve import _yaml  # PyYAML loads only on a miss

    try:
        docs = _yaml.load_documents(raw.decode("utf-8"))
    except _yaml.YamlError as exc:
        raise ValueError(str(exc)) from None
    if len(docs) != 1:
        raise ValueError(f"{path.name}: one YAML document expected, found {len(docs)}")
    obj = docs[0]
    _reject_unquoted_floats(obj, path.name)
    _store_parsed(parsed, obj)
    return obj


#: each matrix loads once, even when the pip search's threads ask for it at the same time
_LOADED: Once[tuple[str, type], Any] = Once()


def load_matrix(relpath: str, model: type[M]) -> M:
    """Load and validate one matrix file (cached). Raises `envresolve.errors.InternalError` (MX) if invalid."""
    loaded: M = _LOADED.get((relpath, model), lambda: _load_matrix(relpath, model))
    return loaded


def forget_loaded() -> None:
    """Forget every loaded matrix (the next `load_matrix` reads its file again)."""
    _LOADED.clear()


def _load_matrix(relpath: str, model: type[M]) -> M:
    path = matrices_dir() / relpath
    try:
        return model.model_validate(read_matrix_obj(path))
    except (OSError, ValueError, ValidationError) as exc:
        from envresolve.diagnostics import make
        from envresolve.errors import InternalError

        raise InternalError(make("GN103", f"matrix file {relpath} is invalid: {exc}")) from None
