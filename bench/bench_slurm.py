"""Slurm fleet benchmark: 10,000 nodes of saved `scontrol show node` output, one environment.

The nodes are the real `scontrol show node` record of `tests/fixtures/slurm/captured-multiline.txt` (node
`gpu-a100-01`), repeated with other names, Gres (`gpu:a100:4`, `gpu:h100:8(S:0-1)`, `gpu:V100:4`, untyped
`gpu:2`, none) and kernels (el7, el8, el9, Ubuntu), written in both forms: multi-line (`scontrol show node`)
and one line per node (`scontrol -o show node`).

Measures, separately:
- load: `envresolve.node.load_nodes(FILE)` (parsing and Slurm fields -> facts), wall and CPU;
- check: `envresolve.preflight.api.check_environment(env, nodes)` on the PyTorch-like environment of
  `bench_fleet.py` (grouping + rules once per group + per-node verdicts);
- end to end: `envresolve check LOCK --nodes nodes.txt` in a fresh process on the offline example lock.

Run: `.venv/bin/python bench/bench_slurm.py [--nodes 10000] [--repeat 3] [--no-cli]`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fleet import _cli_end_to_end, torch_like_environment

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_NODE = "gpu-a100-01"
GRES = ["gpu:a100:4", "gpu:h100:8(S:0-1)", "gpu:V100:4", "gpu:2", "(null)"]
KERNELS = [
    "3.10.0-1160.el7.x86_64 #1 SMP Mon Oct 19 16:18:59 UTC 2020",
    "4.18.0-477.10.1.el8_8.x86_64 #1 SMP Wed Apr 5 13:35:01 EDT 2023",
    "5.14.0-362.8.1.el9_3.x86_64 #1 SMP PREEMPT_DYNAMIC Tue Nov 7 14:54:22 EST 2023",
    "5.15.0-91-generic #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023",
]


def _template() -> tuple[str, str, str]:
    text = (ROOT / "tests" / "fixtures" / "slurm" / "captured-multiline.txt").read_text(encoding="utf-8")
    block = next(b for b in text.split("\n\n") if b.startswith(f"NodeName={TEMPLATE_NODE} "))
    gres = next(line.strip() for line in block.splitlines() if line.strip().startswith("Gres="))
    os_line = next(line.strip() for line in block.splitlines() if line.strip().startswith("OS="))
    return block, gres, os_line


def write_nodes(tmp: Path, count: int) -> tuple[Path, Path]:
    block, gres_line, os_line = _template()
    rng = random.Random(20261206)
    blocks = []
    for i in range(count):
        b = block.replace(f"NodeName={TEMPLATE_NODE} ", f"NodeName=n{i:05d} ")
        b = b.replace(gres_line, f"Gres={rng.choice(GRES)}").replace(os_line, f"OS=Linux {rng.choice(KERNELS)}")
        blocks.append(b.strip("\n"))
    multi, one = tmp / "nodes.txt", tmp / "nodes-o.txt"
    multi.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    one.write_text("".join(" ".join(p.strip() for p in b.splitlines()) + "\n" for b in blocks), encoding="utf-8")
    return multi, one


def main(argv: list[str] | None = None) -> int:
    from envresolve.node import load_nodes
    from envresolve.preflight.api import check_environment
    from envresolve.preflight.fleet import render_table

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-cli", dest="cli", action="store_false")
    args = ap.parse_args(argv)
    env = torch_like_environment()
    med = statistics.median
    with tempfile.TemporaryDirectory() as tmp:
        multi, one = write_nodes(Path(tmp), args.nodes)
        wall: dict[str, list[float]] = {"multi-line": [], "-o": []}
        cpu: dict[str, list[float]] = {"multi-line": [], "-o": []}
        checks = []
        for _ in range(args.repeat):
            for form, path in (("multi-line", multi), ("-o", one)):
                t0, c0 = time.perf_counter(), time.process_time()
                nodes = load_nodes(path)
                wall[form].append(time.perf_counter() - t0)
                cpu[form].append(time.process_time() - c0)
            t1 = time.perf_counter()
            report = check_environment(env, nodes, subject="torch-cu128.lock")
            render_table(report)
            checks.append(time.perf_counter() - t1)
        cli = _cli_end_to_end(Path(tmp), multi, args.repeat) if args.cli else None
        sizes = {"multi-line": multi.stat().st_size / 1e6, "-o": one.stat().st_size / 1e6}
    s = report.summary
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    print(f"nodes: {s.nodes}, groups: {s.groups}, nodes that run: {s.nodes_ok}")
    for form in ("multi-line", "-o"):
        print(
            f"load_nodes, {form:10} ({sizes[form]:.1f} MB): median {med(wall[form]):.3f} s wall, "
            f"{med(cpu[form]):.3f} s CPU"
        )
    print(f"check + table from the loaded facts: median {med(checks):.3f} s")
    if cli is not None:
        print(f"`envresolve check LOCK --nodes nodes.txt` (fresh process): median {med(cli):.3f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
