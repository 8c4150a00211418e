"""`python -m envresolve.diagnostics [--check]`: write (or check) docs/diagnostics.md."""

from __future__ import annotations

import sys
from pathlib import Path

from envresolve._generated import write_or_check
from envresolve.diagnostics.render import render_markdown_registry


def main() -> int:
    target = Path(__file__).resolve().parents[3] / "docs" / "diagnostics.md"
    return write_or_check(
        target, render_markdown_registry(), command="python -m envresolve.diagnostics", argv=sys.argv[1:]
    )


if __name__ == "__main__":
    raise SystemExit(main())
