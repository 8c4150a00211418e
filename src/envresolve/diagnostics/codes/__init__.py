"""Diagnostic codes, one module per family. Each family module exports `CODES`."""

from __future__ import annotations

from envresolve.diagnostics.codes import (
    archive,
    binary,
    check,
    compat,
    general,
    lock,
    matrix,
    node,
    resolve,
    resolve_conda,
    spec,
    webhook,
)

ALL_CODES = (
    *general.CODES,
    *node.CODES,
    *binary.CODES,
    *archive.CODES,
    *matrix.CODES,
    *compat.CODES,
    *spec.CODES,
    *resolve.CODES,
    *resolve_conda.CODES,
    *lock.CODES,
    *check.CODES,
    *webhook.CODES,
)
