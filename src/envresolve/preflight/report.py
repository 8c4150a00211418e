"""The `Report` of a check: a verdict per node, grouped by identical facts, with the findings behind it.

Plain frozen pydantic models: `report.model_dump(mode="json")` is ready for a custom resource's status.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from envresolve.diagnostics import Diagnostic, Severity

__all__ = [
    "CHECK_JSON_VERSION",
    "REPORT_VERSION",
    "CheckOutput",
    "FleetGroup",
    "NodeVerdict",
    "Report",
    "Summary",
    "Verdict",
]

#: bump on an incompatible change of the JSON shape
REPORT_VERSION = 1

#: version of `envresolve check --format json` (`CheckOutput`); bump on an incompatible change of its shape
CHECK_JSON_VERSION = 2

Verdict = Literal["runs", "does-not-run"]


class _Frozen(BaseModel):
    # the JSON always carries every field, so the schema (docs/schemas/check.schema.json) requires them all
    model_config = ConfigDict(
        frozen=True, extra="forbid", defer_build=True, json_schema_serialization_defaults_required=True
    )


class FleetGroup(_Frozen):
    """Nodes whose relevant facts are identical: checked once, same verdict."""

    id: int = Field(ge=1)
    verdict: Verdict
    facts: dict[str, str] = Field(description="the facts the group shares: arch, glibc, libstdc++, driver, cuda, gpus")
    nodes: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def reasons(self) -> list[str]:
        """One line per error: `CODE name: [file or subject: ]message`."""
        out = []
        for d in self.diagnostics:
            if d.severity is not Severity.ERROR:
                continue
            where = d.location.file if d.location else None
            out.append(f"{d.code} {d.name}: {f'{where}: ' if where else ''}{d.message}")
        return out


class NodeVerdict(_Frozen):
    """The verdict for one node; the findings live on its group."""

    node: str
    verdict: Verdict
    group: int = Field(ge=1)
    errors: int = Field(default=0, ge=0)
    warnings: int = Field(default=0, ge=0)


class Summary(_Frozen):
    """Counts for dashboards and status fields."""

    nodes: int = Field(ge=0)
    nodes_ok: int = Field(ge=0)
    groups: int = Field(ge=0)
    packages: int = Field(ge=0)
    objects: int = Field(default=0, ge=0, description="shared objects scanned (prefix checks)")
    errors: int = Field(ge=0)
    warnings: int = Field(ge=0)
    infos: int = Field(ge=0)


class Report(_Frozen):
    """The result of `envresolve check`.

    `verdict` is `runs` only when the environment runs on every node checked. `diagnostics` holds findings that
    do not depend on the node (unreadable files, malformed metadata); node findings live on `groups`.
    """

    version: int = REPORT_VERSION
    subject: str = Field(description="the lockfile, spec or prefix checked")
    kind: Literal["lock", "prefix", "spec"]
    verdict: Verdict
    nodes: tuple[NodeVerdict, ...]
    groups: tuple[FleetGroup, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    summary: Summary

    @property
    def ok(self) -> bool:
        """True when the environment runs on every node."""
        return self.verdict == "runs"

    def all_diagnostics(self) -> list[Diagnostic]:
        """Environment-level findings, then every group's findings attributed to the group's first node."""
        out = list(self.diagnostics)
        for g in self.groups:
            label = g.nodes[0] if len(g.nodes) == 1 else f"{g.nodes[0]} (+{len(g.nodes) - 1} more)"
            out += [d if d.node else d.with_node(label) for d in g.diagnostics]
        return out

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def condition(self) -> dict[str, str]:
        """A Kubernetes-style status condition (`type`, `status`, `reason`, `message`)."""
        if self.ok:
            return {
                "type": "EnvironmentCompatible",
                "status": "True",
                "reason": "ChecksPassed",
                "message": f"{self.subject} runs on all {self.summary.nodes} node(s)",
            }
        first = next((r for g in self.groups for r in g.reasons), None) or next(
            (f"{d.code} {d.name}: {d.message}" for d in self.diagnostics if d.severity is Severity.ERROR), ""
        )
        return {
            "type": "EnvironmentCompatible",
            "status": "False",
            "reason": "ChecksFailed",
            "message": (
                f"{self.subject} runs on {self.summary.nodes_ok} of {self.summary.nodes} node(s); "
                f"{self.summary.errors} error(s); first: {first}"
            )[:1024],
        }


class CheckOutput(_Frozen):
    """What `envresolve check --format json` prints: one shape whatever was checked.

    A lock or a prefix gives one report; a spec gives one per environment. Each report covers every node checked
    (one node, several, or a fleet), so one node and a thousand read the same way. `verdict` is `runs` only when
    every report runs. The shape is `docs/schemas/check.schema.json`.
    """

    version: int = CHECK_JSON_VERSION
    tool: Literal["envresolve check"] = "envresolve check"
    verdict: Verdict
    reports: tuple[Report, ...]

    @classmethod
    def of(cls, reports: Sequence[Report]) -> CheckOutput:
        """The output for these reports, with the overall verdict."""
        return cls(verdict="runs" if all(r.ok for r in reports) else "does-not-run", reports=tuple(reports))

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
