"""Benchmark the two views of the ELF reader (`envresolve.binary.elf`) in process, optionally against another tree.

Streaming facts view: `read_elf_file` (with and without `symbols`) on the largest shared objects of the PyTorch
CPU wheel (extracted once into bench/_work/elf). Symbol-lookup view: `DynObject(...).info()` plus one `exports`
lookup on the same objects, and `version_definitions` of this machine's libstdc++ (what `envresolve probe` reads).

Each measurement runs in a fresh interpreter and reports process CPU time. With `--baseline-src DIR` (a `src`
directory of another checkout, e.g. from `git archive BASE src | tar -x -C /tmp/base`) the two trees run
interleaved, `--repeat` times each, and the medians and their ratio are printed. Usage:

    .venv/bin/python bench/bench_elf.py [--baseline-src DIR] [--repeat N] [WHEEL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work" / "elf"
TORCH = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
MEMBERS = ("torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so")

_CHILD = r"""
import json, subprocess, sys, time
from envresolve.binary.elf import read_elf_file
out = {}
for p in sys.argv[1:]:
    name = p.rsplit("/", 1)[-1]
    for sym in (False, True):
        t = time.process_time()
        read_elf_file(p, symbols=sym)
        out[f"facts {name}{' symbols' if sym else ''}"] = time.process_time() - t
try:
    from envresolve.binary.elf import DynObject
except ImportError:  # a tree from before the lookup view joined binary/elf.py
    from envresolve.preflight.elfdyn import DynObject
for p in sys.argv[1:]:
    t = time.process_time()
    with DynObject(p) as obj:
        obj.info()
        obj.exports("PyInit__C")
    out[f"lookup {p.rsplit('/', 1)[-1]}"] = time.process_time() - t
from envresolve.node.libstdcxx import version_definitions
lib = subprocess.check_output(["gcc", "-print-file-name=libstdc++.so.6"], text=True).strip()
version_definitions(lib)  # the first call imports what the reader needs
t = time.process_time()
for _ in range(20):
    version_definitions(lib)
out["version_definitions libstdc++ (each)"] = (time.process_time() - t) / 20
print(json.dumps(out))
"""


def _extract(wheel: Path) -> list[str]:
    WORK.mkdir(parents=True, exist_ok=True)
    paths = []
    with zipfile.ZipFile(wheel) as zf:
        for member in MEMBERS:
            dest = WORK / member.rsplit("/", 1)[-1]
            if not dest.exists():
                dest.write_bytes(zf.read(member))
            paths.append(str(dest))
    return paths


def _run(src: str, libs: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", _CHILD, *libs], capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", nargs="?", type=Path, default=TORCH)
    parser.add_argument("--baseline-src", help="the src/ directory of another tree to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    libs = _extract(args.wheel)
    trees = {"this": str(ROOT / "src")}
    if args.baseline_src:
        trees = {"baseline": args.baseline_src, **trees}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for _ in range(args.repeat):
        for label, src in trees.items():
            runs[label].append(_run(src, libs))
    print(f"load average {os.getloadavg()[0]:.1f}; medians of {args.repeat} runs, CPU ms")
    for key in runs["this"][0]:
        row = {label: statistics.median(r[key] for r in rs) * 1000 for label, rs in runs.items()}
        ratio = f"  ratio {row['this'] / row['baseline']:.3f}" if "baseline" in row else ""
        print(f"{key:45s} " + "  ".join(f"{k} {v:8.2f}" for k, v in row.items()) + ratio)


if __name__ == "__main__":
    main()
