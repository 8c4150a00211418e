"""The admission decision for one AdmissionReview: pure, no I/O.

The Dataset in `request.object` is read as `envresolve lint` reads a manifest (`specs.dataset`), and the static
checks (`specs.checks.check_spec_nodes`) run once per group of nodes whose checked facts are identical (grouped
when the fleet is loaded, `preflight.fleet.group_key`), so a review costs the same for ten nodes or ten thousand
that collapse into a few groups.

AdmissionReview v1 as the Kubernetes API reference defines it (kube-apiserver Admission (v1), read 2026-12-06):
the request carries `uid`, `kind`, `operation` (CREATE, UPDATE, DELETE, CONNECT), `object` and, on UPDATE,
`oldObject`; the response echoes `uid` and says `allowed`, with an optional `status` (a meta/v1 Status:
`code`, `message`) and `warnings` (shown by `kubectl`; "limit warnings to 120 characters if possible").
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from envresolve.diagnostics import Diagnostic, Severity, sort_diagnostics
from envresolve.errors import EnvresolveError
from envresolve.node.facts import NodeFacts
from envresolve.preflight.fleet import display_facts, group_key
from envresolve.specs.dataset import DATASET_API_GROUP, load_dataset_manifest

__all__ = [
    "ADMISSION_API_VERSION",
    "BadReview",
    "Decision",
    "Fleet",
    "NodeGroup",
    "Policy",
    "decide",
    "fleet_of",
    "not_judged",
    "parse_review",
    "response_for",
]

ADMISSION_API_VERSION = "admission.k8s.io/v1"
_OPERATIONS = ("CREATE", "UPDATE")
#: how much of the fleet a denial or the warnings describe
_MAX_GROUPS_SHOWN = 5
_MAX_NAMES_SHOWN = 3
_MAX_MESSAGE = 3000
_MAX_WARNING = 240

Outcome = Literal[
    "ignored",  # not a Dataset, not CONDA, another operation, or not understood: allowed, nothing said
    "runs",  # every node can run it
    "runs-partly",  # some groups cannot: allowed with warnings (denied with --require all)
    "runs-nowhere",  # no node can: denied
    "not-judged",  # no node facts yet, or the judgement failed: allowed with a warning
]


class BadReview(ValueError):
    """The body is not an AdmissionReview v1 request (the server answers 400)."""


@dataclass(frozen=True)
class NodeGroup:
    """Nodes whose facts the rules read are identical: one representative is checked for all."""

    node: NodeFacts
    names: tuple[str, ...]

    @functools.cached_property
    def summary(self) -> str:
        """`12 nodes (x86_64, driver 470.82.01, CUDA 11.4, GPUs 7.0; e.g. a, b, c, ...)`."""
        f = display_facts(self.node)
        parts = [
            f["arch"],
            f"driver {f['driver']}",
            f"CUDA {f['cuda']}",
            f"GPUs {f['gpus']}",
        ]
        names = ", ".join(self.names[:_MAX_NAMES_SHOWN]) + (", ..." if len(self.names) > _MAX_NAMES_SHOWN else "")
        count = f"{len(self.names)} node{'s' if len(self.names) != 1 else ''}"
        return f"{count} ({', '.join(parts)}; e.g. {names})"


@dataclass(frozen=True)
class Fleet:
    """The nodes the webhook judges against, grouped once when they are loaded."""

    groups: tuple[NodeGroup, ...]
    source: str

    @property
    def nodes(self) -> int:
        """How many nodes the fleet holds."""
        return sum(len(g.names) for g in self.groups)


def fleet_of(nodes: Sequence[NodeFacts], *, source: str) -> Fleet:
    """Group nodes by the facts the lint checks read (`preflight.fleet.group_key` over `specs.checks.NODE_FACTS`:
    CPU, driver, GPUs), so that nodes differing only in OS or kernel are checked once."""
    from envresolve.specs.checks import NODE_FACTS

    groups: dict[str, list[NodeFacts]] = {}
    for node in nodes:
        groups.setdefault(group_key(node, facts=NODE_FACTS), []).append(node)
    built = []
    for members in groups.values():
        names = tuple(n.label if n.name or n.source else f"node-{i + 1}" for i, n in enumerate(members))
        built.append(NodeGroup(node=members[0], names=names))
    return Fleet(groups=tuple(built), source=source)


@dataclass(frozen=True)
class Policy:
    """How strict the webhook is: `require="all"` denies unless every node can run the environment;
    `dry_run` never denies (a denial comes back as warnings)."""

    require: Literal["any", "all"] = "any"
    dry_run: bool = False


@dataclass(frozen=True)
class Decision:
    """What the webhook answers, and what it logs (no spec contents: names, codes and counts only)."""

    uid: str
    allowed: bool
    outcome: Outcome
    message: str = ""
    warnings: tuple[str, ...] = ()
    dataset: str | None = None
    operation: str | None = None
    codes: tuple[str, ...] = ()
    nodes: int = 0
    nodes_ok: int = 0
    groups: int = 0

    def log_fields(self) -> dict[str, Any]:
        """The structured log record of this decision."""
        return {
            "uid": self.uid,
            "operation": self.operation,
            "dataset": self.dataset,
            "allowed": self.allowed,
            "outcome": self.outcome,
            "codes": list(self.codes),
            "nodes": self.nodes,
            "nodes_ok": self.nodes_ok,
            "groups": self.groups,
            "warnings": len(self.warnings),
        }


def response_for(decision: Decision) -> dict[str, Any]:
    """The AdmissionReview v1 response body for a decision."""
    response: dict[str, Any] = {"uid": decision.uid, "allowed": decision.allowed}
    if not decision.allowed:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": decision.message}
    if decision.warnings:
        response["warnings"] = list(decision.warnings)
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}


def parse_review(body: bytes) -> dict[str, Any]:
    """The `request` of an AdmissionReview v1 body. Raises `BadReview`."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadReview(f"the body is not JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise BadReview("the body is not a JSON object")
    if doc.get("kind") != "AdmissionReview" or doc.get("apiVersion") != ADMISSION_API_VERSION:
        raise BadReview(f"not an {ADMISSION_API_VERSION} AdmissionReview")
    request = doc.get("request")
    if not isinstance(request, dict):
        raise BadReview("the AdmissionReview has no request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("the request has no uid")
    return request


def decide(request: Mapping[str, Any], fleet: Fleet | None, policy: Policy = Policy()) -> Decision:
    """The decision for one AdmissionReview request (`parse_review`'s result)."""
    uid = str(request["uid"])
    operation = request.get("operation")
    op = operation if isinstance(operation, str) else None
    obj = request.get("object")
    if op not in _OPERATIONS or not _is_dataset(obj):
        return Decision(uid=uid, allowed=True, outcome="ignored", operation=op)
    assert isinstance(obj, dict)
    base = Decision(uid=uid, allowed=True, outcome="ignored", operation=op, dataset=_label(obj, request))
    if not _is_conda(obj):
        return base
    if fleet is None or not fleet.groups:
        return replace(
            base,
            outcome="not-judged",
            warnings=(f"envresolve: {base.dataset} was not checked: no node facts are loaded yet",),
            codes=("WH103",),
        )
    return _judge(base, obj, request.get("oldObject"), fleet, policy)


def _judge(base: Decision, obj: dict[str, Any], old: Any, fleet: Fleet, policy: Policy) -> Decision:
    from envresolve.specs.checks import check_spec_nodes

    label = base.dataset or "Dataset"
    try:
        specs, diags = load_dataset_manifest(Path(label), json.dumps(obj))
    except EnvresolveError as exc:  # a Dataset we cannot read at all: not ours to judge
        return replace(base, codes=tuple(d.code for d in exc.diagnostics))
    if len(specs) != 1:
        return base
    spec = specs[0]
    env_diags = [d for d in (*diags, *spec.diagnostics) if _is_error(d)]
    per_group = check_spec_nodes(spec, [g.node for g in fleet.groups])
    env_error = bool(env_diags)
    failing = [
        (group, tuple(sort_diagnostics(found)))
        for group, found in zip(fleet.groups, per_group, strict=True)
        if env_error or any(_is_error(d) for d in found)
    ]
    nodes = fleet.nodes
    nodes_bad = sum(len(g.names) for g, _ in failing)
    base = replace(base, nodes=nodes, nodes_ok=nodes - nodes_bad, groups=len(fleet.groups))
    if not failing:
        return replace(base, outcome="runs")
    codes = tuple(dict.fromkeys(d.code for d in [*env_diags, *(d for _, ds in failing for d in ds)] if _is_error(d)))
    outcome: Outcome = "runs-nowhere" if nodes_bad == nodes else "runs-partly"
    strict = outcome == "runs-nowhere" or policy.require == "all"
    # an update that leaves spec.source alone (labels, finalizers, status) is never blocked: denying it could
    # leave a Dataset that cannot even be deleted once the fleet changed under it
    unchanged = base.operation == "UPDATE" and _source(obj) == _source(old)
    if strict and not policy.dry_run and not unchanged:
        message = _denial(label, env_diags, failing, nodes_bad, nodes, len(fleet.groups))
        return replace(base, allowed=False, outcome=outcome, message=message, codes=("WH101", *codes))
    note = " (spec.source is unchanged by this update, so it is not blocked)" if strict and unchanged else ""
    if strict and policy.dry_run:
        note = " (dry run: not blocked)"
    warnings = _warnings(label, env_diags, failing, nodes_bad, nodes, note)
    return replace(base, outcome=outcome, warnings=warnings, codes=("WH101" if strict else "WH102", *codes))


def _is_dataset(obj: Any) -> bool:
    if not isinstance(obj, dict) or obj.get("kind") != "Dataset":
        return False
    api = obj.get("apiVersion")
    return isinstance(api, str) and api.startswith(DATASET_API_GROUP + "/")


def _source(obj: Any) -> Any:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    return spec.get("source") if isinstance(spec, dict) else None


def _is_conda(obj: dict[str, Any]) -> bool:
    source = _source(obj)
    return isinstance(source, dict) and source.get("type") == "CONDA"


def _label(obj: dict[str, Any], request: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = meta.get("name") or request.get("name") or meta.get("generateName") or "?"
    ns = meta.get("namespace") or request.get("namespace")
    return f"Dataset {ns}/{name}" if isinstance(ns, str) and ns else f"Dataset {name}"


def _is_error(d: Diagnostic) -> bool:
    return d.severity is Severity.ERROR


def _reason(d: Diagnostic) -> str:
    fix = f" Fix: {d.hint}" if d.hint else ""
    stop = "" if d.message.endswith(".") else "."
    return f"{d.code} {d.name}: {d.message}{stop}{fix}"


def _first_error(diags: Sequence[Diagnostic]) -> Diagnostic | None:
    return next((d for d in diags if _is_error(d)), None)


def _denial(
    label: str,
    env_diags: list[Diagnostic],
    failing: list[tuple[NodeGroup, tuple[Diagnostic, ...]]],
    nodes_bad: int,
    nodes: int,
    groups: int,
) -> str:
    scope = f"any of the {nodes} nodes" if nodes_bad == nodes else f"{nodes_bad} of the {nodes} nodes"
    lines = [
        f"envresolve: {label} does not run on {scope} ({groups} group(s) of nodes with the same CPU, driver, GPUs)."
    ]
    errors = [[d for d in diags if _is_error(d)] for _, diags in failing]
    # a finding every failing group shares (a CUDA variant conflict, say) is said once
    shared = {_key(d) for d in errors[0]}.intersection(*({_key(d) for d in e} for e in errors[1:])) if errors else set()
    common = [*env_diags, *(d for d in errors[0] if _key(d) in shared)] if len(failing) > 1 or env_diags else []
    said = {_key(d) for d in common}
    if common:
        lines.append("On every node:" if nodes_bad == nodes else "On every node below:")
        lines += [f"  - {_reason(d)}" for d in common[:3]]
    for group_errors, (group, _diags) in zip(errors[:_MAX_GROUPS_SHOWN], failing, strict=False):
        own = [d for d in group_errors if _key(d) not in said]
        lines.append(f"{group.summary[0].upper()}{group.summary[1:]}" + (":" if own else " cannot run it."))
        lines += [f"  - {_reason(d)}" for d in own[:2]]
    if len(failing) > _MAX_GROUPS_SHOWN:
        lines.append(f"... and {len(failing) - _MAX_GROUPS_SHOWN} more group(s).")
    lines.append("Explain a code with `envresolve explain CODE` (docs/diagnostics.md).")
    text = "\n".join(lines)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _key(d: Diagnostic) -> tuple[str, str]:
    return d.code, d.message


def _warnings(
    label: str,
    env_diags: list[Diagnostic],
    failing: list[tuple[NodeGroup, tuple[Diagnostic, ...]]],
    nodes_bad: int,
    nodes: int,
    note: str,
) -> tuple[str, ...]:
    head = f"envresolve: {label} cannot run on {nodes_bad} of {nodes} nodes{note}"
    out = [head]
    first_env = _first_error(env_diags)
    for group, diags in failing[:_MAX_GROUPS_SHOWN]:
        first = _first_error(diags) or first_env
        why = f": {_reason(first)}" if first else ""
        out.append(_clip(f"envresolve: {group.summary}{why}"))
    if len(failing) > _MAX_GROUPS_SHOWN:
        out.append(f"envresolve: ... and {len(failing) - _MAX_GROUPS_SHOWN} more group(s) of nodes")
    return tuple(out)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_WARNING else text[: _MAX_WARNING - 3] + "..."


def not_judged(uid: str, operation: str | None, why: str) -> Decision:
    """Allowed without a judgement (deadline passed, unexpected failure): the webhook never blocks on itself."""
    return Decision(
        uid=uid,
        allowed=True,
        outcome="not-judged",
        operation=operation,
        warnings=(f"envresolve: the Dataset was not checked: {why}",),
        codes=("WH103",),
    )
