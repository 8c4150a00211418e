"""`envresolve explain CODE`: what a diagnostic code means, with an example."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["configure_parser", "run"]


def configure_parser(sub: Any) -> None:
    p = sub.add_parser("explain", help="explain a diagnostic code", description=__doc__)
    p.add_argument("code", nargs="?", help="a code such as CP101, or its name such as driver-too-old-for-cuda")
    p.add_argument("--list", action="store_true", help="list every code")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from envresolve.diagnostics import REGISTRY, lookup, make
    from envresolve.errors import InputError

    if args.list or not args.code:
        for entry in REGISTRY.values():
            print(f"{entry.code}  {entry.name:<40} {entry.category.value:<20} {entry.summary}")
        return 0
    info = lookup(args.code)
    if info is None:
        shown = args.code if len(args.code) <= 64 else args.code[:64] + "..."  # an argument is echoed, briefly
        raise InputError(make("GN102", f"no diagnostic code or name {shown!r}", hint="envresolve explain --list"))
    print(f"{info.code} {info.name}")
    print(f"category: {info.category.value}    default severity: {info.severity.value}")
    print()
    print(info.summary)
    print()
    print(info.explanation)
    if info.example:
        print()
        print("Example:")
        for line in info.example.splitlines():
            print(f"    {line}")
    return 0
