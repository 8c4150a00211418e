"""`python -m envresolve.matrices schema [--check]` exports the JSON Schemas; `... check` validates every file and
runs the cross-file consistency checks."""

from __future__ import annotations

import argparse
import sys

from envresolve.diagnostics import make
from envresolve.diagnostics.render import render_text


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m envresolve.matrices")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sch = sub.add_parser("schema", help="write docs/schemas/matrices/*.schema.json")
    sch.add_argument("--check", action="store_true", help="only report stale schemas (exit 1 if any)")
    sub.add_parser("check", help="validate the matrix files and run the consistency checks")
    args = parser.parse_args(argv)
    if args.cmd == "schema":
        from envresolve.matrices.schema import stale_schemas, write_schemas

        if args.check:
            stale = stale_schemas()
            if stale:
                diag = make("MX103", f"stale JSON Schemas: {', '.join(stale)}", subject="docs/schemas/matrices")
                sys.stdout.write(render_text([diag]))
                return 1
            return 0
        for path in write_schemas():
            sys.stdout.write(f"wrote {path}\n")
        return 0
    from envresolve.matrices.invariants import check_all

    diags = check_all()
    if diags:
        sys.stdout.write(render_text(diags))
        return 1
    sys.stdout.write("matrices: all files valid, all consistency checks pass\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
