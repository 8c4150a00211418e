"""What we know about a target node: the `NodeFacts` model.

Pure data. Probing the live machine lives in `envresolve.node.probe`; every other source
(facts files, Kubernetes Node manifests, profiles, conda virtual-package files) produces the same model.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Literal

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "NODE_FACTS_SCHEMA_VERSION",
    "CpuFacts",
    "DriverFacts",
    "GpuFacts",
    "LibStdCxxFacts",
    "NodeFacts",
    "OsFacts",
    "Provenance",
    "VersionStr",
]

#: Bump when a change would make an older envresolve misread the JSON.
NODE_FACTS_SCHEMA_VERSION = 1

_CC = re.compile(r"^[0-9]+\.[0-9]+$")


def _check_version(v: str) -> str:
    try:
        Version(v)
    except InvalidVersion:
        raise ValueError(f"not a version: {v!r}") from None
    return v


def _check_cc(v: str) -> str:
    if not _CC.match(v):
        raise ValueError(f"compute capability must look like '9.0', got {v!r}")
    return v


#: A version kept as the string it was given (so JSON round-trips byte for byte), checked by PEP 440.
VersionStr = Annotated[str, AfterValidator(_check_version)]
ComputeCapability = Annotated[str, AfterValidator(_check_cc)]


def _cc_key(cc: str) -> tuple[int, ...]:
    return tuple(int(p) for p in cc.split("."))


class Provenance(str, Enum):
    """Where a fact came from."""

    PROBED = "probed"  # read off the live machine
    DECLARED = "declared"  # stated by a file, a label, a profile or an override
    INFERRED = "inferred"  # derived from other facts through a sourced table (e.g. glibc from the OS release)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class OsFacts(_Frozen):
    """Operating system and kernel."""

    system: Literal["linux"] = "linux"
    id: str | None = Field(default=None, description="os-release ID, e.g. 'ubuntu', 'rhel', 'debian'")
    version_id: str | None = Field(default=None, description="os-release VERSION_ID, e.g. '24.04'")
    kernel: str | None = Field(default=None, description="kernel release, e.g. '6.8.0-45-generic'")


class CpuFacts(_Frozen):
    """CPU architecture, as conda and wheel tags name it."""

    arch: Literal["x86_64", "aarch64", "ppc64le"] = "x86_64"
    microarch_level: int | None = Field(
        default=None, ge=1, le=4, description="x86-64 microarchitecture level (1-4); None off x86-64"
    )


class LibStdCxxFacts(_Frozen):
    """The libstdc++ that the dynamic loader would pick, and what its version definitions provide."""

    path: str | None = None
    glibcxx: VersionStr | None = Field(default=None, description="highest GLIBCXX_ version it defines")
    cxxabi: VersionStr | None = Field(default=None, description="highest CXXABI_ version it defines")


class DriverFacts(_Frozen):
    """The NVIDIA kernel-mode driver.

    `cuda` is the highest CUDA version the *driver* supports (conda's `__cuda`), not a toolkit.
    """

    version: VersionStr | None = Field(
        default=None,
        description="driver version, e.g. '580.65.06'; None where only the CUDA level is known "
        "(a conda virtual-packages file, CONDA_OVERRIDE_CUDA)",
    )
    cuda: VersionStr | None = Field(default=None, description="the driver's CUDA level, e.g. '13.0'")


class GpuFacts(_Frozen):
    """One GPU of the node."""

    index: int = Field(ge=0)
    name: str
    uuid: str | None = None
    compute_capability: ComputeCapability
    memory_mib: int | None = Field(default=None, ge=0)
    mig_enabled: bool | None = Field(default=None, description="MIG mode; None where not reported")
    pci_device_id: str | None = Field(default=None, description="PCI device id as 0xNNNN, where known")

    @property
    def sm(self) -> int:
        """The compute capability as an SM number: '9.0' -> 90, '12.1' -> 121."""
        major, minor = self.compute_capability.split(".")
        return int(major) * 10 + int(minor)


class NodeFacts(_Frozen):
    """Everything envresolve knows about one target node.

    A node with mixed GPU models keeps every GPU; checks require an environment to work on all of them.
    """

    schema_version: int = NODE_FACTS_SCHEMA_VERSION
    name: str | None = Field(default=None, description="node name (Kubernetes node, profile or host name)")
    source: str | None = Field(default=None, description="where these facts were loaded from")
    os: OsFacts = Field(default_factory=OsFacts)
    cpu: CpuFacts = Field(default_factory=CpuFacts)
    glibc: VersionStr | None = None
    libstdcxx: LibStdCxxFacts | None = None
    driver: DriverFacts | None = Field(
        default=None,
        description="the NVIDIA driver; null: no driver. Left out on a node that lists GPUs, the node has a driver "
        "whose version and CUDA level are unknown",
    )
    gpus: tuple[GpuFacts, ...] = ()
    cuda_arch: ComputeCapability | None = Field(
        default=None,
        description="declared lowest compute capability (conda's __cuda_arch) where it overrides or stands in "
        "for the GPUs' own (CONDA_OVERRIDE_CUDA_ARCH, a virtual-packages file)",
    )
    provenance: dict[str, Provenance] = Field(
        default_factory=dict,
        description="fact (os, kernel, cpu, glibc, libstdcxx, driver, cuda, gpus, cuda_arch) -> where it came from",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        # left out of the JSON when empty, so nodes without labels keep their JSON and lock fingerprints
        exclude_if=lambda v: not v,
        description="what the source says about the node beyond the facts, kept for people and selectors, never "
        "judged (Slurm features and partitions: `slurm.feature/<name>`, `slurm/partitions`, `slurm/gres`)",
    )

    @model_validator(mode="before")
    @classmethod
    def _gpus_have_a_driver(cls, data: Any) -> Any:
        """GPUs are listed only where a driver reports them: a node that lists GPUs and does not state `driver`
        has a driver of unknown version, never "no driver" (an unstated fact is unknown)."""
        if isinstance(data, dict) and "driver" not in data and data.get("gpus"):
            return {**data, "driver": {}}
        return data

    @property
    def cuda_driver_version(self) -> Version | None:
        """The driver's CUDA level as a Version, or None without a driver."""
        return Version(self.driver.cuda) if self.driver and self.driver.cuda else None

    @property
    def driver_version(self) -> Version | None:
        """The driver version as a Version, or None without a driver."""
        return Version(self.driver.version) if self.driver and self.driver.version else None

    @property
    def glibc_version(self) -> Version | None:
        """glibc as a Version."""
        return Version(self.glibc) if self.glibc else None

    @property
    def compute_capabilities(self) -> tuple[str, ...]:
        """Distinct compute capabilities of the node's GPUs, lowest first; a declared `cuda_arch` replaces them."""
        if self.cuda_arch is not None:
            return (self.cuda_arch,)
        return tuple(sorted({g.compute_capability for g in self.gpus}, key=_cc_key))

    @property
    def min_compute_capability(self) -> str | None:
        """The lowest compute capability (conda's `__cuda_arch`), or None without GPUs."""
        ccs = self.compute_capabilities
        return ccs[0] if ccs else None

    def facts_dict(self) -> dict[str, Any]:
        """The facts alone, as JSON-ready data: without `name`, `source`, `provenance` and `labels`.

        Two descriptions of the same node from different sources (a probe, a Node manifest, a facts
        file) compare equal on this even though their provenance differs.
        """
        return self.model_dump(mode="json", exclude={"name", "source", "provenance", "labels"})

    def same_facts(self, other: NodeFacts) -> bool:
        """True when both describe the same node facts, whatever their names and provenance."""
        return self.facts_dict() == other.facts_dict()

    @property
    def label(self) -> str:
        """A short human name for reports."""
        return self.name or self.source or "node"

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        import json

        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_obj(cls, obj: Any) -> NodeFacts:
        """Validate a parsed JSON/YAML object (see `envresolve.node.load_node` for the friendly path)."""
        return cls.model_validate(obj)
