"""`envresolve lock SPEC --node SOURCE...`: resolve a conda + pip spec for the target node(s) and write a lock.

Conda is solved with py-rattler for the nodes' virtual packages, pip with a GPU-aware resolver, and every
compatibility rule runs on the result for every node. One lock is written when it is valid for all nodes;
otherwise the output says which node prevents it, the fact that blocks it and the smallest change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envresolve.orchestrate import Resolution
    from envresolve.specs.model import EnvSpec

__all__ = ["configure_parser", "run"]

EXPORTS = ("pylock", "pixi", "explicit", "requirements")


def configure_parser(sub: Any) -> None:
    from envresolve.cli import add_inspect_budget_argument, add_outside_includes_argument, add_timeout_argument

    p = sub.add_parser(
        "lock",
        help="resolve a spec for target nodes and write a lockfile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  envresolve lock environment.yml --node h100-driver580\n"
            "  envresolve lock dataset.yaml --node a100-driver535 --node h100-driver580 --export pylock,pixi\n"
            "  envresolve lock dataset.yaml --node node.json --explain --format json\n"
            "\nexit status: 0 locked, 1 no solution (or a rule fails) for a node (0 with --exit-zero), 2 bad input"
        ),
    )
    p.add_argument("spec", metavar="SPEC", help="Dataset manifest, environment.yml, requirements.txt or pixi manifest")
    p.add_argument(
        "--image",
        metavar="REF",
        help="container image the environment runs in: it decides glibc and libstdc++, each --node the driver "
        "and GPUs (a Dockerfile's FROM or an ImageSpec's base image wins)",
    )
    p.add_argument(
        "--node",
        metavar="SOURCE",
        action="append",
        default=[],
        help="target node: facts file, Kubernetes Node/List manifest, scontrol show node output, or bundled "
        "profile name (repeatable)",
    )
    p.add_argument(
        "--python", metavar="VERSION", help="Python version for specs that do not fix one (requirements.txt)"
    )
    p.add_argument("--env", metavar="NAME", help="which environment of SPEC, when it declares several")
    p.add_argument("-o", "--output", metavar="LOCK", default="envresolve.lock", help="lock path (envresolve.lock)")
    p.add_argument(
        "--export",
        metavar="FORMAT",
        action="append",
        default=[],
        help=f"also write an export next to the lock: {', '.join(EXPORTS)} or its file name (pylock.toml, pixi.lock, "
        "...; repeatable or comma-separated)",
    )
    p.add_argument("--explain", action="store_true", help='print "why not X" lines for rejected candidates')
    p.add_argument("--offline", action="store_true", help="use only cached repodata/index pages and local files")
    add_timeout_argument(p)
    add_inspect_budget_argument(p)
    add_outside_includes_argument(p)
    p.add_argument(
        "--verify-hashes",
        action="store_true",
        help="download each chosen wheel whose metadata came from byte ranges and check its sha256 "
        "(RS403 on a mismatch; the lock then records metadata_check sha256)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--channel-alias", metavar="URL", help="base URL (or directory) for bare conda channel names")
    p.add_argument(
        "--mirror",
        metavar="NAME=URL",
        action="append",
        default=[],
        help="replace a conda channel (name or URL prefix) by a mirror URL or directory (repeatable)",
    )
    p.add_argument(
        "--index-url",
        metavar="URL",
        action="append",
        default=[],
        help="pip index URL or local PEP 503 directory replacing the spec's indexes (repeatable)",
    )
    p.add_argument("--find-links", metavar="DIR", action="append", default=[], help="extra pip find-links location")
    p.add_argument(
        "--no-notebook-packages",
        action="store_true",
        help="leave out ipykernel, nb_conda_kernels and notebook, which the BaizeAI conda loader adds",
    )
    p.add_argument("--no-sharded", action="store_true", help="do not use sharded conda repodata")
    p.add_argument("--cache-dir", metavar="DIR", help="repodata cache directory")
    p.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when a node cannot be locked (the report and findings are printed as usual)",
    )
    p.set_defaults(run=run)


def _exports(values: list[str]) -> list[str]:
    """Export formats by name (`pylock`) or by the file name users type (`pylock.toml`, `pixi.lock`)."""
    from envresolve.diagnostics import make
    from envresolve.errors import InputError
    from envresolve.lock.export import EXPORT_FILE_NAMES

    by_file = {file: fmt for fmt, file in EXPORT_FILE_NAMES.items()}
    out: list[str] = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            part = by_file.get(part, part)
            if part not in EXPORTS:
                raise InputError(make("GN104", f"unknown export format: {part}", hint=f"one of: {', '.join(EXPORTS)}"))
            if part not in out:
                out.append(part)
    return out


def _mirrors(values: list[str]) -> dict[str, str]:
    from envresolve.diagnostics import make
    from envresolve.errors import InputError

    out: dict[str, str] = {}
    for v in values:
        name, sep, url = v.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise InputError(make("GN104", f"--mirror wants NAME=URL, got: {v}"))
        out[name.strip()] = url.strip()
    return out


def _pick_spec(specs: list[EnvSpec], wanted: str | None, path: str) -> EnvSpec:
    from envresolve.diagnostics import make
    from envresolve.errors import InputError

    if wanted:
        for s in specs:
            if wanted in {s.name, getattr(s, "origin", None)}:
                return s
        names = ", ".join(str(s.name) for s in specs)
        raise InputError(make("GN104", f"no environment {wanted!r} in {path}", hint=f"one of: {names}"))
    if len(specs) != 1:
        names = ", ".join(str(s.name) for s in specs)
        raise InputError(
            make("GN104", f"{path} declares {len(specs)} environments", hint=f"pick one with --env: {names}")
        )
    return specs[0]


def run(args: argparse.Namespace) -> int:
    from envresolve.diagnostics import Severity, make
    from envresolve.diagnostics.render import render_text
    from envresolve.errors import InputError
    from envresolve.lock.export import EXPORT_FILE_NAMES, export
    from envresolve.lock.outputs import publish
    from envresolve.node import load_nodes
    from envresolve.orchestrate import CondaSettings, ResolveSettings, resolve
    from envresolve.specs import load_spec

    exports = _exports(args.export)
    if not args.node:
        raise InputError(make("GN104", "no target node: give --node SOURCE (a facts file or a profile name)"))
    specs = load_spec(args.spec, allow_outside_includes=args.allow_outside_includes)
    spec = _pick_spec(specs, args.env, args.spec)
    if args.python:
        spec = spec.model_copy(update={"python": args.python})
    if args.image and spec.image is None:
        from envresolve.node.images import image_facts

        spec = spec.model_copy(update={"image": image_facts(args.image)[0]})
    spec_errors = [d for d in spec.diagnostics if d.severity is Severity.ERROR]
    if spec_errors:
        raise InputError(spec_errors)
    nodes = [n for source in args.node for n in load_nodes(source)]
    settings = ResolveSettings(
        conda=CondaSettings(
            channel_alias=args.channel_alias,
            mirrors=_mirrors(args.mirror),
            cache_dir=args.cache_dir,
            sharded=not args.no_sharded,
        ),
        index_urls=tuple(args.index_url),
        find_links=tuple(str(Path(f).resolve()) if "://" not in f else f for f in args.find_links),
        notebook_packages=not args.no_notebook_packages,
        verify_hashes=args.verify_hashes,
        inspect_budget=args.inspect_budget,
    )
    result = resolve(spec, nodes, offline=args.offline, explain=args.explain, settings=settings)
    written: list[str] = []
    export_diags = []
    if result.ok and result.lock is not None:
        out = Path(args.output)
        rendered: list[tuple[str, bytes]] = []
        for fmt in exports:
            target = out.parent / EXPORT_FILE_NAMES[fmt]
            if target.resolve() == Path(args.spec).resolve():
                raise InputError(
                    make(
                        "GN104",
                        f"the {fmt} export would replace the input spec {args.spec}",
                        hint="write the lock into another directory with -o DIR/envresolve.lock",
                    )
                )
            data, diags = export(result.lock, fmt)
            export_diags.extend(diags)
            rendered.append((target.name, data.encode("utf-8") if isinstance(data, str) else data))
        written = publish(result.lock, out, rendered)
    if args.format == "json":
        import json

        obj = json.loads(result.to_json())
        obj["written"] = written
        obj["export_diagnostics"] = [d.model_dump(mode="json") for d in export_diags]
        text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
        sys.stdout.write(text)
    else:
        sys.stdout.write(render_result(result, spec, written, explain=args.explain))
        if export_diags:
            sys.stdout.write(render_text(export_diags) + "\n")
    return 0 if result.ok or args.exit_zero else 1


def render_result(result: Resolution, spec: EnvSpec, written: list[str], *, explain: bool) -> str:
    """The text report: one verdict line per node, the findings, then "why not" lines and written files."""
    from envresolve.diagnostics import Severity
    from envresolve.diagnostics.render import render_text

    lines = []
    where = getattr(spec, "origin", None) or spec.name or spec.format
    lines.append(f"lock {spec.source} ({where}) for {len(result.nodes)} node(s):")
    for o in result.nodes:
        if o.ok:
            lines.append(
                f"  PASS {o.node}: python {o.python or '-'}, {o.conda_packages} conda + {o.pip_packages} pip packages"
            )
        else:
            lines.append(f"  FAIL {o.node}: {o.blocking}")
            if o.hint:
                lines.append(f"       hint: {o.hint}")
    shown = [d for d in result.diagnostics if explain or d.severity is not Severity.INFO]
    if shown:
        lines.append("")
        # evidence lines only with --explain; a finding identical on several nodes is printed once, with the count
        lines.append(render_text(shown, evidence=explain, merge_nodes=True).rstrip("\n"))
    if explain:
        lines.append("")
        if result.why_not:
            lines.append("rejected candidates:")
            lines.extend(f"  {w.line()}" for w in result.why_not)
        else:
            lines.append("rejected candidates: none")
    lines.append("")
    if result.ok:
        lines.append("locked: one lock valid for every node")
        lines.extend(f"wrote {w}" for w in written)
    else:
        lines.append("not locked: no lock is valid for every node")
    return "\n".join(lines) + "\n"
