"""Deterministic lock writing and validated reading."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from envresolve._atomic import atomic_write_text
from envresolve._input import LimitError, loads_json, read_limited_text
from envresolve._redact import redact_text
from envresolve.diagnostics import Diagnostic, make, sort_diagnostics
from envresolve.errors import InputError
from envresolve.limits import MAX_LOCK_BYTES
from envresolve.lock.model import LOCK_VERSION, Lock

if TYPE_CHECKING:
    from envresolve.node.facts import NodeFacts
    from envresolve.specs.model import EnvSpec

__all__ = ["DEFAULT_LOCK_NAME", "canonical", "dumps", "loads", "read", "stale", "write"]

DEFAULT_LOCK_NAME = "envresolve.lock"


def canonical(lock: Lock) -> Lock:
    """The same lock with every list in its canonical order (so equal content gives equal bytes)."""
    return lock.model_copy(
        update={
            "conda": tuple(sorted(lock.conda, key=lambda p: (p.name, p.subdir, p.version, p.build))),
            "pip": tuple(sorted(lock.pip, key=lambda p: (p.name, p.version, p.filename))),
            "diagnostics": tuple(sort_diagnostics(list(lock.diagnostics))),
        }
    )


def dumps(lock: Lock) -> str:
    """The lock as text: JSON, sorted keys, two-space indent, trailing newline, no timestamps of its own.

    Credentials cannot reach the file: every URL was masked when the lock was built, and the text is
    passed through `redact_text` once more as a last guard.
    """
    obj = canonical(lock).to_obj()
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return redact_text(text)


def write(lock: Lock, path: str | os.PathLike[str]) -> None:
    """Write the lock atomically."""
    atomic_write_text(path, dumps(lock))


def loads(text: str, *, source: str = "<lock>") -> Lock:
    """Parse and validate lock text. Raises `InputError` (LK102) when it is not a readable lock."""
    try:
        obj: Any = loads_json(text)
    except LimitError as exc:
        raise InputError(exc.diagnostic(source)) from None
    except json.JSONDecodeError as exc:
        raise InputError(make("LK102", f"not a lock (invalid JSON at line {exc.lineno}): {source}")) from None
    if not isinstance(obj, dict):
        raise InputError(make("LK102", f"not a lock (a JSON object was expected): {source}"))
    version = obj.get("lock-version")
    if version != LOCK_VERSION:
        raise InputError(
            make(
                "LK102",
                f"unsupported lock-version {version!r} (this envresolve reads {LOCK_VERSION}): {source}",
                hint="lock again with this envresolve",
            )
        )
    try:
        return Lock.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(make("LK102", f"not a valid lock ({where}: {first['msg']}): {source}")) from None


def read(path: str | os.PathLike[str]) -> Lock:
    """Read a lock file. Raises `InputError` (GN101 unreadable, LK102 invalid)."""
    p = Path(path)
    text = read_limited_text(p, limit=MAX_LOCK_BYTES, what="lockfile")
    return loads(text, source=str(p))


def stale(lock: Lock, *, spec: EnvSpec | None = None, nodes: Sequence[NodeFacts] = ()) -> list[Diagnostic]:
    """LK101 findings when `spec` (an `EnvSpec`) or `nodes` (`NodeFacts`) differ from what the lock was made for.

    A node counts as known when its fingerprint matches one of the lock's nodes (its name may differ).
    """
    from envresolve.lock.model import node_fingerprint
    from envresolve.specs.digest import spec_digest

    out: list[Diagnostic] = []
    if spec is not None and spec_digest(spec) != lock.spec.digest:
        out.append(
            make(
                "LK101",
                f"the lock was made from another version of the spec: {lock.spec.source}",
                subject=lock.spec.source,
                evidence=[f"lock digest {lock.spec.digest[:12]}, spec digest {spec_digest(spec)[:12]}"],
                hint="lock again with envresolve lock",
            )
        )
    known = {n.fingerprint: n.name for n in lock.nodes}
    for node in nodes:
        if node_fingerprint(node) not in known:
            out.append(
                make(
                    "LK101",
                    f"the lock was not made for this node's facts: {node.label}",
                    subject=node.label,
                    node=node.label,
                    evidence=[f"locked for: {', '.join(sorted(known.values()))}"],
                    hint=f"lock again with --node for {node.label}, or run envresolve check against it",
                )
            )
    return out
