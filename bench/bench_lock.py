"""Benchmark: resolve the project's example pip set with envresolve and with `uv pip compile`, cold and warm.

The set is `transformers==4.35.0`, `torch`, `torchaudio`, `torchvision` for Python 3.11. envresolve resolves it for
a bundled node profile (GPU-aware: CUDA needs, companions), reading each candidate wheel's binary facts within the
inspect budget (`--inspect-budget BYTES`; -1: cached facts only, as before the binary pass), and reports the share
of the chosen wheels' bytes it read cold; uv resolves it for `x86_64-manylinux_2_28`
(`--python-platform x86_64-manylinux_2_28 --python-version 3.11`), which knows the platform and not the GPU.
Each run is a fresh process (imports included, as for uv's CLI). Each tool gets its own cache directory:
"cold" starts from an empty one (median of `--cold-repeat` runs, interleaved), "warm" runs again on the filled one
(median of `--repeat` runs): envresolve fetches the index pages again (as uv does) and, when every page is
unchanged, uses the resolution the last run kept (`solve.pip.reuse`); "warm search" removes that first, which is
what a warm run costs when some page changed.

envresolve's modules are compiled to bytecode first, as installing a wheel does.

Needs the network (PyPI). uv is installed from PyPI into `bench/_work/venv` on the first run (it is a tool for
the benchmark, not a dependency of envresolve).

    .venv/bin/python bench/bench_lock.py [--profile a100-driver535] [--repeat 3] [--inspect-budget BYTES]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
EXAMPLE = ["transformers==4.35.0", "torch", "torchaudio", "torchvision"]

_RUNNER = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from envresolve.node import load_node
from envresolve.solve.pip import resolve_pip
from envresolve.net import HttpClient
from envresolve.binary.budgeted import WheelFacts
from envresolve.binary.cache import ReportCache
cache = Path(sys.argv[1])
client = HttpClient(cache_dir=cache, progress=False)
budget = int(sys.argv[4])
facts = WheelFacts(client, budget=budget, cache=ReportCache(cache)) if budget >= 0 else "cache"
res = resolve_pip(json.loads(sys.argv[3]), [load_node(sys.argv[2])], python="3.11", cache_dir=cache, client=client,
                  binary_facts=facts)
seconds = time.perf_counter() - t0
sizes = {}
if budget >= 0 and facts.bytes_read:
    for p in res.packages:  # after the clock: the total size of each chosen wheel, from one 1-byte range answer
        resp = client.get_range(p.url, 0, 0)
        sizes[p.filename] = int(resp.headers.get("content-range", "/0").rsplit("/", 1)[-1])
read = [p.name for p in res.packages if p.binary is not None]
print(json.dumps({
    "seconds": seconds,
    "bytes_read": facts.bytes_read if budget >= 0 else 0,
    "chosen_bytes": sum(sizes.values()),
    "with_facts": len(read),
    "beyond_budget": sum(1 for p in res.packages if p.binary is not None and p.binary.device_code != "read"),
    "requests": client.requests,
    "packages": {p.name: p.version for p in res.packages},
    "rejections": len(res.rejections),
    "metadata": sorted({p.metadata_source for p in res.packages}),
}))
# leave as `envresolve` does (`cli.console_main`): flushed, then exit without tearing the interpreter down
sys.stdout.flush()
import os
os._exit(0)
"""


def _uv() -> Path:
    uv = WORK / "venv" / "bin" / "uv"
    if not uv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(WORK / "venv")], check=True)
        subprocess.run([str(WORK / "venv" / "bin" / "pip"), "install", "-q", "uv"], check=True)
    return uv


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_envresolve(cache: Path, profile: str, budget: int, *, search: bool = False) -> dict[str, object]:
    """One run in a fresh process; `search`: without the resolution kept by the last run (it searches again)."""
    if search:
        shutil.rmtree(cache / "pip-results", ignore_errors=True)
    c0 = _cpu()
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(cache), profile, json.dumps(EXAMPLE), str(budget)],
        env={**os.environ, "ENVRESOLVE_CACHE_DIR": str(cache)},  # cold: the parsed matrices are not kept yet
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - t0
    result["cpu"] = _cpu() - c0
    return result


