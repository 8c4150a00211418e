"""Text and JSON renderers for diagnostics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from envresolve.diagnostics.model import Diagnostic
from envresolve.diagnostics.registry import REGISTRY

__all__ = ["DIAGNOSTICS_JSON_VERSION", "render_json", "render_text", "to_json_obj"]

#: version of the JSON shape below; bump on incompatible change
DIAGNOSTICS_JSON_VERSION = 1


def render_text(
    diags: Sequence[Diagnostic], *, color: bool = False, evidence: bool = True, merge_nodes: bool = False
) -> str:
    """One block per finding: `LOCATION: severity[CODE name] message`, then evidence (unless `evidence=False`) and
    hint lines. With `merge_nodes`, a finding identical on several nodes is printed once, naming the nodes and
    their count."""
    colors = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
    groups: list[tuple[Diagnostic, list[str]]] = []
    if merge_nodes:
        index: dict[tuple[object, ...], int] = {}
        for d in diags:
            key = (d.code, d.severity, str(d.location), d.subject, d.message)
            if key in index:
                if d.node:
                    groups[index[key]][1].append(d.node)
                continue
            index[key] = len(groups)
            groups.append((d, [d.node] if d.node else []))
    else:
        groups = [(d, [d.node] if d.node else []) for d in diags]
    lines: list[str] = []
    for d, nodes in groups:
        sev = d.severity.value
        if color:
            sev = f"{colors[sev]}{sev}\033[0m"
        where = f"{d.location}: " if d.location else ""
        if len(nodes) > 1:
            node = f"[{len(nodes)} nodes: {', '.join(nodes)}] "
        else:
            node = f"[node {nodes[0]}] " if nodes else ""
        subject = f"{d.subject}: " if d.subject else ""
        lines.append(f"{where}{sev}[{d.code} {d.name}] {node}{subject}{d.message}")
        if evidence:
            for ev in d.evidence:
                src = f" (source: {ev.source})" if ev.source else ""
                unsure = " [unsure]" if ev.unsure else ""
                lines.append(f"  evidence: {ev.fact}{src}{unsure}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    return "\n".join(lines)


def to_json_obj(d: Diagnostic) -> dict[str, Any]:
    """A diagnostic as a JSON-ready dict (stable keys, enums as strings)."""
    return d.model_dump(mode="json")


def render_json(diags: Sequence[Diagnostic], **extra: Any) -> str:
    """`{"version": 1, "diagnostics": [...], ...extra}` with sorted keys, two-space indent."""
    obj: dict[str, Any] = {"version": DIAGNOSTICS_JSON_VERSION, **extra}
    obj["diagnostics"] = [to_json_obj(d) for d in diags]
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)


def render_markdown_registry() -> str:
    """`docs/diagnostics.md`, generated from the registry."""
    from envresolve.diagnostics.registry import FAMILIES

    out = [
        "# Diagnostic codes",
        "",
        "Generated from `src/envresolve/diagnostics/codes/` by `python -m envresolve.diagnostics`;",
        "a test keeps this file in sync. `envresolve explain CODE` prints the same text.",
        "",
        "Severities are the defaults; a rule may lower one (for example when it rests on a matrix row",
        "marked unsure).",
        "",
    ]
    for fam, about in FAMILIES.items():
        infos = [i for i in REGISTRY.values() if i.family == fam]
        if not infos:
            continue
        out += [
            f"## {fam}: {about}",
            "",
            "| code | name | category | severity | summary |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| [{i.code}](#{i.code.lower()}) | `{i.name}` | {i.category.value} | {i.severity.value} | {i.summary} |"
            for i in infos
        ]
        out.append("")
        for i in infos:
            out += [
                f"### {i.code}",
                "",
                f"`{i.name}` ({i.category.value}, {i.severity.value})",
                "",
                i.explanation,
                "",
            ]
            if i.example:
                out += ["Example:", "", "```", i.example, "```", ""]
    return "\n".join(out).rstrip() + "\n"
