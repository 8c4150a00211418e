"""What a spec says about CUDA: the claims lint's checks and the judge's adapters share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from envresolve.diagnostics import Evidence, Location

__all__ = ["CudaClaim"]


@dataclass(frozen=True)
class CudaClaim:
    """A CUDA version the spec pins, and what pins it."""

    cuda: str  # "12" or "12.1"
    what: str
    ecosystem: Literal["conda", "pypi"]
    package: str
    kind: Literal["runtime", "framework"]
    location: Location | None
    evidence: Evidence | None = None
    torch_version: str | None = None
    specifier: str = ""

    @property
    def major(self) -> int:
        return int(self.cuda.split(".")[0])

    @property
    def has_minor(self) -> bool:
        return "." in self.cuda
