"""Benchmark `envresolve inspect` against `auditwheel show` on the same real wheels, in one run.

For each wheel (read once first, so both tools find it in the page cache) it measures, each as a fresh
process (wall time and peak RSS from /usr/bin/time):

- `envresolve inspect --format json W` cold (empty cache directory), `--repeat` times (default 3; the median
  run by wall time is reported, all runs are in the JSON row);
- the same again, cached (the report comes from the content-addressed cache);
- `auditwheel show W` (installed into its own venv under bench/_work/, not a dependency);

plus the in-process time of a cached `envresolve.binary.inspect()` call (what a resolver or `check`
pays per artifact), and prints times, ratios and peak memory. `--compare-inflate` also times raw
inflate of every ELF member with zlib and with ISA-L (the reason for the `isal` dependency).

Wheels: the PyTorch CPU wheel from /opt/wheels, and nvidia-nccl-cu12, bitsandbytes and cupy-cuda12x
from PyPI (downloaded once into bench/_work/wheels). Usage:

    .venv/bin/python bench/bench_inspect.py [--skip-auditwheel] [--compare-inflate] [WHEEL ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work"
WHEELS = WORK / "wheels"
AW_VENV = WORK / "venv-auditwheel"
TORCH = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
PYPI = ["nvidia-nccl-cu12==2.32.3", "bitsandbytes==0.50.2", "cupy-cuda12x==14.2.0"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux2014_x86_64"]
ENVRESOLVE = [str(ROOT / ".venv" / "bin" / "envresolve")]


def ensure_wheels() -> list[Path]:
    WHEELS.mkdir(parents=True, exist_ok=True)
    missing = [spec for spec in PYPI if not list(WHEELS.glob(spec.split("==")[0].replace("-", "_") + "-*.whl"))]
    if missing:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11"]
        for plat in PLATFORMS:
            cmd += ["--platform", plat]
        subprocess.run([*cmd, "-d", str(WHEELS), *missing], check=True)
    found = [TORCH] if TORCH.is_file() else []
    for spec in PYPI:
        found += sorted(WHEELS.glob(spec.split("==")[0].replace("-", "_") + "-" + spec.split("==")[1] + "-*.whl"))
    return found


def ensure_auditwheel() -> Path:
    exe = AW_VENV / "bin" / "auditwheel"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AW_VENV)], check=True)
        subprocess.run([str(AW_VENV / "bin" / "pip"), "install", "-q", "auditwheel"], check=True)
    return exe


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds (user+sys), peak RSS in MB, exit status) of one process, via /usr/bin/time.

    CPU seconds are reported beside wall time because a shared machine's load distorts wall time.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        started = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-o", tf.name, "-f", "%M %U %S", *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        wall = time.perf_counter() - started
        rss_kb, user, system = Path(tf.name).read_text().strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(rss_kb) // 1024, proc.returncode


def warm_page_cache(wheel: Path) -> None:
    """Read the wheel once so that neither tool pays for the disk: "cold" means an empty report cache.

    Without this the first tool to touch a wheel evicted from the page cache waits on the disk (9 s for the
    43 MB bitsandbytes wheel in one run on the shared VM) and the tool run after it gets the cached pages.
    """
    with wheel.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def in_process_cached(wheel: Path, cache_dir: str) -> tuple[float, float]:
    """(first cached call incl. lazy imports, median of 5 more) of inspect() in a fresh interpreter."""
    code = (
        "import time,sys\n"
        "from envresolve.binary import inspect\n"
        "t=time.perf_counter(); inspect(sys.argv[1]); first=time.perf_counter()-t\n"
        "xs=[]\n"
        "for _ in range(5):\n"
        "    t=time.perf_counter(); inspect(sys.argv[1]); xs.append(time.perf_counter()-t)\n"
        "xs.sort(); print(first, xs[2])\n"
    )
    env = {**os.environ, "ENVRESOLVE_CACHE_DIR": cache_dir}
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code, str(wheel)], env=env, capture_output=True, text=True
    )
    first, median = (float(x) for x in out.stdout.split())
    return first, median


def compare_inflate(wheel: Path) -> dict[str, float]:
    """Seconds to inflate every ELF member of the wheel with zlib and with ISA-L (no ELF parsing)."""
    import zlib

    from isal import isal_zlib

    from envresolve.binary.wheel import ELF_MAGIC, FileSource, data_offset, list_zip_members, peek_member

    out: dict[str, float] = {}
    with FileSource(wheel) as src:
        members, _ = list_zip_members(src, subject=str(wheel))
        elf = []
        for m in members:
            if m.method == 8 and m.file_size >= 4:
                start = data_offset(src, m)
                if peek_member(src, m, start) == ELF_MAGIC:
                    elf.append((m, start))
        for name, mod in (("zlib", zlib), ("isal", isal_zlib)):
            started = time.perf_counter()
            for m, start in elf:
                d = mod.decompressobj(-15)
                for raw in src.stream(start, m.compress_size):
                    data = raw
                    while data:
                        d.decompress(data, 4 << 20)
                        data = d.unconsumed_tail
            out[name] = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheels", nargs="*", type=Path, help="wheels to measure (default: the four named above)")
    parser.add_argument("--skip-auditwheel", action="store_true")
    parser.add_argument("--compare-inflate", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="cold envresolve runs per wheel; the median is shown")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    wheels = args.wheels or ensure_wheels()
    aw = None if args.skip_auditwheel else ensure_auditwheel()
    import envresolve

    aw_out = subprocess.run([str(aw), "--version"], capture_output=True, text=True).stdout if aw else "skipped"
    aw_version = " ".join(aw_out.split()[:2])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"envresolve {envresolve.__version__}; {aw_version}")
    rows = []
    for wheel in wheels:
        warm_page_cache(wheel)
        colds = []
        for _ in range(args.repeat):  # each cold run gets a fresh, empty cache directory
            cache = tempfile.mkdtemp(prefix="envresolve-bench-cache-")
            env = {**os.environ, "ENVRESOLVE_CACHE_DIR": cache}
            colds.append(timed([*ENVRESOLVE, "inspect", "--format", "json", str(wheel)], env))
            if len(colds) < args.repeat:
                shutil.rmtree(cache, ignore_errors=True)
        colds.sort()
        cold, cold_cpu, cold_rss, rc = colds[len(colds) // 2]  # the median run by wall time
        cached, cached_cpu, cached_rss, _ = timed([*ENVRESOLVE, "inspect", "--format", "json", str(wheel)], env)
        first, median = in_process_cached(wheel, cache)
        shutil.rmtree(cache, ignore_errors=True)
        row = {
            "wheel": wheel.name,
            "size_mb": round(wheel.stat().st_size / 1e6, 1),
            "envresolve_cold_s": round(cold, 3),
            "envresolve_cold_runs_s": [round(c[0], 3) for c in colds],
            "envresolve_cold_cpu_s": round(cold_cpu, 2),
            "envresolve_cold_rss_mb": cold_rss,
            "envresolve_exit": rc,
            "envresolve_cached_cli_s": round(cached, 3),
            "envresolve_cached_cli_cpu_s": round(cached_cpu, 2),
            "envresolve_cached_cli_rss_mb": cached_rss,
            "cached_inspect_first_ms": round(first * 1000, 1),
            "cached_inspect_ms": round(median * 1000, 2),
        }
        if aw is not None:
            aw_s, aw_cpu, aw_rss, aw_rc = timed([str(aw), "show", str(wheel)])
            row.update(auditwheel_s=round(aw_s, 2), auditwheel_cpu_s=round(aw_cpu, 2), auditwheel_rss_mb=aw_rss)
            row["auditwheel_exit"] = aw_rc
            row["ratio_cold"] = round(aw_s / cold, 1)
            row["ratio_cold_cpu"] = round(aw_cpu / max(cold_cpu, 0.01), 1)
            row["ratio_cached_cli"] = round(aw_s / cached, 1)
        if args.compare_inflate:
            row.update({f"inflate_{k}_s": round(v, 3) for k, v in compare_inflate(wheel).items()})
        rows.append(row)
        print(json.dumps(row), flush=True)

    print()
    head = f"{'wheel':<58} {'MB':>6} {'cold s':>7} {'cached s':>8} {'in-proc ms':>10} {'RSS MB':>6}"
    if aw is not None:
        head += f" {'auditwheel s':>12} {'x cold':>7} {'x cold cpu':>10} {'x cached':>8}"
    print(head)
    for r in rows:
        line = (
            f"{r['wheel'][:58]:<58} {r['size_mb']:>6} {r['envresolve_cold_s']:>7} {r['envresolve_cached_cli_s']:>8} "
            f"{r['cached_inspect_ms']:>10} {max(r['envresolve_cold_rss_mb'], r['envresolve_cached_cli_rss_mb']):>6}"
        )
        if aw is not None:
            line += (
                f" {r['auditwheel_s']:>12} {r['ratio_cold']:>7} {r['ratio_cold_cpu']:>10} {r['ratio_cached_cli']:>8}"
            )
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
