"""Bundled node profiles (`matrices/profiles/<name>.yaml`): common fleet nodes with sourced facts.

A profile states the OS release, CPU arch, driver, the driver's CUDA level and the GPUs, and names the
source of each; glibc and libstdc++ are inferred from the OS release through the distro table, like a
Kubernetes node's.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.errors import InputError
from envresolve.matrices.base import Confidence, MatrixFile, load_matrix, matrices_dir
from envresolve.node.facts import CpuFacts, DriverFacts, GpuFacts, NodeFacts, OsFacts, Provenance
from envresolve.node.infer import fill_inferred

__all__ = ["NodeProfile", "ProfileGpu", "load_profile", "profile_names", "suggest_profiles"]


class ProfileGpu(GpuFacts):
    """A GPU model and how many of it the node has (indexes are assigned in order)."""

    index: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1, le=64)


class FactCitation(BaseModel):
    """Which source states one fact of the profile, and how sure we are."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    fact: Literal["os", "cpu", "driver", "cuda", "gpus"]
    source: StrictStr
    confidence: Confidence = Confidence.CONFIRMED
    note: StrictStr | None = None


class NodeProfile(MatrixFile):
    """One bundled profile file."""

    kind: Literal["node-profile"]
    name: StrictStr
    description: StrictStr
    os: OsFacts
    cpu: CpuFacts
    driver: DriverFacts | None = None
    gpus: tuple[ProfileGpu, ...] = ()
    cites: tuple[FactCitation, ...]

    @model_validator(mode="after")
    def _cited(self) -> NodeProfile:
        for c in self.cites:
            if c.source not in self.sources:
                raise ValueError(f"profile {self.name}: {c.fact} cites unknown source {c.source!r}")
        stated = {"os", "cpu"} | ({"driver", "cuda"} if self.driver else set()) | ({"gpus"} if self.gpus else set())
        missing = stated - {c.fact for c in self.cites}
        if missing:
            raise ValueError(f"profile {self.name}: no source for {sorted(missing)}")
        return self

    def to_node(self) -> tuple[NodeFacts, list[Diagnostic]]:
        """The profile as node facts, glibc and libstdc++ inferred from its OS release."""
        gpus: list[GpuFacts] = []
        for g in self.gpus:
            data = g.model_dump(exclude={"count", "index"})
            gpus.extend(GpuFacts(index=len(gpus), **data) for _ in range(g.count))
        # a profile states its GPUs even when it has none
        prov = {c.fact: Provenance.DECLARED for c in self.cites} | {
            "driver": Provenance.DECLARED,
            "gpus": Provenance.DECLARED,
        }
        node = NodeFacts(
            name=self.name,
            source=f"profile:{self.name}",
            os=self.os,
            cpu=self.cpu,
            driver=self.driver,
            gpus=tuple(gpus),
            provenance=prov,
        )
        node, diags = fill_inferred(node)
        return node, diags

    def evidence(self) -> list[Evidence]:
        """One evidence line per cited fact."""
        return [
            Evidence(
                fact=f"{self.name}: {c.fact}" + (f" ({c.note})" if c.note else ""),
                source=self.sources[c.source].cite(),
                unsure=c.confidence is Confidence.UNSURE,
            )
            for c in self.cites
        ]


@cache
def profile_names() -> tuple[str, ...]:
    """Names of the bundled profiles, sorted."""
    directory = matrices_dir() / "profiles"
    return tuple(sorted(p.stem for p in directory.glob("*.yaml")))


def suggest_profiles(name: str, n: int = 3) -> list[str]:
    """The closest bundled profile names (by spelling, then by shared prefix)."""
    names = profile_names()
    import difflib  # only for a name that is not a profile

    close = difflib.get_close_matches(name, names, n=n, cutoff=0.5)
    if not close:
        head = name.split("-")[0].lower()
        close = [p for p in names if p.startswith(head)][:n]
    return close


def load_profile(name: str) -> NodeProfile:
    """A bundled profile by name. Raises InputError (ND204) with suggestions when there is none."""
    if name not in profile_names():
        close = suggest_profiles(name)
        hint = f"did you mean {', '.join(close)}?" if close else "envresolve probe --list-profiles lists them"
        raise InputError(
            make(
                "ND204",
                f"no file {name!r} and no bundled node profile of that name",
                subject=name,
                hint=hint,
            )
        )
    profile: NodeProfile = load_matrix(f"profiles/{name}.yaml", NodeProfile)
    if profile.name != name:
        from envresolve.errors import InternalError

        raise InternalError(make("GN103", f"profile file {name}.yaml names itself {profile.name!r}"))
    return profile
