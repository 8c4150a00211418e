"""The lockfile model: everything needed to install the environment, and why it runs on the target nodes.

One lock holds one environment for one conda subdir, valid for every node listed in `nodes`. It is written as
JSON with sorted keys (see `envresolve.lock.io`) and documented in docs/lockfile.md.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from envresolve.binary.model import ArtifactReport
from envresolve.compat.model import Package
from envresolve.diagnostics import Diagnostic
from envresolve.node.facts import NodeFacts
from envresolve.records import CondaPackage, VirtualPackage

__all__ = [
    "LOCK_VERSION",
    "BinaryVerdict",
    "Lock",
    "LockedCondaPackage",
    "LockedNode",
    "LockedPipPackage",
    "OutputSet",
    "SpecRef",
    "node_fingerprint",
]

#: Bump when an older envresolve would misread the file.
LOCK_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, populate_by_name=True)


class BinaryVerdict(_Frozen):
    """What is known about whether a package's binaries run on the lock's nodes."""

    status: Literal["compatible", "incompatible", "not-inspected"]
    basis: Literal["binary", "measured", "metadata", "none"] = Field(
        description=(
            "binary: ELF/fatbin facts read from the artefact; measured: facts measured on this very file (by its "
            "sha256) in matrices/measured_wheels.yaml; metadata: index/repodata facts only; none: nothing"
        )
    )
    reason: str = Field(description="one line: why this verdict, or why the binaries were not inspected")
    codes: tuple[str, ...] = Field(default=(), description="diagnostic codes behind an `incompatible` verdict")


class LockedCondaPackage(CondaPackage):
    """A conda package in the lock: its repodata facts plus its binary verdict."""

    verdict: BinaryVerdict
    binary: ArtifactReport | None = Field(default=None, description="binary facts recorded at lock time (check)")

    def as_package(self, *, binary: ArtifactReport | None = None, binary_note: str | None = None) -> Package:
        """The package as the rules see it, with the binary facts the lock recorded (or why there are none)."""
        recorded = binary or self.binary
        note = binary_note or (None if recorded else self.verdict.reason)
        return super().as_package(binary=recorded, binary_note=note)


class LockedPipPackage(_Frozen):
    """A pip package in the lock: the chosen wheel (or sdist) and what it requires."""

    name: str = Field(description="canonical PyPI name")
    version: str
    filename: str
    url: str = Field(description="artefact URL, credentials removed")
    sha256: str | None = None
    size: int | None = None
    index: str | None = Field(default=None, description="index or find-links location it came from (masked)")
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    metadata_check: Literal["sha256", "index-hash", "unverified", "local"] | None = Field(
        default=None,
        description=(
            "what vouches for requires_dist/requires_python: sha256 (read from the whole file, whose sha256 "
            "matched), index-hash (a PEP 658 file matching the hash its index announced; the wheel itself was "
            "not fetched), unverified (read from byte ranges; nothing checked it against sha256), local"
        ),
    )
    verdict: BinaryVerdict
    binary: ArtifactReport | None = Field(default=None, description="binary facts recorded at lock time (check)")

    def as_package(self) -> Package:
        """The package as the rules see it, with the binary facts the lock recorded (or why there are none)."""
        return Package.pypi(
            self.name,
            self.version,
            index=self.index,
            url=self.url,
            sha256=self.sha256,
            requires_dist=self.requires_dist,
            binary=self.binary,
            binary_note=None if self.binary else self.verdict.reason,
        )


class LockedNode(_Frozen):
    """A target node: its facts, its fingerprint, and the conda virtual packages it offers."""

    name: str
    fingerprint: str = Field(description="sha256 of the node facts' stable JSON")
    facts: NodeFacts
    virtual_packages: tuple[VirtualPackage, ...] = ()


class SpecRef(_Frozen):
    """The input spec: where it came from and a digest of its content."""

    source: str = Field(description="file name as given (relative paths kept relative)")
    name: str | None = None
    format: str
    digest: str = Field(description="sha256 of the spec model's stable JSON (content, not file timestamps)")


class OutputSet(_Frozen):
    """The files written together with this lock by one run (see docs/lockfile.md, "Output sets")."""

    id: str = Field(description="sha256 (16 hex digits) of every file of the set; each export's first line names it")
    files: tuple[str, ...] = Field(default=(), description="export file names beside the lock, in this set")


class Lock(_Frozen):
    """An envresolve lock (`lock-version` 1)."""

    lock_version: int = Field(default=LOCK_VERSION, alias="lock-version")
    created_by: str = Field(alias="created-by", description="'envresolve <version>'")
    spec: SpecRef
    platform: str = Field(description="conda subdir, e.g. linux-64")
    python: str | None = Field(default=None, description="interpreter version (from the conda solve)")
    channels: tuple[str, ...] = Field(default=(), description="conda channel URLs, credentials removed")
    indexes: tuple[str, ...] = Field(default=(), description="pip index / find-links locations, credentials removed")
    matrices: dict[str, str] = Field(default_factory=dict, description="matrix file -> version used for verdicts")
    nodes: tuple[LockedNode, ...]
    conda: tuple[LockedCondaPackage, ...] = ()
    pip: tuple[LockedPipPackage, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    output_set: OutputSet | None = Field(
        default=None, alias="output-set", description="the run's output set (absent when written alone)"
    )

    def to_obj(self) -> dict[str, object]:
        """Plain JSON-ready data, with aliases ('lock-version')."""
        return self.model_dump(mode="json", by_alias=True)


def node_fingerprint(node: NodeFacts) -> str:
    """sha256 of the node facts without their `source` (where they were read from does not change the node)."""
    data = node.model_dump(mode="json")
    data.pop("source", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
