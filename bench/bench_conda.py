"""Conda-side overhead of `envresolve lock` over a bare py-rattler solve (target: < 10 %).

Both sides solve the same specs against the same local channels with the same virtual packages through a
py-rattler `Gateway`:

- bare: `rattler.solve(channels, specs, gateway=..., platforms=..., virtual_packages=...)` in `asyncio.run`;
- envresolve: `CondaSolver(channels, settings).solve(specs, virtual_packages)`, which adds MatchSpec translation,
  channel resolution (alias/mirrors), the record -> `CondaPackage` conversion and its private event loop.

"cold" builds a new Gateway (and solver) per run, so repodata is read and parsed every time: what one `envresolve
lock` invocation does. "warm" reuses them (repodata in memory; the solver also keeps the records it converted), as the
per-node solves of a multi-node lock and the unsat searches do. Runs are interleaved (bare, envresolve, bare, ...);
the median of N is printed with the ratio and the machine load.

    python bench/bench_conda.py                      # the demo channel (examples/channel)
    python bench/bench_conda.py --channel DIR ...    # other local channels, e.g. the corpus' lockfile-derived set
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = [REPO / "examples" / "channel" / "conda-forge"]
DEMO_SPECS = ["python 3.12.*", "pip", "cuda-version 12.*", "cuda-cudart", "cuda-nvrtc", "numpy", "pyyaml"]
VPS = {"__cuda": "12.4", "__glibc": "2.35", "__linux": "5.15", "__unix": "0"}


def _medians(a: Callable[[], object], b: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall time of `a` and of `b`, runs interleaved so that machine noise hits both alike."""
    a(), b()  # warm-up (imports, page cache)
    ta, tb = [], []
    for _ in range(runs):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def main(argv: list[str]) -> int:
    from rattler import BuildString, Channel, Gateway, GenericVirtualPackage, PackageName, Version, solve

    from envresolve.solve.conda import CondaSettings, CondaSolver, VirtualPackage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channel", action="append", type=Path, help="local channel directory (repeatable)")
    ap.add_argument("--spec", action="append", help="MatchSpec (repeatable; default: the demo's conda side)")
    ap.add_argument("--runs", type=int, default=41)
    args = ap.parse_args(argv)
    channels = [p.resolve() for p in (args.channel or DEMO)]
    specs = args.spec or DEMO_SPECS
    urls = [p.as_uri() for p in channels]
    rvps = [GenericVirtualPackage(PackageName(n), Version(v), BuildString("0")) for n, v in VPS.items()]
    vps = [VirtualPackage(name=n, version=v) for n, v in VPS.items()]
    platforms = ["linux-64", "noarch"]

    with tempfile.TemporaryDirectory() as cache:

        def bare(gateway: Gateway | None = None) -> int:
            gw = gateway or Gateway(cache_dir=cache)
            recs = asyncio.run(
                solve([Channel(u) for u in urls], specs, gateway=gw, platforms=platforms, virtual_packages=rvps)
            )
            return len(recs)

        def ours(solver: CondaSolver | None = None) -> int:
            s = solver or CondaSolver([str(p) for p in channels], CondaSettings(cache_dir=cache))
            sol = s.solve(specs, vps)
            assert sol.ok, sol.diagnostics
            return len(sol.packages)

        n_bare, n_ours = bare(), ours()
        if n_bare != n_ours:
            print(f"different solutions: bare {n_bare} records, envresolve {n_ours}", file=sys.stderr)
            return 1
        gw = Gateway(cache_dir=cache)
        solver = CondaSolver([str(p) for p in channels], CondaSettings(cache_dir=cache))
        rows = [
            ("cold", *_medians(bare, ours, args.runs)),
            ("warm", *_medians(lambda: bare(gw), lambda: ours(solver), args.runs)),
        ]
    print(f"conda side: {len(specs)} specs, {n_bare} records solved, channels: {', '.join(p.name for p in channels)}")
    print(f"machine load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, {args.runs} runs each")
    print(f"{'cache':<6} {'py-rattler':>12} {'envresolve':>12} {'ratio':>7}")
    for name, b, o in rows:
        print(f"{name:<6} {b * 1000:>10.2f}ms {o * 1000:>10.2f}ms {o / b:>7.3f}  ({(o - b) * 1000:+.2f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
