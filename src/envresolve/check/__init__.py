"""Preflight checks: can this environment (a lockfile, a spec, an installed prefix) run on these nodes?

`envresolve.check(lock_or_prefix, node) -> Report` is the operator API (`envresolve.check.api.check`). The
package itself is callable too, so `envresolve.check(...)` works whether Python's import system has bound
`envresolve.check` to this package or to the function.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from envresolve.check.report import FleetGroup, NodeVerdict, Report, Summary

if TYPE_CHECKING:
    from envresolve.check.api import check, check_lock, check_prefix, check_spec

__all__ = ["FleetGroup", "NodeVerdict", "Report", "Summary", "check", "check_lock", "check_prefix", "check_spec"]

_API = {"check", "check_lock", "check_prefix", "check_spec", "check_environment"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from envresolve.check import api

        return getattr(api, name)
    raise AttributeError(f"module 'envresolve.check' has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Report:
        from envresolve.check.api import check as _check

        return _check(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
