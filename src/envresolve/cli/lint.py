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
    from envresolve.cli import add_inspect_budget_argument, add_outside_includes_argument, add_timeout_argument

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
    p.add_argument(
        "--offline",
        action="store_true",
        help="do not fetch wheels named by URL or find-links pages on a server (binary facts then come from the "
        "caches and local find-links directories only)",
    )
    add_timeout_argument(p)
    add_inspect_budget_argument(p)
    add_outside_includes_argument(p)
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
    facts, close = _wheel_facts(args.offline, args.inspect_budget)
    try:
        found = lint(
            args.paths,
            nodes,
            env=env,
            image=image,
            allow_outside_includes=args.allow_outside_includes,
            wheel_facts=facts,
        )
    finally:
        close()
    diags = sort_diagnostics([*image_diags, *found, *getattr(facts, "notes", ())])
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


class _UrlFacts:
    """lint's lookup of a URL wheel's binary facts: the single pass's reader, one HTTP client, made on first use."""

    def __init__(self, offline: bool, budget: int | None) -> None:
        self.offline = offline
        self.budget = budget
        self.notes: list[Any] = []
        self._reader: Any = None

    def _open(self) -> Any:
        if self._reader is None:
            from envresolve.binary.budgeted import DEFAULT_INSPECT_BUDGET, WheelFacts
            from envresolve.binary.cache import ReportCache
            from envresolve.net import HttpClient, default_cache_dir

            # the HTTP cache holds find-links pages (what `--offline` answers from); wheel facts have their own
            client = HttpClient(cache_dir=default_cache_dir(), offline=self.offline, progress=False)
            budget = DEFAULT_INSPECT_BUDGET if self.budget is None else self.budget
            self._reader = WheelFacts(client, budget=budget, offline=self.offline, cache=ReportCache())
            self.notes = self._reader.notes
        return self._reader

    def __call__(self, name: str, version: str, url: str) -> Any:
        from types import SimpleNamespace

        reader = self._open()
        filename = url.split("#", 1)[0].rsplit("/", 1)[-1]
        fragment = url.split("#", 1)[1] if "#" in url else ""
        sha = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
        info = SimpleNamespace(name=name, version=version, url=url.split("#", 1)[0], filename=filename, sha256=sha)
        return reader(info)

    def page_wheels(self, url: str) -> list[str]:
        """The wheel URLs a find-links page links to, through the reader's client (cached; [] offline when not)."""
        from envresolve.errors import InputError
        from envresolve.solve.pip.index import parse_html_page

        reader = self._open()
        try:
            resp = reader.client.get(url, headers={"Accept": "text/html"}, cache=True)
            files = parse_html_page(resp.body, resp.url, "")
        except (InputError, ValueError):
            return []
        return [f.url for f in files if f.kind == "wheel"]

    def close(self) -> None:
        if self._reader is not None:
            self._reader.client.close()


def _wheel_facts(offline: bool, budget: int | None) -> tuple[Any, Any]:
    facts = _UrlFacts(offline, budget)
    return facts, facts.close


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
