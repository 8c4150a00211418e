"""The fleet view: group nodes by the facts the rules read, check each group once, and say who can run what.

Ten thousand Kubernetes nodes usually collapse into a handful of groups (same driver, GPUs, OS image), so the
rules run a handful of times. The table `render_table` prints is the one a platform engineer pastes into a ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from envresolve.diagnostics import Diagnostic, Severity, sort_diagnostics
from envresolve.preflight.report import FleetGroup, NodeVerdict, Report, Summary, Verdict

if TYPE_CHECKING:
    from envresolve.node.facts import NodeFacts

__all__ = ["check_fleet", "display_facts", "group_key", "render_table", "verdict_line"]

#: GPU fields that name a device rather than describe what code it runs
_GPU_IDENTITY = {"index", "uuid", "memory_mib", "pci_device_id", "name"}


def group_key(node: NodeFacts, *, facts: Collection[str] | None = None) -> str:
    """The facts that decide a verdict, as a canonical string.

    Everything except names, sources, labels, the kernel release and GPU identity: GPUs become the sorted set of their
    distinct code-relevant facts (compute capability, MIG mode), so four H100s and eight H100s, or per-device
    names, UUIDs and memory sizes, do not split groups. `facts` narrows the key to these top-level facts, for
    callers whose rules read only some (lint's checks read `specs.checks.NODE_FACTS`).
    """
    if facts is None:
        rest = node.model_dump_json(
            exclude={"name": True, "source": True, "labels": True, "gpus": True, "os": {"kernel"}}
        )
    else:
        rest = node.model_dump_json(include={f for f in facts if f not in ("gpus", "name", "source", "labels")})
    gpus = (
        sorted({g.model_dump_json(exclude=_GPU_IDENTITY) for g in node.gpus})
        if facts is None or "gpus" in facts
        else []
    )
    return rest + "|" + ",".join(gpus)


def display_facts(node: NodeFacts) -> dict[str, str]:
    """The facts shown in the table, as short strings (`-` when unknown or absent; `?` for the version of a
    driver known to be there, e.g. on a Slurm GPU node)."""
    gpus = ",".join(node.compute_capabilities) or "-"
    os_name = " ".join(p for p in (node.os.id, node.os.version_id) if p is not None) or "-"
    return {
        "arch": node.cpu.arch,
        "os": os_name,
        "glibc": node.glibc or "-",
        "libstdcxx": node.libstdcxx.glibcxx if node.libstdcxx and node.libstdcxx.glibcxx else "-",
        "driver": (node.driver.version or "?") if node.driver else "-",
        "cuda": (node.driver.cuda or "?") if node.driver else "-",
        "gpus": gpus,
    }


def check_fleet(
    nodes: Sequence[NodeFacts],
    evaluate: Callable[[NodeFacts], list[Diagnostic]],
    *,
    subject: str,
    kind: Literal["lock", "prefix", "spec"],
    packages: int,
    objects: int = 0,
    diagnostics: Iterable[Diagnostic] = (),
) -> Report:
    """Run `evaluate` once per group of identical nodes and build the `Report`.

    `diagnostics` are node-independent findings (they count towards the verdict of every node when errors).
    """
    env_diags = tuple(sort_diagnostics(list(diagnostics)))
    env_error = any(d.severity is Severity.ERROR for d in env_diags)
    groups: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        groups.setdefault(group_key(node), []).append(i)
    built: list[FleetGroup] = []
    verdicts: list[NodeVerdict | None] = [None] * len(nodes)
    for gid, members in enumerate(groups.values(), start=1):
        rep = nodes[members[0]]
        diags = tuple(sort_diagnostics([d.with_node(None) for d in evaluate(rep)]))
        errors = sum(d.severity is Severity.ERROR for d in diags)
        warnings = sum(d.severity is Severity.WARNING for d in diags)
        verdict: Verdict = "does-not-run" if errors or env_error else "runs"
        names = _names([nodes[i] for i in members], members)
        built.append(FleetGroup(id=gid, verdict=verdict, facts=display_facts(rep), nodes=names, diagnostics=diags))
        for i, name in zip(members, names, strict=True):
            verdicts[i] = NodeVerdict(node=name, verdict=verdict, group=gid, errors=errors, warnings=warnings)
    per_node = tuple(v for v in verdicts if v is not None)
    all_diags = [*env_diags, *(d for g in built for d in g.diagnostics)]
    nodes_ok = sum(v.verdict == "runs" for v in per_node)
    summary = Summary(
        nodes=len(per_node),
        nodes_ok=nodes_ok,
        groups=len(built),
        packages=packages,
        objects=objects,
        errors=sum(d.severity is Severity.ERROR for d in all_diags),
        warnings=sum(d.severity is Severity.WARNING for d in all_diags),
        infos=sum(d.severity is Severity.INFO for d in all_diags),
    )
    overall: Verdict = "runs" if per_node and nodes_ok == len(per_node) and not env_error else "does-not-run"
    return Report(
        subject=subject,
        kind=kind,
        verdict=overall,
        nodes=per_node,
        groups=tuple(built),
        diagnostics=env_diags,
        summary=summary,
    )


def _names(nodes: list[NodeFacts], indexes: list[int]) -> tuple[str, ...]:
    return tuple(n.label if n.name or n.source else f"node-{i + 1}" for n, i in zip(nodes, indexes, strict=True))


def verdict_line(report: Report) -> str:
    """The one-line verdict."""
    s = report.summary
    what = f"{report.kind} {report.subject}"
    if s.nodes == 1:
        node = report.nodes[0].node
        if report.ok:
            return f"OK: {what} runs on {node}"
        return f"FAIL: {what} does not run on {node} ({s.errors} error(s), {s.warnings} warning(s))"
    if report.ok:
        return f"OK: {what} runs on all {s.nodes} nodes ({s.groups} group(s) of identical facts)"
    return (
        f"FAIL: {what} runs on {s.nodes_ok} of {s.nodes} nodes ({s.groups} group(s) of identical facts; "
        f"{s.errors} error(s), {s.warnings} warning(s))"
    )


def render_table(report: Report, *, max_names: int = 6, max_reasons: int = 6) -> str:
    """Which nodes can run the environment and why the others cannot: one row per group, then the reasons."""
    cols = ("group", "nodes", "verdict", "arch", "os", "glibc", "libstdcxx", "driver", "cuda", "gpus")
    rows: list[tuple[str, ...]] = [cols]
    for g in report.groups:
        f = g.facts
        rows.append(
            (
                str(g.id),
                str(len(g.nodes)),
                "runs" if g.verdict == "runs" else "DOES NOT RUN",
                *(f.get(c, "-") for c in cols[3:]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.append("")
    for g in report.groups:
        names = ", ".join(g.nodes[:max_names]) + (
            f", … (+{len(g.nodes) - max_names})" if len(g.nodes) > max_names else ""
        )
        out.append(f"group {g.id} ({g.verdict}): {names}")
        reasons = g.reasons
        out += [f"  why: {reason}" for reason in reasons[:max_reasons]]
        if len(reasons) > max_reasons:
            out.append(f"  why: … and {len(reasons) - max_reasons} more (below)")
    return "\n".join(out)
