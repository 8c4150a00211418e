"""Benchmark: wall time and peak RSS of each hostile local input of issue 12 (bar: < 60 s and < 300 MB each).

Builds the inputs in a temporary directory with the test builders (`tests/local_input/hostile.py`) and runs the
`envresolve` command line on each in a fresh interpreter, reading its peak RSS (VmHWM). `--baseline SRC` runs the
same cases with another source tree first on `PYTHONPATH` (e.g. an export of an older commit:
`git archive COMMIT src | tar -x -C /tmp/old`), so before and after are measured in the same run.

Usage: `python bench/bench_hostile_local.py [--baseline /tmp/old/src] [--timeout 120]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.local_input import hostile  # noqa: E402

#: cases whose baseline is dangerous on a shared machine
_NO_BASELINE = frozenset({"--node /dev/zero"})


def cases(work: Path) -> dict[str, Callable[[], list[str]]]:
    """Name -> a function that builds the input and returns the command line."""

    def inspect(path: Path) -> list[str]:
        return ["inspect", "--no-cache", "--format", "json", str(path)]

    def spec_with(text: str) -> Path:
        path = work / "requirements.txt"
        path.write_text(text)
        return path

    return {
        "wheel, 400k members": lambda: inspect(hostile.many_member_wheel(work / "many-1.0-py3-none-any.whl", 400_000)),
        "wheel, 199,990 members": lambda: inspect(
            hostile.many_member_wheel(work / "under-1.0-py3-none-any.whl", 199_990)
        ),
        ".conda, 200k symlinks": lambda: inspect(hostile.symlink_conda(work / "links-1.0-0.conda", 200_000)),
        ".conda, 600 MiB GNU long name": lambda: inspect(hostile.long_name_conda(work / "ln-1.0-0.conda", 600 << 20)),
        ".conda, index.json 100k deep": lambda: inspect(hostile.deep_index_conda(work / "deep-1.0-0.conda", 100_000)),
        "ELF e_shoff 2^62": lambda: inspect(hostile.hostile_elf(work / "libhostile.so")),
        "inspect /dev/zero": lambda: ["inspect", "--no-cache", "/dev/zero"],
        "--node /dev/zero": lambda: ["probe", "--node", "/dev/zero"],
        "-r diamond, 30 levels": lambda: ["lint", str(hostile.diamond(work, 30))],
        "idna== + 100k nines": lambda: ["lint", str(spec_with("idna==" + "9" * 100_000 + "\n"))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="SRC", help="source tree to compare with (put first on PYTHONPATH)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run (default 120)")
    args = parser.parse_args()
    print(f"{'case':32} {'tree':9} {'exit':>4} {'seconds':>8} {'peak MB':>8} {'output':>10}")
    for name, build in cases(Path(tempfile.mkdtemp(prefix="bench-hostile-"))).items():
        argv = build()
        trees = [("baseline", args.baseline), ("this", None)] if args.baseline else [("this", None)]
        for label, src in trees:
            if src and name in _NO_BASELINE:
                print(f"{name:32} {label:9} not run: the old reader fills memory until the kernel kills it")
                continue
            old = os.environ.get("PYTHONPATH")
            if src:
                os.environ["PYTHONPATH"] = src
            try:
                run = hostile.measure(argv, timeout=args.timeout, cwd=Path(tempfile.mkdtemp()))
                row = f"{run.rc:>4} {run.seconds:8.1f} {run.rss_mb:8.0f} {len(run.out) + len(run.err):>10}"
            except Exception as exc:  # a timeout: the baseline hangs
                row = f"{'-':>4} {'> ' + str(int(args.timeout)):>8} {'-':>8} {type(exc).__name__:>10}"
            finally:
                if old is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = old
            print(f"{name:32} {label:9} {row}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
