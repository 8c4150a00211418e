"""`python -m envresolve.diagnostics [--check]`: write (or check) docs/diagnostics.md."""

from __future__ import annotations

import sys
from pathlib import Path

from envresolve.diagnostics.render import render_markdown_registry


def main() -> int:
    target = Path(__file__).resolve().parents[3] / "docs" / "diagnostics.md"
    text = render_markdown_registry()
    if "--check" in sys.argv[1:]:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is out of date: run python -m envresolve.diagnostics", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
