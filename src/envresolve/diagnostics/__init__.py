"""Findings as data: the `Diagnostic` type, the code registry and renderers."""

from __future__ import annotations

from envresolve.diagnostics.model import Category, Diagnostic, Evidence, Location, Severity
from envresolve.diagnostics.registry import FAMILIES, REGISTRY, CodeInfo, lookup, make

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "Category",
    "CodeInfo",
    "Diagnostic",
    "Evidence",
    "Location",
    "Severity",
    "has_errors",
    "lookup",
    "make",
    "sort_diagnostics",
    "unique_diagnostics",
]


def sort_diagnostics(diags: list[Diagnostic] | tuple[Diagnostic, ...]) -> list[Diagnostic]:
    """Stable order: worst first, then by node, location, code, subject and message."""

    def key(d: Diagnostic) -> tuple[int, str, str, int, int, str, str, str]:
        loc = d.location
        return (
            d.severity.rank,
            d.node or "",
            loc.file if loc else "",
            (loc.line or 0) if loc else 0,
            (loc.column or 0) if loc else 0,
            d.code,
            d.subject or "",
            d.message,
        )

    return sorted(diags, key=key)


def unique_diagnostics(diags: list[Diagnostic] | tuple[Diagnostic, ...]) -> list[Diagnostic]:
    """The findings with exact repeats removed, first occurrence kept (several nodes or passes find the same)."""
    seen: set[str] = set()
    out: list[Diagnostic] = []
    for d in diags:
        key = d.model_dump_json()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def has_errors(diags: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    """True when any finding is an error."""
    return any(d.severity is Severity.ERROR for d in diags)
