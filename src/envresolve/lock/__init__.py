"""The lockfile: model, deterministic writer, validated reader, and exports (see docs/lockfile.md)."""

from __future__ import annotations

from envresolve.lock.io import DEFAULT_LOCK_NAME, dumps, loads, read, stale, write
from envresolve.lock.model import (
    LOCK_VERSION,
    BinaryVerdict,
    Lock,
    LockedCondaPackage,
    LockedNode,
    LockedPipPackage,
    SpecRef,
    node_fingerprint,
)

__all__ = [
    "DEFAULT_LOCK_NAME",
    "LOCK_VERSION",
    "BinaryVerdict",
    "Lock",
    "LockedCondaPackage",
    "LockedNode",
    "LockedPipPackage",
    "SpecRef",
    "dumps",
    "loads",
    "node_fingerprint",
    "read",
    "stale",
    "write",
]
