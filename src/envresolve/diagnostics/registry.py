"""The one registry of stable diagnostic codes.

Codes are never reused. Each family lives in its own module under `codes/`, so that each concern
owns its codes; this module gathers them and checks that the table is sound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from envresolve.diagnostics.codeinfo import FAMILIES, CodeInfo
from envresolve.diagnostics.codes import ALL_CODES
from envresolve.diagnostics.model import Diagnostic, Evidence, Location, Severity

__all__ = ["FAMILIES", "REGISTRY", "CodeInfo", "make"]


def _collect() -> dict[str, CodeInfo]:
    table: dict[str, CodeInfo] = {}
    names: set[str] = set()
    for info in ALL_CODES:
        if info.code in table:
            raise RuntimeError(f"diagnostic code registered twice: {info.code}")
        if info.name in names:
            raise RuntimeError(f"diagnostic name registered twice: {info.name}")
        table[info.code] = info
        names.add(info.name)
    return dict(sorted(table.items()))


REGISTRY: Mapping[str, CodeInfo] = _collect()
_BY_NAME = {info.name: info for info in REGISTRY.values()}


def lookup(code_or_name: str) -> CodeInfo | None:
    """Find a registry entry by code (`ND101`, any case) or by name (`nvml-unavailable`)."""
    return REGISTRY.get(code_or_name.upper()) or _BY_NAME.get(code_or_name.lower())


def make(
    code: str,
    message: str,
    *,
    severity: Severity | None = None,
    subject: str | None = None,
    node: str | None = None,
    location: Location | None = None,
    evidence: Iterable[Evidence | str] = (),
    hint: str | None = None,
) -> Diagnostic:
    """Build a diagnostic for a registered code; category and default severity come from the registry."""
    info = REGISTRY.get(code)
    if info is None:
        raise KeyError(f"unregistered diagnostic code {code!r}")
    return Diagnostic(
        code=code,
        name=info.name,
        severity=severity or info.severity,
        category=info.category,
        message=message,
        subject=subject,
        node=node,
        location=location,
        evidence=tuple(e if isinstance(e, Evidence) else Evidence(fact=e) for e in evidence),
        hint=hint,
    )
