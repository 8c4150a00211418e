"""The environment the compatibility rules look at: resolved (or pinned) packages, with binary facts where known."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from envresolve.binary.model import ArtifactReport

__all__ = ["Environment", "Package"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Package(_Frozen):
    """One package of an environment."""

    name: str = Field(description="conda name, or canonical PyPI name")
    version: str
    ecosystem: Literal["conda", "pypi"]
    build: str | None = Field(default=None, description="conda build string")
    channel: str | None = Field(default=None, description="conda channel or pip index (credentials masked)")
    subdir: str | None = None
    url: str | None = None
    sha256: str | None = Field(default=None, description="sha256 of the artefact it installs, where known")
    depends: tuple[str, ...] = ()
    binary: ArtifactReport | None = None
    binary_note: str | None = Field(default=None, description="why binary facts are missing, when they are")

    @classmethod
    def pypi(
        cls,
        name: str,
        version: str,
        *,
        index: str | None = None,
        url: str | None = None,
        sha256: str | None = None,
        requires_dist: tuple[str, ...] = (),
        binary: ArtifactReport | None = None,
        binary_note: str | None = None,
    ) -> Package:
        """The one adapter from a pip distribution (a resolver candidate, a resolved or locked wheel, a spec pin) to
        the judge's view: its metadata layer (Requires-Dist) and, where known, its measured binary facts."""
        return cls(
            name=name,
            version=version,
            ecosystem="pypi",
            channel=index,
            url=url,
            sha256=sha256,
            depends=requires_dist,
            binary=binary,
            binary_note=binary_note,
        )


class Environment(_Frozen):
    """A set of packages that will live together in one prefix."""

    packages: tuple[Package, ...] = ()
    python: str | None = Field(default=None, description="the interpreter version, e.g. '3.11.9'")

    def find(self, name: str, ecosystem: Literal["conda", "pypi"] | None = None) -> Package | None:
        """The first package with this name (and ecosystem, if given)."""
        for p in self.packages:
            if p.name == name and (ecosystem is None or p.ecosystem == ecosystem):
                return p
        return None
