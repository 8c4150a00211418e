"""The one registry of stable diagnostic codes.

Codes are never reused. Each family lives in its own module under `codes/`, so that each concern
owns its codes; this module gathers them and checks that the table is sound.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from envresolve.diagnostics.model import Category, Diagnostic, Evidence, Location, Severity

__all__ = ["FAMILIES", "REGISTRY", "CodeInfo", "make"]

_CODE = re.compile(r"^[A-Z]{2}[0-9]{3}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

#: family prefix -> what the family is about
FAMILIES: Mapping[str, str] = {
    "GN": "general: files, arguments, internal errors",
    "ND": "node facts: probing and loading node descriptions",
    "BN": "binaries: ELF, CUDA fatbinaries, wheels and conda packages",
    "MX": "matrices: the sourced compatibility data",
    "CP": "compatibility: rules that turn facts into verdicts",
    "SP": "specs: environment files, requirements, pixi manifests, Dataset manifests",
    "RS": "resolution: conda and pip solving",
    "LK": "lockfile: writing, reading and exporting locks",
    "CK": "check: preflight of a lock or an installed prefix on a node",
    "WH": "webhook: the admission webhook for Dataset objects",
}


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """A registry entry: the code, its kebab-case name, defaults and an explanation.

    A plain dataclass, not a model: some 400 are built when the package is imported.
    """

    code: str
    name: str
    category: Category
    severity: Severity
    summary: str
    explanation: str
    example: str = ""

    def __post_init__(self) -> None:
        if not _CODE.match(self.code) or self.code[:2] not in FAMILIES:
            raise ValueError(f"bad diagnostic code: {self.code!r}")
        if not _NAME.match(self.name):
            raise ValueError(f"diagnostic names are kebab-case: {self.name!r}")
        if not isinstance(self.category, Category) or not isinstance(self.severity, Severity):
            raise ValueError(f"{self.code}: category and severity are enum members")

    @property
    def family(self) -> str:
        """The two-letter family prefix."""
        return self.code[:2]


def _collect() -> dict[str, CodeInfo]:
    from envresolve.diagnostics.codes import ALL_CODES

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
