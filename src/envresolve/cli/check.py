"""`envresolve check`: can this environment run on this node, and on which of our nodes?

Exit status: 0 the environment runs on every node checked; 1 it does not run on at least one; 2 usage or input
error; 3 this machine could not be probed (no `--node` given and probing failed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["configure_parser", "run"]

_EPILOG = """\
targets:
  LOCKFILE            re-verify every locked package from the binary facts the lock recorded (no downloads)
  SPEC                resolve the spec for the nodes first, then check the result
  --prefix DIR        an installed conda env or venv (read-only is fine): loader, symbols, libstdc++ checks

nodes: --node takes a facts file, a Node manifest or a bundled profile name, and may repeat; --nodes takes a
file holding a Node List (`kubectl get nodes -o yaml`), saved `scontrol show node` output (Slurm), or a
directory of facts files or manifests. Without either, this machine is probed.

exit status: 0 runs on every node, 1 does not run on at least one, 2 usage or input error, 3 could not probe
this node.
"""


def configure_parser(sub: Any) -> None:
    from envresolve.cli import add_inspect_budget_argument, add_outside_includes_argument, add_timeout_argument

    p = sub.add_parser(
        "check",
        help="check a lockfile, spec or installed prefix against nodes",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", nargs="?", metavar="LOCKFILE|SPEC", help="a lockfile or a spec")
    p.add_argument("--prefix", metavar="DIR", help="an installed environment (conda env or venv) to check")
    p.add_argument("--node", action="append", default=[], metavar="SOURCE", help="facts file, manifest or profile")
    p.add_argument(
        "--nodes",
        action="append",
        default=[],
        metavar="FILE_OR_DIR",
        help="a Node List, scontrol show node output or a directory",
    )
    p.add_argument(
        "--image",
        metavar="REF",
        help="container image the environment runs in on each node: the image decides glibc and libstdc++, the "
        "node the driver and GPUs (a Dockerfile's FROM or an ImageSpec's base image wins for SPEC)",
    )
    p.add_argument("--format", default="text", choices=("text", "json", "sarif", "github"), help="output format")
    p.add_argument("-v", "--verbose", action="store_true", help="text output: print the evidence behind each finding")
    p.add_argument(
        "--ld-library-path",
        default="",
        metavar="PATHS",
        help="LD_LIBRARY_PATH the environment will run with (prefix checks; the shell's is never read)",
    )
    p.add_argument(
        "--env-lib-on-path",
        action="store_true",
        help="the environment's lib/ directory will be on the loader path (e.g. an activation script sets it)",
    )
    p.add_argument(
        "--install-path",
        metavar="PATH",
        help="where the prefix is mounted at run time, when it is checked at another path",
    )
    p.add_argument("--offline", action="store_true", help="SPEC: resolve from cached/local channels and indexes only")
    add_outside_includes_argument(p)
    p.add_argument(
        "--no-notebook-packages",
        action="store_true",
        help="SPEC: leave out the notebook packages a Dataset's conda loader adds (ipykernel, ...)",
    )
    p.add_argument(
        "--index-url",
        action="append",
        default=[],
        metavar="URL",
        help="SPEC: pip index (URL or local directory) used instead of the spec's; may repeat",
    )
    add_timeout_argument(p)
    add_inspect_budget_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from envresolve.cli import EXIT_FINDINGS, EXIT_OK
    from envresolve.diagnostics import make
    from envresolve.errors import InputError
    from envresolve.preflight.api import check_lock, check_prefix, check_spec, nodes_from
    from envresolve.preflight.render import render, render_json

    if bool(args.target) == bool(args.prefix):
        raise InputError(
            make(
                "GN104",
                "give exactly one of LOCKFILE, SPEC or --prefix DIR",
                hint="envresolve check env.lock --node NODE, or envresolve check --prefix /opt/env",
            )
        )
    sources = [*args.node, *args.nodes]
    if sources:
        nodes, live, notes = nodes_from(sources)
        if not nodes:
            raise InputError(make("CK112", f"no nodes in {', '.join(sources)}"))
    else:
        nodes, live, notes = nodes_from(None)

    image = None
    if args.image:
        from envresolve.node.images import image_facts

        image, image_notes = image_facts(args.image)
        notes = [*notes, *image_notes]
    color = args.format == "text" and sys.stdout.isatty()
    if image is not None and (args.prefix or not _is_spec(args.target)):
        from envresolve.node.images import image_on_node

        nodes = [image_on_node(image, n) for n in nodes]
    if args.prefix:
        report = check_prefix(
            args.prefix,
            nodes,
            live=live,
            ld_library_path=[p for p in args.ld_library_path.split(":") if p],
            env_lib_on_path=args.env_lib_on_path,
            install_path=args.install_path,
            notes=notes,
        )
        reports = [report]
    else:
        from pathlib import Path

        from envresolve.preflight.api import is_lock_file

        path = Path(args.target)
        if not path.exists():
            raise InputError(make("GN101", f"no such file: {path}", subject=str(path)))
        if is_lock_file(path):
            from envresolve.lock.io import read
            from envresolve.lock.outputs import mixed_exports

            locked = read(path)
            notes = [*notes, *mixed_exports(locked, path)]
            reports = [check_lock(locked, nodes, subject=str(path), notes=notes)]
        else:
            from envresolve.orchestrate import ResolveSettings

            settings = ResolveSettings(
                notebook_packages=not args.no_notebook_packages,
                index_urls=tuple(args.index_url),
                inspect_budget=args.inspect_budget,
            )
            reports = check_spec(
                path,
                nodes,
                offline=args.offline,
                settings=settings,
                image=image,
                allow_outside_includes=args.allow_outside_includes,
            )
    if args.format == "json":  # one shape for one report or several
        sys.stdout.write(render_json(reports))
    elif len(reports) > 1 and args.format == "sarif":  # one SARIF log, one run per environment
        import json

        docs = [json.loads(render(r, args.format)) for r in reports]
        body = {**docs[0], "runs": [run for doc in docs for run in doc["runs"]]}
        sys.stdout.write(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        for report in reports:
            sys.stdout.write(render(report, args.format, color=color, verbose=args.verbose))
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FINDINGS


def _is_spec(target: str | None) -> bool:
    """True for a spec file (resolved first, so its own image can win); False for a lockfile or no target."""
    if not target:
        return False
    from pathlib import Path

    from envresolve.preflight.api import is_lock_file

    path = Path(target)
    return path.is_file() and not is_lock_file(path)
