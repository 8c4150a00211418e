"""`envresolve lint PATH... [--node SOURCE]... [--format text|json|sarif|github]`: check specs before building.

Exit status: 0 no errors, 1 errors found, 2 usage or input error (a path or node that cannot be read).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["FORMATS", "configure_parser", "run"]

FORMATS = ("text", "json", "sarif", "github")


def configure_parser(sub: Any) -> None:
    from envresolve.cli import add_timeout_argument

    p = sub.add_parser(
        "lint",
        help="lint Dataset manifests, environment.yml, requirements and pixi files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    p.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="SOURCE",
        help="target node: a facts file, Kubernetes Node manifest, scontrol show node output, conda-lock "
        "virtual-package file or bundled profile"
        " (repeatable; every check runs against each node)",
    )
    p.add_argument(
        "--image",
        metavar="REF",
        help="container image the environments run in (e.g. nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04): it "
        "decides glibc and libstdc++, each --node the driver and GPUs; a Dockerfile's own FROM wins",
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument(
        "--no-env",
        action="store_true",
        help="do not expand ${VAR} in requirements files from this process's environment",
    )
    add_timeout_argument(p)
    p.add_argument(
        "--allow-outside-includes",
        action="store_true",
        help="read -r/-c includes of requirements files outside the spec's directory (refused by default: SP160)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from envresolve._input import unreadable
    from envresolve.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, _color
    from envresolve.diagnostics import has_errors, sort_diagnostics
    from envresolve.diagnostics.render import render_json, render_text
    from envresolve.specs import lint
    from envresolve.specs.sarif import render_github, render_sarif

    nodes = _load_nodes(args.node)
    env = {} if args.no_env else dict(os.environ)
    image, image_diags = _load_image(args.image)
    diags = sort_diagnostics(
        [
            *image_diags,
            *lint(args.paths, nodes, env=env, image=image, allow_outside_includes=args.allow_outside_includes),
        ]
    )
    if args.format == "json":
        out = render_json(diags, tool="envresolve lint", nodes=[n.label for n in nodes])
    elif args.format == "sarif":
        out = render_sarif(diags)
    elif args.format == "github":
        out = render_github(diags)
    else:
        out = render_text(diags, color=_color(sys.stdout))
        if not diags:
            out = f"no findings in {len(args.paths)} path(s)"
    if out:
        print(out)
    if unreadable(diags):
        return EXIT_USAGE  # as in every command: input that cannot be read is exit status 2
    return EXIT_FINDINGS if has_errors(diags) else EXIT_OK


def _load_image(ref: str | None) -> tuple[Any, list[Any]]:
    if not ref:
        return None, []
    from envresolve.node.images import image_facts

    return image_facts(ref)


def _load_nodes(sources: list[str]) -> list[Any]:
    if not sources:
        return []
    from envresolve import node as node_mod

    nodes: list[Any] = []
    for source in sources:
        load_many = getattr(node_mod, "load_nodes", None)
        if load_many is not None:
            nodes.extend(load_many(source))
        else:
            nodes.append(node_mod.load_node(source))
    return nodes
