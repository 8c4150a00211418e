"""`envresolve inspect PATH|URL...`: what wheels, conda packages, prefixes and `.so` files need.

Exit status: 0 when no artifact has an error finding, 1 when one has, 2 when an input cannot be
read at all (missing file, unknown kind, unreachable URL).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envresolve.binary.model import ArtifactReport, ElfFacts
    from envresolve.diagnostics import Diagnostic

__all__ = ["configure_parser", "render_reports_json", "render_reports_text", "run"]

#: version of the JSON document below; bump on incompatible change
INSPECT_JSON_VERSION = 1


def configure_parser(sub: Any) -> None:
    from envresolve.cli import add_timeout_argument

    p = sub.add_parser(
        "inspect",
        help="read ELF and CUDA facts from wheels, conda packages, prefixes, .so files or wheel URLs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("artifacts", nargs="+", metavar="PATH|URL", help="wheel, .conda, .tar.bz2, directory, .so or URL")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--symbols", action="store_true", help="also list defined and undefined dynamic symbols")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the report cache")
    add_timeout_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from envresolve._input import unreadable
    from envresolve.binary import inspect
    from envresolve.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
    from envresolve.errors import EnvresolveError

    reports: list[ArtifactReport] = []
    failures: list[Diagnostic] = []
    client = None
    if any("://" in item for item in args.artifacts):
        from envresolve.net import HttpClient

        client = HttpClient(cache_dir=None)  # one client: credentials, retries, deadlines and caps as for lock
    for item in args.artifacts:
        try:
            reports.append(inspect(item, symbols=args.symbols, cache=not args.no_cache, client=client))
        except EnvresolveError as exc:
            failures.extend(exc.diagnostics)
    # imported after the work: a cold wheel read imports pydantic in parallel with its helper process
    from envresolve.diagnostics import has_errors
    from envresolve.diagnostics.render import render_text

    if args.format == "json":
        print(render_reports_json(reports, failures))
    else:
        if reports:
            print(render_reports_text(reports))
        if failures:
            print(render_text(failures), file=sys.stderr)
    if failures or any(unreadable(r.diagnostics) for r in reports):
        return EXIT_USAGE  # as in every command: input that cannot be read is exit status 2
    return EXIT_FINDINGS if any(has_errors(r.diagnostics) for r in reports) else EXIT_OK


def render_reports_json(reports: list[ArtifactReport], failures: list[Any] = ()) -> str:  # type: ignore[assignment]
    """`{"version": 1, "reports": [...], "diagnostics": [...]}`, keys sorted: stable for scripts."""
    obj = {
        "version": INSPECT_JSON_VERSION,
        "reports": [r.model_dump(mode="json") for r in reports],
        "diagnostics": [d.model_dump(mode="json") for d in failures],
    }
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)


def _short(items: tuple[str, ...] | list[str], width: int) -> str:
    text = " ".join(items) if items else "-"
    return text if len(text) <= width else text[: width - 1] + "…"


def _archs(archs: tuple[str, ...]) -> str:
    return ",".join(a.removeprefix("sm_").removeprefix("compute_") for a in archs) or "-"


def _glibc_line(r: ArtifactReport) -> str:
    need = r.max_glibc or "-"
    if r.tag_glibc is None:
        tag = f"musl {r.tag_musl}" if r.tag_musl else "no glibc promise"
        return f"needs {need}  (tag: {tag})"
    from envresolve.binary.report import _vkey

    if r.max_glibc and _vkey(r.max_glibc) > _vkey(r.tag_glibc):
        return f"needs {need} > tag {r.tag_glibc}  TAG UNDERSTATES (BN601)"
    return f"needs {need} <= tag {r.tag_glibc}  ok"


def _member_row(f: ElfFacts, width: int) -> list[str]:
    from envresolve.binary.report import is_system_lib

    cudart = "-"
    if f.cuda_runtime is not None:
        mode = f.cuda_runtime.mode
        cudart = mode if mode in ("static", "dlopen") else f"{f.cuda_runtime.major or '?'}"
    sass = tuple(e.arch for e in f.fatbin if e.kind == "sass")
    ptx = tuple(e.arch for e in f.fatbin if e.kind == "ptx")
    needed = [n for n in f.needed if not is_system_lib(n)]
    return [
        f.path if len(f.path) <= width else "…" + f.path[-(width - 1) :],
        f.needs("GLIBC") or "-",
        f.needs("GLIBCXX") or "-",
        cudart,
        _archs(tuple(dict.fromkeys(sass))),
        _archs(tuple(dict.fromkeys(ptx))),
        _short(needed, 40),
    ]


def render_reports_text(reports: list[ArtifactReport]) -> str:
    """A compact table per artifact: summary lines, then one row per ELF member, then findings."""
    from envresolve.diagnostics import sort_diagnostics
    from envresolve.diagnostics.render import render_text

    out: list[str] = []
    for r in reports:
        ident = " ".join(x for x in (r.name, r.version, r.build) if x)
        out.append(f"{r.artifact}")
        out.append(f"  kind      {r.kind}{f'  {ident}' if ident else ''}  ({r.files} files, {len(r.elf)} ELF)")
        if r.sha256:
            out.append(f"  sha256    {r.sha256}")
        out.append(f"  tag       {r.platform_tag or '-'}")
        out.append(f"  glibc     {_glibc_line(r)}")
        out.append(f"  libstdc++ GLIBCXX {r.max_glibcxx or '-'}  CXXABI {r.max_cxxabi or '-'}")
        cudart = ", ".join(str(m) for m in r.cuda_runtime_majors) or "-"
        if r.cuda_runtime_static:
            cudart += " (+ static)"
        if r.cuda_runtime_dlopen:
            cudart += " (+ dlopen)"
        out.append(f"  CUDA      runtime {cudart}   SASS {_archs(r.sass_archs)}   PTX {_archs(r.ptx_archs)}")
        rel = [f for f in r.elf if f.relocatable_fatbin]
        if rel:
            from envresolve.binary.report import _arch_key

            rsass = sorted({e.arch for f in rel for e in f.relocatable_fatbin if e.kind == "sass"}, key=_arch_key)
            rptx = sorted({e.arch for f in rel for e in f.relocatable_fatbin if e.kind == "ptx"}, key=_arch_key)
            out.append(
                f"            device-link only (__nv_relfatbin, never loaded; {len(rel)} members): "
                f"SASS {_archs(tuple(rsass))}   PTX {_archs(tuple(rptx))}"
            )
        ext = [n for n in r.external_libs if n not in r.system_libs]
        out.append(f"  external  {_short(ext, 100)}")
        out.append(f"  system    {_short(list(r.system_libs), 100)}")
        if r.elf:
            width = min(60, max(len(f.path) for f in r.elf))
            header = ["member", "glibc", "glibcxx", "cudart", "sass", "ptx", "needs (non-system)"]
            rows = [header] + [_member_row(f, width) for f in r.elf]
            widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
            out.append("")
            for row in rows:
                cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
                out.append("  " + "  ".join(cells).rstrip())
        if r.diagnostics:
            out.append("")
            out.extend("  " + line for line in render_text(sort_diagnostics(r.diagnostics)).splitlines())
        out.append("")
    return "\n".join(out).rstrip() + "\n"
