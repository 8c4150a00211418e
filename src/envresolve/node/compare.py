"""Comparing two nodes fact by fact (`envresolve probe --against PROFILE`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.node.facts import NodeFacts
from envresolve.node.microarch import level_name

__all__ = ["FactComparison", "compare_nodes"]

Status = Literal["match", "differs", "unknown"]


@dataclass(frozen=True)
class FactComparison:
    """One fact on both sides."""

    fact: str
    ours: str | None
    theirs: str | None
    status: Status
    note: str = ""


def _gpus(node: NodeFacts) -> str | None:
    if not node.gpus:
        return "none"
    # GFD labels spell the product with dashes ("NVIDIA-H100-80GB-HBM3"), NVML with spaces
    counts = Counter((g.name.replace(" ", "-"), g.compute_capability) for g in node.gpus)
    return ", ".join(f"{n}x {name} (sm {cc})" for (name, cc), n in sorted(counts.items()))


def _facts(node: NodeFacts) -> dict[str, str | None]:
    lib = node.libstdcxx
    cpu = node.cpu
    return {
        "os": f"{node.os.id} {node.os.version_id}" if node.os.id else None,
        "kernel": node.os.kernel,
        "arch": cpu.arch,
        "microarch": level_name(cpu.arch, cpu.microarch_level) if cpu.arch != "x86_64" or cpu.microarch_level else None,
        "glibc": node.glibc,
        "glibcxx": lib.glibcxx if lib else None,
        "cxxabi": lib.cxxabi if lib else None,
        "driver": (node.driver.version if node.driver else "none") if _has_gpu_view(node) else None,
        "cuda": (node.driver.cuda if node.driver else "none") if _has_gpu_view(node) else None,
        "gpus": _gpus(node) if _has_gpu_view(node) else None,
        "min compute capability": node.min_compute_capability or ("none" if _has_gpu_view(node) else None),
    }


def _has_gpu_view(node: NodeFacts) -> bool:
    """Whether the node states anything about its GPUs ("none found" by a probe or a profile is a statement)."""
    return node.driver is not None or bool(node.gpus) or bool({"driver", "gpus"} & node.provenance.keys())


_VERSIONED = {"glibc", "glibcxx", "cxxabi", "driver", "cuda", "min compute capability"}


def _direction(fact: str, ours: str, theirs: str) -> str:
    """'older here' / 'newer here' / 'missing here' for version facts: what a reader needs to judge a difference."""
    from packaging.version import InvalidVersion, Version

    if fact not in _VERSIONED:
        return ""
    if "none" in (ours, theirs):
        return "missing here" if ours == "none" else "absent there"
    try:
        older = Version(ours) < Version(theirs)
    except InvalidVersion:
        return ""
    return "older here" if older else "newer here"


def compare_nodes(ours: NodeFacts, theirs: NodeFacts) -> tuple[list[FactComparison], list[Diagnostic]]:
    """Each fact of `ours` against `theirs`: ND301 for a difference, ND302 where one side does not know."""
    a, b = _facts(ours), _facts(theirs)
    rows: list[FactComparison] = []
    diags: list[Diagnostic] = []
    label = theirs.label
    for fact in a:
        x, y = a[fact], b[fact]
        note = ""
        if x is None or y is None:
            status: Status = "unknown"
            if x is not None or y is not None:
                side = "this node" if x is None else label
                diags.append(
                    make("ND302", f"{fact} is not known for {side}; not compared", subject=fact, node=ours.label)
                )
        elif x == y:
            status = "match"
        else:
            status = "differs"
            note = _direction(fact, x, y)
            why = {"older here": ": what runs there may not run here"}.get(note, "")
            diags.append(
                make(
                    "ND301",
                    f"this node has {x}, {label} has {y}" + (f" ({note}{why})" if note else ""),
                    subject=fact,
                    node=ours.label,
                    evidence=[
                        Evidence(fact=f"{fact} = {x}", source=ours.source),
                        Evidence(fact=f"{fact} = {y}", source=theirs.source),
                    ],
                )
            )
        rows.append(
            FactComparison(fact=fact, ours=x, theirs=y, status=status, note=note if status == "differs" else "")
        )
    return rows, diags
