"""Preflight checks: can this environment (a lockfile, a spec, an installed prefix) run on these nodes?

The operator API is `envresolve.check(lock_or_prefix, node) -> Report` (`envresolve.preflight.api.check`).
The package is named `preflight`, not `check`, so that importing it never shadows that function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envresolve.preflight.report import FleetGroup, NodeVerdict, Report, Summary

if TYPE_CHECKING:
    from envresolve.preflight.api import check, check_environment, check_lock, check_prefix, check_spec

__all__ = [
    "FleetGroup",
    "NodeVerdict",
    "Report",
    "Summary",
    "check",
    "check_environment",
    "check_lock",
    "check_prefix",
    "check_spec",
]

_API = {"check", "check_lock", "check_prefix", "check_spec", "check_environment"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from envresolve.preflight import api

        return getattr(api, name)
    raise AttributeError(f"module 'envresolve.preflight' has no attribute {name!r}")
