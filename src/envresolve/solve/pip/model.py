"""Value types of the pip resolution: candidates as filters see them, rejections, and the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from envresolve.binary.model import ArtifactReport
from envresolve.diagnostics import Diagnostic, Evidence, make

if TYPE_CHECKING:
    from collections.abc import Iterable

    from envresolve.compat.model import Environment
    from envresolve.node.facts import NodeFacts

__all__ = [
    "CandidateFilter",
    "CandidateInfo",
    "CudaNeed",
    "PipPackage",
    "PipResolution",
    "Rejection",
    "RejectionReason",
]

RejectionReason = Literal[
    "cuda-driver",  # CUDA requirement above what the node's driver supports
    "gpu-arch",  # no SASS / usable PTX for the node's GPUs
    "glibc",  # glibc needs above the node
    "glibcxx",  # GLIBCXX / CXXABI needs above the node or the environment
    "companion",  # does not pair with the chosen torch build
    "cxx-abi",  # cxx11 ABI differs from the chosen torch
    "yanked",  # PEP 592: yanked and not pinned with ==
    "compat",  # another compatibility rule (the code says which)
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class CudaNeed(_Frozen):
    """The CUDA level a candidate needs, and where we read it."""

    version: str = Field(description="CUDA major.minor, e.g. '12.8'")
    source: str = Field(description="e.g. 'local version +cu128', 'dependency nvidia-cuda-runtime-cu12==12.8.90'")


class CandidateInfo(_Frozen):
    """A candidate release as a `CandidateFilter` sees it (one wheel per version)."""

    name: str = Field(description="canonical PyPI name")
    version: str
    filename: str | None = None
    url: str | None = Field(default=None, description="wheel URL, credentials masked")
    index: str | None = Field(default=None, description="index or find-links location, credentials masked")
    sha256: str | None = None
    requires_dist: tuple[str, ...] = Field(default=(), description="Requires-Dist lines of its metadata")
    cuda: CudaNeed | None = None
    local_variant: str | None = Field(default=None, description="local version label: 'cu121', 'cpu', ...")
    binary: ArtifactReport | None = Field(default=None, description="binary facts, when known or cached")


class Rejection(_Frozen):
    """Why the resolver did not offer a candidate."""

    name: str
    version: str
    reason: RejectionReason
    code: str = Field(description="the diagnostic code of the rule (RS204, or a CP code from the rule)")
    message: str
    node: str | None = None
    filename: str | None = None
    evidence: tuple[Evidence, ...] = ()

    def why_not(self) -> str:
        """One 'why not' line for `envresolve lock --explain`."""
        where = f" [{self.node}]" if self.node else ""
        return f"why not {self.name} {self.version}{where}: {self.message} ({self.reason}, {self.code})"

    def to_diagnostic(self) -> Diagnostic:
        """An RS204 (info) finding for this rejection."""
        return make(
            "RS204",
            self.why_not(),
            subject=f"{self.name}=={self.version}",
            node=self.node,
            evidence=self.evidence,
        )


class CandidateFilter(Protocol):
    """A rule that may reject a candidate for a node, before the resolver ever offers it.

    Called once per (candidate, node); returns the rejections (empty: the node can use it). `env` holds
    what is already fixed: the conda packages and the Python version. Filters must be pure and cheap
    enough to call for each candidate version the resolver looks at.
    """

    def __call__(self, candidate: CandidateInfo, node: NodeFacts, env: Environment) -> Iterable[Rejection]: ...


class PipPackage(_Frozen):
    """One locked pip package: the chosen wheel."""

    name: str = Field(description="canonical PyPI name")
    version: str
    filename: str
    url: str = Field(description="credentials masked")
    index: str = Field(description="index or find-links location, credentials masked")
    sha256: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    dependencies: tuple[str, ...] = Field(default=(), description="canonical names it depends on in this lock")
    extras: tuple[str, ...] = Field(default=(), description="extras requested of it")
    yanked: str | None = Field(default=None, description="yank reason when a yanked file was pinned with ==")
    cuda: CudaNeed | None = None
    metadata_source: str = Field(default="", description="pep658, range, download, local or cache")
    metadata_check: str = Field(
        default="unverified", description="what vouches for the metadata: sha256, index-hash, unverified or local"
    )
    binary: ArtifactReport | None = Field(default=None, description="the binary facts the search judged it by")


class PipResolution(_Frozen):
    """The result of `resolve_pip`: the chosen wheels, every rejection, and findings."""

    packages: tuple[PipPackage, ...] = ()
    installed: tuple[tuple[str, str], ...] = Field(default=(), description="(name, version) kept from conda")
    rejections: tuple[Rejection, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    python: str
    tags: tuple[str, ...] = Field(default=(), description="the best 5 wheel tags used, for reports")

    def find(self, name: str) -> PipPackage | None:
        """The package with this canonical name, if locked."""
        for p in self.packages:
            if p.name == name:
                return p
        return None

    def why_not(self) -> list[str]:
        """All 'why not X' lines, sorted."""
        return sorted(r.why_not() for r in self.rejections)
