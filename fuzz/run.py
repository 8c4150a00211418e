"""The bounded fuzz pass CI runs: every `fuzz/fuzz_*.py` module's `fuzz(max_examples)`, each in its own
process with a time slice, under one total time cap.

A module fails when its `fuzz()` raises (a contract violation: any exception other than
`EnvresolveError` escaping a reader), when it cannot be imported, or when it overruns its time slice
(a hang). Usage: `python fuzz/run.py [--examples N] [--total-seconds S] [MODULE ...]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("fuzz_target", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.fuzz(int(sys.argv[2]))
"""


def modules(names: list[str] | None = None) -> list[Path]:
    """The fuzz modules, sorted (all of them, or those named)."""
    found = sorted(HERE.glob("fuzz_*.py"))
    if names:
        wanted = {n.removesuffix(".py") for n in names}
        found = [p for p in found if p.stem in wanted]
    return found


def run(
    examples: int, total_seconds: float, names: list[str] | None = None, *, min_slice: float = 5.0
) -> list[tuple[str, str, float]]:
    """Run each module; returns (module, "ok" | failure text, seconds) per module."""
    targets = modules(names)
    results: list[tuple[str, str, float]] = []
    deadline = time.monotonic() + total_seconds
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for i, path in enumerate(targets):
        left = deadline - time.monotonic()
        share = max(min_slice, left / (len(targets) - i))
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), str(examples)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=share,
                check=False,
            )
            status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        except subprocess.TimeoutExpired:
            status = f"hang: no result within {share:.0f} s"
        results.append((path.stem, status, time.monotonic() - started))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("modules", nargs="*", help="fuzz module names (default: all fuzz/fuzz_*.py)")
    parser.add_argument("--examples", type=int, default=200, help="hypothesis examples per module (default 200)")
    parser.add_argument("--total-seconds", type=float, default=60.0, help="time cap for the whole pass (default 60)")
    args = parser.parse_args(argv)
    results = run(args.examples, args.total_seconds, args.modules or None)
    bad = 0
    for name, status, seconds in results:
        print(f"{name:<24} {seconds:6.1f} s  {status}")
        bad += status != "ok"
    if not results:
        print("no fuzz modules found", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
