"""Rendering node facts: a readable text table, YAML, and conda's virtual-package listing."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from envresolve.node.compare import FactComparison
from envresolve.node.conda import virtual_packages
from envresolve.node.facts import NodeFacts
from envresolve.node.microarch import level_name

__all__ = ["render_comparison", "render_node_text", "render_node_yaml", "render_virtual_packages"]


def _table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> list[str]:
    allrows = [list(header)] + [list(r) for r in rows] if header else [list(r) for r in rows]
    widths = [max(len(r[i]) for r in allrows) for i in range(len(allrows[0]))]
    out = []
    for n, r in enumerate(allrows):
        out.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
        if header and n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def render_node_text(node: NodeFacts) -> str:
    """Facts as a two-part table: node-wide facts (with provenance), then one row per GPU."""
    p = node.provenance

    def prov(*keys: str) -> str:
        vals = sorted({p[k].value for k in keys if k in p})
        return "/".join(vals) if vals else "-"

    lib = node.libstdcxx
    libtext = "unknown"
    if lib is not None:
        levels = ", ".join(
            x
            for x in (f"GLIBCXX_{lib.glibcxx}" if lib.glibcxx else "", f"CXXABI_{lib.cxxabi}" if lib.cxxabi else "")
            if x
        )
        libtext = (levels or "levels unknown") + (f"  ({lib.path})" if lib.path else "")
    cpu = node.cpu
    level = level_name(cpu.arch, cpu.microarch_level) if cpu.microarch_level else "level unknown"
    drv = node.driver
    rows = [
        ("node", node.label, ""),
        ("source", node.source or "-", ""),
        ("os", f"{node.os.id or '?'} {node.os.version_id or ''}".strip(), prov("os")),
        ("kernel", node.os.kernel or "unknown", prov("kernel")),
        ("cpu", f"{cpu.arch}, {level}" if cpu.arch == "x86_64" else cpu.arch, prov("cpu")),
        ("glibc", node.glibc or "unknown", prov("glibc")),
        ("libstdc++", libtext, prov("libstdcxx")),
        ("driver", (drv.version or "version unknown") if drv else "none", prov("driver")),
        ("driver CUDA", (drv.cuda or "unknown") if drv else "none", prov("cuda")),
        ("GPUs", str(len(node.gpus)) if node.gpus else "none", prov("gpus")),
    ]
    if node.cuda_arch:
        rows.append(("cuda_arch", node.cuda_arch, prov("cuda_arch")))
    rows += [("label", f"{k}={v}", "declared") for k, v in sorted(node.labels.items())]
    lines = _table(rows, ("fact", "value", "provenance"))
    if node.gpus:
        gpu_rows = [
            (
                str(g.index),
                g.name,
                g.compute_capability,
                f"{g.memory_mib} MiB" if g.memory_mib is not None else "-",
                {True: "on", False: "off", None: "-"}[g.mig_enabled],
                g.uuid or "-",
            )
            for g in node.gpus
        ]
        lines += ["", *_table(gpu_rows, ("GPU", "name", "compute cap", "memory", "MIG", "uuid"))]
        if len(node.compute_capabilities) > 1:
            lines += [
                "",
                f"mixed GPU models: environments must work on all of them (lowest {node.min_compute_capability})",
            ]
    return "\n".join(lines) + "\n"


def render_node_yaml(node: NodeFacts) -> str:
    """Facts as YAML (the same data as the JSON form, keys sorted)."""
    return yaml.safe_dump(node.model_dump(mode="json"), sort_keys=True, default_flow_style=False)


def render_virtual_packages(node: NodeFacts) -> str:
    """`name version build` per line, as `conda info` lists virtual packages (`__cuda=12.8=0`)."""
    return "".join(f"{n}={v}={b}\n" for n, v, b in virtual_packages(node))


def render_comparison(rows: Sequence[FactComparison], ours: str, theirs: str) -> str:
    """Per-fact match/differs/unknown lines."""
    table = [(r.fact, r.ours or "?", r.theirs or "?", f"{r.status} ({r.note})" if r.note else r.status) for r in rows]
    lines = _table(table, ("fact", ours, theirs, "result"))
    n = sum(r.status == "differs" for r in rows)
    lines += ["", f"{n} fact(s) differ from {theirs}" if n else f"no differences from {theirs}"]
    return "\n".join(lines) + "\n"
