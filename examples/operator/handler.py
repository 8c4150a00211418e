"""A Dataset reconcile step for an operator: refuse to build a CONDA Dataset whose spec cannot run on the target
node pool, and write why into the Dataset's status conditions.

Plain functions, no operator framework imported: `reconcile_dataset(dataset, pool_nodes)` takes the Dataset object
and the pool's Node objects (as the Kubernetes API returns them, GPU Feature Discovery labels included) and returns
a `Decision`: build or not, and the status patch. docs/operator.md wires it into kopf.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envresolve.diagnostics import Diagnostic, Severity
from envresolve.errors import EnvresolveError
from envresolve.node.facts import NodeFacts
from envresolve.preflight.api import check_spec
from envresolve.preflight.report import Report

__all__ = ["CONDITION", "Decision", "pool_nodes_from_objects", "reconcile_dataset"]

#: the condition type this step owns on the Dataset's status
CONDITION = "EnvironmentCompatible"


@dataclass(frozen=True)
class Decision:
    """What the reconcile step decided: build or not, and the patch for the Dataset's `.status`."""

    build: bool
    status: dict[str, Any]
    reports: list[Report] = field(default_factory=list)


def pool_nodes_from_objects(nodes: Sequence[Mapping[str, Any]]) -> list[NodeFacts]:
    """Node objects (from the Kubernetes API) -> node facts, glibc/libstdc++ inferred from the OS release labels."""
    from envresolve.node.load import parse_node_text

    doc = {"apiVersion": "v1", "kind": "List", "items": [dict(n) for n in nodes]}
    return [facts for facts, _diags in parse_node_text(json.dumps(doc), origin="node pool")]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _condition(status: str, reason: str, message: str, generation: int | None, now: str) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": CONDITION,
        "status": status,
        "reason": reason,
        "message": message[:32768],
        "lastTransitionTime": now,
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def _merge(existing: Sequence[Mapping[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Replace our condition, keep the others; keep lastTransitionTime when the status did not change."""
    out: list[dict[str, Any]] = []
    for cond in existing:
        if cond.get("type") == new["type"]:
            if cond.get("status") == new["status"] and cond.get("lastTransitionTime"):
                new = {**new, "lastTransitionTime": cond["lastTransitionTime"]}
            continue
        out.append(dict(cond))
    out.append(new)
    return out


def _explain(report: Report, limit: int = 5) -> str:
    lines = [report.condition()["message"].split("; first:")[0] + "."]
    for group in report.groups:
        if group.verdict == "runs":
            continue
        names = ", ".join(group.nodes[:limit]) + (f" (+{len(group.nodes) - limit})" if len(group.nodes) > limit else "")
        for reason in group.reasons[:limit]:
            lines.append(f"{names}: {reason}")
    lines += [f"{d.code} {d.name}: {d.message}" for d in report.diagnostics if d.severity is Severity.ERROR][:limit]
    return "\n".join(lines)


def _summary(report: Report) -> dict[str, Any]:
    return {
        "subject": report.subject,
        "verdict": report.verdict,
        "nodes": report.summary.nodes,
        "nodesOk": report.summary.nodes_ok,
        "groups": [
            {"nodes": list(g.nodes), "verdict": g.verdict, "facts": g.facts, "reasons": g.reasons}
            for g in report.groups
        ],
    }


def reconcile_dataset(
    dataset: Mapping[str, Any],
    pool_nodes: Sequence[Mapping[str, Any]] | Sequence[NodeFacts],
    *,
    offline: bool = False,
    settings: Any = None,
    now: str | None = None,
) -> Decision:
    """Decide whether a Dataset may be built on the pool, and the status patch that says why.

    Datasets of other source types are not this step's business (build=True, no patch). A CONDA Dataset is
    resolved for the pool's nodes and checked (`envresolve.preflight.api.check_spec`); it is built only when its
    environment runs on every node of the pool.
    """
    now = now or _now()
    meta = dataset.get("metadata") or {}
    generation = meta.get("generation") if isinstance(meta.get("generation"), int) else None
    existing = (dataset.get("status") or {}).get("conditions") or []
    source = ((dataset.get("spec") or {}).get("source") or {}) if isinstance(dataset.get("spec"), Mapping) else {}
    if str(source.get("type", "")).upper() != "CONDA":
        return Decision(build=True, status={})

    def refuse(reason: str, message: str, reports: list[Report] | None = None) -> Decision:
        cond = _condition("False", reason, message, generation, now)
        status: dict[str, Any] = {"conditions": _merge(existing, cond)}
        if reports:
            status["envresolve"] = [_summary(r) for r in reports]
        return Decision(build=False, status=status, reports=reports or [])

    nodes = [n for n in pool_nodes if isinstance(n, NodeFacts)]
    try:
        if len(nodes) != len(pool_nodes):
            nodes = pool_nodes_from_objects([n for n in pool_nodes if isinstance(n, Mapping)])
        if not nodes:
            return refuse("NoTargetNodes", "the target node pool has no nodes to check against")
        specs = _specs(dataset)
        reports = [r for spec in specs for r in check_spec(spec, nodes, offline=offline, settings=settings)]
    except EnvresolveError as exc:
        return refuse("InvalidSpec", "\n".join(f"{d.code} {d.name}: {d.message}" for d in exc.diagnostics[:5]))
    if not reports:
        return refuse("InvalidSpec", "the Dataset declares no CONDA environment")
    failing = [r for r in reports if not r.ok]
    if failing:
        return refuse("IncompatibleWithNodePool", "\n\n".join(_explain(r) for r in failing), reports)
    ok = reports[0].condition()["message"]
    cond = _condition("True", "ChecksPassed", ok, generation, now)
    status = {"conditions": _merge(existing, cond), "envresolve": [_summary(r) for r in reports]}
    return Decision(build=True, status=status, reports=reports)


def _specs(dataset: Mapping[str, Any]) -> list[Any]:
    """The Dataset's environments, read by the same loader `envresolve lint`/`lock` use (no file involved)."""
    from envresolve.errors import InputError
    from envresolve.specs.dataset import load_dataset_manifest

    meta = dataset.get("metadata") or {}
    name = f"{meta.get('namespace', 'default')}/{meta.get('name', 'dataset')}.yaml"
    body = {k: v for k, v in dataset.items() if k != "status"}
    specs, diags = load_dataset_manifest(Path(name), yaml.safe_dump(body, sort_keys=False))
    errors: list[Diagnostic] = [d for d in diags if d.severity is Severity.ERROR]
    if errors and not specs:
        raise InputError(errors)
    return list(specs)
