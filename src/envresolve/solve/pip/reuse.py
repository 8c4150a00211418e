"""A resolution used again while nothing it was computed from has changed.

A resolution is a function of its inputs (requirements, nodes, Python, options), of envresolve's code and
matrices, of the index pages it read, and of the binary facts cached for the wheels it judged (wheel files and
their metadata are immutable under their sha256). The result is kept with the digest of every page it read (and
the status of every page that was missing). A later run with the same inputs fetches those pages again, as any
run does (an index may answer without validators, or with new files), and when every page is byte for byte the
same and the cached binary facts are the same files, it returns the kept result instead of resolving again:
what a second resolution would compute. Anything that cannot be keyed (custom filters or fact callbacks,
find-links directories, hash verification) is never reused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from envresolve._redact import redact_url
from envresolve.solve.pip.model import PipResolution

if TYPE_CHECKING:
    from envresolve.net import HttpClient

__all__ = ["Kept", "keep", "kept", "result_key"]

_FORMAT = 1
#: the largest kept record read back
_MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class Kept:
    """A kept resolution: the pages it read (URL -> body sha256, or 'status N'), by project, and the result."""

    pages: dict[str, str]
    projects: tuple[str, ...]
    result: PipResolution


@functools.cache
def _code_digest() -> str:
    """envresolve's modules and matrices as installed here (paths, sizes, modification times)."""
    from envresolve.matrices.base import matrices_dir

    h = hashlib.sha256()
    roots = [Path(__file__).resolve().parents[2]]
    with contextlib.suppress(FileNotFoundError):
        roots.append(matrices_dir())
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".py", ".yaml", ".json")):
                    st = os.stat(os.path.join(dirpath, name))
                    h.update(f"{os.path.join(dirpath, name)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def result_key(
    *,
    requirements: Sequence[Any],
    nodes: Sequence[BaseModel],
    python: str,
    index_urls: Sequence[str],
    installed: Mapping[str, str],
    env: BaseModel,
    facts: tuple[str, int, bool],
    options: Mapping[str, object],
) -> str:
    """The key of a resolution's inputs (index URLs without their credentials)."""
    from envresolve._version import __version__

    doc = [
        _FORMAT,
        __version__,
        _code_digest(),
        [_json(r) for r in requirements],
        [_json(n) for n in nodes],
        python,
        [redact_url(u) for u in index_urls],
        sorted(installed.items()),
        _json(env),
        list(facts),
        sorted(options.items()),
    ]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _reports(reports_dir: Path | None) -> str:
    """The cached binary facts there are (their file names): an added report may change verdicts."""
    if reports_dir is None:
        return ""
    try:
        names = sorted(os.listdir(reports_dir))
    except OSError:
        names = []
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def _path(cache_dir: Path, key: str) -> Path:
    return cache_dir / "pip-results" / f"{key}.json"


def kept(cache_dir: Path, key: str, reports_dir: Path | None) -> Kept | None:
    """The resolution kept under `key`, if any, and if the cached binary facts are those it was judged by."""
    try:
        with _path(cache_dir, key).open("rb") as fh:
            data = fh.read(_MAX_BYTES + 1)
        if len(data) > _MAX_BYTES:
            return None
        doc = from_json(data)
        if doc.get("format") != _FORMAT or doc.get("reports") != _reports(reports_dir):
            return None
        pages = {str(k): str(v) for k, v in dict(doc["pages"]).items()}
        projects = tuple(str(p) for p in doc["projects"])
        result = PipResolution.model_validate(doc["result"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ValidationError):
        return None
    # what a second resolution would say of where the metadata came from: everything is cached by now
    packages = tuple(p.model_copy(update={"metadata_source": "cache"}) for p in result.packages)
    return Kept(pages=pages, projects=projects, result=result.model_copy(update={"packages": packages}))


def keep(
    client: HttpClient,
    cache_dir: Path,
    key: str,
    reports_dir: Path | None,
    pages: Mapping[str, str],
    projects: Sequence[str],
    result: PipResolution,
) -> None:
    """Keep a resolution with the pages it read (after it: the binary facts it cached are part of it)."""
    doc = {
        "format": _FORMAT,
        "reports": _reports(reports_dir),
        "pages": dict(sorted(pages.items())),
        "projects": list(projects),
        "result": result.model_dump(mode="json"),
    }
    client.store((_path(cache_dir, key), json.dumps(doc, separators=(",", ":")).encode()))
