"""`envresolve probe`: print the node facts of this machine (or of `--node SOURCE`), optionally compared
with a bundled profile or another node (`--against`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

__all__ = ["configure_parser", "run"]

FORMATS = ("text", "json", "yaml", "conda-virtual-packages")


def configure_parser(sub: Any) -> None:
    p = sub.add_parser(
        "probe",
        help="print the node facts of this machine or of a node file/profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  envresolve probe                              # this machine, as a table\n"
            "  envresolve probe --format json > node.json    # a facts file for use elsewhere\n"
            "  envresolve probe --against h100-driver580     # how this machine differs from a profile\n"
            "  envresolve probe --node node.yaml --format conda-virtual-packages\n"
            "  envresolve probe --list-profiles"
        ),
    )
    p.add_argument(
        "--node",
        metavar="SOURCE",
        help="a node facts file, Kubernetes Node/List manifest, scontrol show node output, conda "
        "virtual-packages file, or a bundled profile name (default: probe this machine)",
    )
    p.add_argument(
        "--image",
        metavar="REF",
        help="show the node as an environment inside this container image sees it: the image's OS, glibc and "
        "libstdc++, the node's driver and GPUs",
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--against", metavar="SOURCE", help="compare with a bundled profile or another node file")
    p.add_argument(
        "--fail-on-difference",
        action="store_true",
        help="with --against: exit 1 when a fact differs",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE (atomically) instead of stdout")
    p.add_argument(
        "--ignore-conda-overrides",
        action="store_true",
        help="do not apply CONDA_OVERRIDE_CUDA / _GLIBC / _CUDA_ARCH from the environment",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors on stderr")
    p.add_argument("--list-profiles", action="store_true", help="list the bundled node profiles and exit")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from envresolve._atomic import atomic_write_text
    from envresolve.diagnostics import Diagnostic, Severity, sort_diagnostics, unique_diagnostics
    from envresolve.diagnostics.render import render_text, to_json_obj
    from envresolve.node import NodeFacts, apply_conda_overrides, read_node, read_nodes
    from envresolve.node.compare import FactComparison, compare_nodes
    from envresolve.node.conda import OVERRIDE_VARS
    from envresolve.node.probe import probe_with_diagnostics
    from envresolve.node.profiles import load_profile, profile_names
    from envresolve.node.render import (
        render_comparison,
        render_node_text,
        render_node_yaml,
        render_virtual_packages,
    )

    if args.list_profiles:
        lines = [f"{name:<20} {load_profile(name).description}" for name in profile_names()]
        _emit("\n".join(lines) + "\n", args.output, atomic_write_text)
        return 0

    diags: list[Diagnostic] = []
    loaded: list[tuple[NodeFacts, list[Diagnostic]]]
    if args.node:
        loaded = read_nodes(args.node)
    else:
        result = probe_with_diagnostics()
        loaded = [(result.node, result.diagnostics)]
    nodes: list[NodeFacts] = []
    for node, found in loaded:
        diags += found
        if not args.ignore_conda_overrides and any(v in os.environ for v in OVERRIDE_VARS):
            node, found = apply_conda_overrides(node, os.environ)
            diags += found
        nodes.append(node)
    if args.image:
        from envresolve.node.images import image_facts, image_on_node

        image, found = image_facts(args.image)
        diags += found
        nodes = [image_on_node(image, n) for n in nodes]

    reference = None
    comparisons: list[list[FactComparison]] = []
    if args.against:
        reference, found = read_node(args.against)
        diags += [d for d in found if d.severity is not Severity.INFO]
        for node in nodes:
            rows, found = compare_nodes(node, reference)
            diags += found
            comparisons.append(rows)

    several = len(nodes) > 1
    if args.format == "json":
        if reference is None:
            text = nodes[0].to_json() if not several else _json([n.model_dump(mode="json") for n in nodes])
        else:
            text = _json(
                {
                    "version": 1,
                    "nodes" if several else "node": [n.model_dump(mode="json") for n in nodes]
                    if several
                    else nodes[0].model_dump(mode="json"),
                    "against": reference.model_dump(mode="json"),
                    "comparison": [
                        [{"fact": r.fact, "node": r.ours, "against": r.theirs, "result": r.status} for r in rows]
                        for rows in comparisons
                    ]
                    if several
                    else [
                        {"fact": r.fact, "node": r.ours, "against": r.theirs, "result": r.status}
                        for r in comparisons[0]
                    ],
                    "diagnostics": [to_json_obj(d) for d in sort_diagnostics(diags)],
                }
            )
    elif args.format == "yaml":
        text = "---\n".join(render_node_yaml(n) for n in nodes)
    elif args.format == "conda-virtual-packages":
        text = "\n".join((f"# {n.label}\n" if several else "") + render_virtual_packages(n) for n in nodes)
    else:
        parts = []
        for i, node in enumerate(nodes):
            part = render_node_text(node)
            if reference is not None:
                part += "\n" + render_comparison(comparisons[i], "this node", reference.label)
            parts.append(part)
        text = "\n".join(parts)
    _emit(text, args.output, atomic_write_text)

    # several nodes of one source share findings (an inferred glibc): each is shown once
    shown = [d for d in sort_diagnostics(unique_diagnostics(diags)) if not (args.quiet and d.severity is Severity.INFO)]
    if shown:
        print(render_text(shown, color=_color()), file=sys.stderr)
    if args.fail_on_difference and any(d.code == "ND301" for d in diags):
        return 1
    return 0


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def _emit(text: str, output: str | None, write: Any) -> None:
    if output:
        write(output, text)
    else:
        sys.stdout.write(text)


def _color() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ
