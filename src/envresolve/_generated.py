"""Files in the repository that are generated from code (JSON Schemas, docs/diagnostics.md): write or check them."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["write_or_check"]


def write_or_check(target: Path, text: str, *, command: str, argv: list[str]) -> int:
    """With `--check` in `argv`: exit status 1 (and a message) when `target` differs from `text`.
    Otherwise write `text` to `target` atomically. `command` is what regenerates the file."""
    if "--check" in argv:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    from envresolve._atomic import atomic_write_text

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text)
    print(f"wrote {target}")
    return 0