def run_uv(uv: Path, cache: Path, reqs: Path) -> dict[str, object]:
    c0 = _cpu()
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            str(uv),
            "pip",
            "compile",
            str(reqs),
            "--python-platform",
            "x86_64-manylinux_2_28",
            "--python-version",
            "3.11",
            "--cache-dir",
            str(cache),
            "--no-header",
            "--no-annotate",
            "--quiet",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    cpu = _cpu() - c0
    pins = dict(line.split("==", 1) for line in out.stdout.splitlines() if "==" in line and not line.startswith("#"))
    return {"wall": wall, "cpu": cpu, "packages": pins}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="a100-driver535", help="bundled node profile for envresolve")
    ap.add_argument("--repeat", type=int, default=7, help="warm runs per tool (median and best reported)")
    ap.add_argument("--cold-repeat", type=int, default=3, help="cold runs per tool, each on an empty cache (median)")
    ap.add_argument(
        "--inspect-budget",
        type=int,
        default=None,
        help="bytes read per candidate wheel for its binary facts (default: envresolve's); -1: cached facts only",
    )
    args = ap.parse_args(argv)
    from envresolve.binary.budgeted import DEFAULT_INSPECT_BUDGET

    budget = DEFAULT_INSPECT_BUDGET if args.inspect_budget is None else args.inspect_budget

    WORK.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    # An installed envresolve has bytecode (pip compiles wheels on install); an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 (as on the build VM) would otherwise recompile every module on every run.
    import envresolve

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(envresolve.__file__).parent)], check=True)
    uv = _uv()
    version = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    reqs = WORK / "requirements.in"
    reqs.write_text("\n".join(EXAMPLE) + "\n")
    er_cache, uv_cache = WORK / "cache-envresolve", WORK / "cache-uv"
    # Cold runs, each on an empty cache, interleaved so that both tools see the same network and load (a single
    # cold run of either tool scatters by tens of percent); the warm runs reuse the last cold run's cache.
    er_colds: list[dict[str, object]] = []
    uv_colds: list[dict[str, object]] = []
    for _ in range(max(1, args.cold_repeat)):
        for d in (er_cache, uv_cache):
            shutil.rmtree(d, ignore_errors=True)
        uv_colds.append(run_uv(uv, uv_cache, reqs))
        er_colds.append(run_envresolve(er_cache, args.profile, budget))
    er_cold = er_colds[-1]
    # Interleaved, so that both tools see the same machine load.
    er_warm: list[dict[str, object]] = []
    er_search: list[dict[str, object]] = []
    uv_warm: list[dict[str, object]] = []
    for _ in range(args.repeat):
        er_warm.append(run_envresolve(er_cache, args.profile, budget))
        uv_warm.append(run_uv(uv, uv_cache, reqs))
        er_search.append(run_envresolve(er_cache, args.profile, budget, search=True))

    def med(runs: list[dict[str, object]]) -> float:
        return statistics.median(float(r["wall"]) for r in runs)  # type: ignore[arg-type]

    def best(runs: list[dict[str, object]]) -> float:
        return min(float(r["wall"]) for r in runs)  # type: ignore[arg-type]

    def cpu(runs: list[dict[str, object]]) -> float:
        return statistics.median(float(r["cpu"]) for r in runs)  # type: ignore[arg-type]

    rows = [
        ("cold median", med(er_colds), med(uv_colds)),
        ("warm median", med(er_warm), med(uv_warm)),
        ("warm best", best(er_warm), best(uv_warm)),
        ("warm CPU s", cpu(er_warm), cpu(uv_warm)),
        ("warm search", med(er_search), med(uv_warm)),
    ]
    print(f"# lock benchmark: {' '.join(EXAMPLE)} (Python 3.11)")
    mode = f"binary-aware, {budget} bytes per wheel" if budget >= 0 else "cached binary facts only (no wheel read)"
    print(f"envresolve: resolve_pip for node profile {args.profile}, {mode}")
    print(f"{version}: --python-platform x86_64-manylinux_2_28")
    print(
        "warm: the pages fetched again and, all unchanged, the kept resolution used; warm search: the same with "
        "the kept resolution removed first (what a warm run does when some page changed)"
    )
    print(f"{'run':<12} {'envresolve s':>13} {'uv s':>8} {'ratio':>7}")
    for name, er, u in rows:
        print(f"{name:<12} {er:>13.2f} {u:>8.2f} {er / u:>6.2f}x")
    print(
        f"machine load average (1 min): {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, "
        f"on {os.cpu_count()} CPUs"
    )
    er_pk: dict[str, str] = er_warm[-1]["packages"]  # type: ignore[assignment]
    uv_pk: dict[str, str] = uv_warm[-1]["packages"]  # type: ignore[assignment]
    print(
        f"envresolve: {len(er_pk)} packages, torch {er_pk.get('torch')}, {er_warm[-1]['rejections']} rejections, "
        f"metadata {er_cold['metadata']} cold / {er_warm[-1]['metadata']} warm, "
        f"{er_cold['requests']} requests cold / {er_warm[-1]['requests']} warm"
    )
    print(f"uv:         {len(uv_pk)} packages, torch {uv_pk.get('torch')}")
    read, total = int(er_cold["bytes_read"]), int(er_cold["chosen_bytes"])  # type: ignore[call-overload]
    if total:
        share = read / total
        print(
            f"binary facts (budget {budget} bytes per wheel): {er_cold['with_facts']} chosen wheels with facts, "
            f"{er_cold['beyond_budget']} with device code beyond the budget; cold read {read / 1e6:.1f} MB of "
            f"{total / 1e6:.1f} MB chosen ({100 * share:.2f} %, target <= 5 %): {'met' if share <= 0.05 else 'NOT met'}"
        )
    walls = ", ".join(f"{float(e['wall']):.2f}/{float(u['wall']):.2f}" for e, u in zip(er_colds, uv_colds, strict=True))  # type: ignore[arg-type]
    print(f"cold runs (envresolve/uv s): {walls}")
    cold = rows[0][1] / rows[0][2]
    print(f"cold median ratio {cold:.2f}x (target <= 3x): {'met' if cold <= 3 else 'NOT met'}")
    target = rows[1][1] / rows[1][2]
    print(f"warm median ratio {target:.2f}x (target <= 1.25x): {'met' if target <= 1.25 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
