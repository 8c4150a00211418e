"""What a diagnostic code is: `CodeInfo`, and the families codes belong to.

Each family's codes live in a module under `codes/`, built from `CodeInfo`; `registry` gathers them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from envresolve.diagnostics.model import Category, Severity

__all__ = ["FAMILIES", "CodeInfo"]

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
