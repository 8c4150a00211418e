"""Fleet check benchmark: 10,000 Kubernetes Node manifests (GFD + NFD labels) in one `List`, one environment.

Measures, separately:
- load: `envresolve.node.load_nodes(LIST)` for the List as `kubectl get nodes -o yaml` and `-o json` write it
  (parsing the manifest and turning labels into facts: NODE's part);
- check: `envresolve.preflight.api.check_environment(env, nodes)` from recorded facts (grouping + the rules once per
  group + the per-node verdicts: the figure the 2 s target is about);
- render: the text table and the JSON report;
- end to end: load (YAML) + check + render in this process, and the real `envresolve check LOCK --nodes nodes.yaml`
  in a fresh process on the offline example lock (`examples/`; locked first, offline).

The environment is a PyTorch-like set of packages with recorded binary facts (CUDA runtime, SASS/PTX targets,
GLIBC/GLIBCXX needs), so the matrix rules have real work to do.

A second part measures `check --prefix` on a generated venv of 100,000 files (1,000 installed distributions with
METADATA and RECORD, 2,000 real shared objects compiled here with gcc and hard-linked, the rest Python files):
wall time, and peak Python memory (tracemalloc) against a 10,000-file prefix with the same number of shared
objects, to show memory does not grow with the file count.

Run: `.venv/bin/python bench/bench_fleet.py [--nodes 10000] [--repeat 3] [--prefix-files 100000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from envresolve.binary.model import ArtifactReport, CudaRuntimeLink, ElfFacts, FatbinEntry
from envresolve.compat.model import Environment, Package

DRIVERS = [
    ("470.256.02", "11.4"),
    ("535.247.01", "12.2"),
    ("550.163.01", "12.4"),
    ("570.172.08", "12.8"),
    ("580.95.05", "13.0"),
]
GPUS = [
    ("NVIDIA-A100-SXM4-80GB", 8, 0, 81920),
    ("NVIDIA-H100-80GB-HBM3", 9, 0, 81559),
    ("NVIDIA-L4", 8, 9, 23034),
    ("Tesla-T4", 7, 5, 15360),
    ("NVIDIA-B200", 10, 0, 183359),
]
OSES = [("ubuntu", "20.04"), ("ubuntu", "22.04"), ("ubuntu", "24.04"), ("rhel", "8.10"), ("rhel", "9.4")]


def node_manifest(i: int, rng: random.Random) -> dict[str, object]:
    drv, cuda = rng.choice(DRIVERS)
    product, major, minor, mem = rng.choice(GPUS)
    os_id, os_ver = rng.choice(OSES)
    count = rng.choice((1, 4, 8))
    labels = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": f"gpu-{i:05d}",
        "nvidia.com/cuda.driver-version.full": drv,
        "nvidia.com/cuda.runtime-version.full": cuda,
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.compute.major": str(major),
        "nvidia.com/gpu.compute.minor": str(minor),
        "nvidia.com/gpu.memory": str(mem),
        "nvidia.com/gpu.count": str(count),
        "feature.node.kubernetes.io/system-os_release.ID": os_id,
        "feature.node.kubernetes.io/system-os_release.VERSION_ID": os_ver,
        "feature.node.kubernetes.io/kernel-version.full": f"5.15.0-{rng.randint(60, 140)}-generic",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": f"gpu-{i:05d}", "labels": labels},
        "status": {"capacity": {"nvidia.com/gpu": str(count)}, "nodeInfo": {"architecture": "amd64"}},
    }


def torch_like_environment() -> Environment:
    """Packages with recorded binary facts, shaped like a CUDA 12.8 PyTorch install."""

    def elf(path: str, glibc: str, glibcxx: str | None, sass: tuple[int, ...], ptx: int | None) -> ElfFacts:
        needs = {"libc.so.6": (f"GLIBC_{glibc}",)}
        if glibcxx:
            needs["libstdc++.so.6"] = (f"GLIBCXX_{glibcxx}",)
        fat = tuple(FatbinEntry(kind="sass", arch=f"sm_{s}", sm=s) for s in sass)
        if ptx:
            fat += (FatbinEntry(kind="ptx", arch=f"compute_{ptx}", sm=ptx),)
        return ElfFacts(
            path=path,
            elf_class=64,
            machine="x86_64",
            needed=("libcudart.so.12", "libc.so.6", "libstdc++.so.6"),
            version_needs=needs,
            cuda_runtime=CudaRuntimeLink(mode="dynamic", major=12),
            fatbin=fat,
        )

    def report(name: str, files: list[ElfFacts]) -> ArtifactReport:
        return ArtifactReport(
            artifact=name,
            kind="wheel",
            elf=tuple(files),
            max_glibc="2.28",
            max_glibcxx="3.4.22",
            cuda_runtime_majors=(12,),
            sass_archs=tuple(sorted({f.arch for e in files for f in e.fatbin if f.kind == "sass"})),
            ptx_archs=tuple(sorted({f.arch for e in files for f in e.fatbin if f.kind == "ptx"})),
        )

    torch = report(
        "torch-2.8.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl",
        [elf("torch/lib/libtorch_cuda.so", "2.28", "3.4.22", (75, 80, 86, 90, 100, 120), 120)],
    )
    return Environment(
        python="3.12.11",
        packages=(
            Package(name="torch", version="2.8.0+cu128", ecosystem="pypi", binary=torch),
            Package(name="nvidia-cuda-runtime-cu12", version="12.8.90", ecosystem="pypi"),
            Package(name="numpy", version="2.3.2", ecosystem="pypi"),
            Package(name="python", version="3.12.11", ecosystem="conda", build="h9e4cc4f_0_cpython"),
        ),
    )


def _write_lists(tmp: Path, doc: dict[str, object]) -> tuple[Path, Path]:
    """The List as `kubectl get nodes -o json` and `-o yaml` would write it."""
    import yaml

    as_json = tmp / "nodes.json"
    as_json.write_text(json.dumps(doc, indent=4), encoding="utf-8")
    as_yaml = tmp / "nodes.yaml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    as_yaml.write_text(yaml.dump(doc, Dumper=dumper, default_flow_style=False), encoding="utf-8")
    return as_json, as_yaml


def fleet(args: argparse.Namespace) -> bool:
    from envresolve.node import load_nodes
    from envresolve.preflight.api import check_environment
    from envresolve.preflight.fleet import render_table

    rng = random.Random(20261123)
    doc = {"apiVersion": "v1", "kind": "List", "items": [node_manifest(i, rng) for i in range(args.nodes)]}
    env = torch_like_environment()
    with tempfile.TemporaryDirectory() as tmp:
        as_json, as_yaml = _write_lists(Path(tmp), doc)
        loads: dict[str, list[float]] = {"json": [], "yaml": []}
        checks, check_cpu, renders = [], [], []
        for _ in range(args.repeat):
            for fmt, path in (("json", as_json), ("yaml", as_yaml)):
                t0 = time.perf_counter()
                nodes = load_nodes(path)
                loads[fmt].append(time.perf_counter() - t0)
            t1, c1 = time.perf_counter(), time.process_time()
            report = check_environment(env, nodes, subject="torch-cu128.lock")
            t2, c2 = time.perf_counter(), time.process_time()
            render_table(report)
            report.to_json()
            t3 = time.perf_counter()
            checks.append(t2 - t1)
            check_cpu.append(c2 - c1)
            renders.append(t3 - t2)
        cli = _cli_end_to_end(Path(tmp), as_yaml, args.repeat) if args.cli else None
        sizes = {fmt: p.stat().st_size / 1e6 for fmt, p in (("json", as_json), ("yaml", as_yaml))}
    med = statistics.median
    s = report.summary
    print(
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min), {os.cpu_count()} CPUs"
    )
    print(
        f"nodes: {s.nodes} (List: {sizes['yaml']:.1f} MB as YAML, {sizes['json']:.1f} MB as JSON), "
        f"groups: {s.groups}, nodes that run: {s.nodes_ok}"
    )
    for fmt in ("yaml", "json"):
        print(f"load_nodes, {fmt.upper():4} List (parse + labels -> facts): median {med(loads[fmt]):.3f} s")
    print(
        f"check from recorded facts:            first {checks[0]:.3f} s, median {med(checks):.3f} s "
        f"wall ({med(check_cpu):.3f} s CPU)  (target < 2 s)"
    )
    print(f"render table + JSON:                  median {med(renders):.3f} s")
    total = med(loads["yaml"]) + med(checks) + med(renders)
    print(f"end to end in process (YAML load + check + render): {total:.3f} s (check alone {med(checks):.3f} s)")
    if cli is not None:
        print(
            f"`envresolve check LOCK --nodes nodes.yaml` (a fresh process, the example lock): median {med(cli):.3f} s "
            f"wall (runs: {', '.join(f'{c:.2f}' for c in cli)})"
        )
    return med(checks) < 2.0


def _cli_end_to_end(tmp: Path, nodes: Path, repeat: int) -> list[float] | None:
    """Wall time of the real command on the offline example lock (`examples/`), or None if it cannot be locked."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    exe = [sys.executable, "-m", "envresolve"]
    lock = tmp / "env.lock"
    ex = root / "examples"
    made = subprocess.run(
        [*exe, "lock", str(ex / "llm-finetune-dataset.yaml"), "--index-url", str(ex / "index"),
         "--no-notebook-packages", "--offline", "--node", "h100-driver580", "-o", str(lock)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if not lock.is_file():
        print(f"(could not lock the example for the CLI run: exit {made.returncode})")
        return None
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = subprocess.run([*exe, "check", str(lock), "--nodes", str(nodes)], capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
        if run.returncode not in (0, 1):
            print(f"(envresolve check exited {run.returncode})")
            return None
    return times


def _build_prefix(root: Path, files: int, libs: int, lib_src: Path) -> None:
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n", encoding="utf-8")
    dists = 1000
    per = max((files - dists * 2) // dists, 1)
    so_per = max(libs // dists, 1)
    for d in range(dists):
        name = f"pkg{d:04d}"
        dist = site / f"{name}-1.0.dist-info"
        dist.mkdir()
        pkg = site / name
        pkg.mkdir()
        record = []
        for i in range(per - so_per):
            (pkg / f"m{i}.py").write_bytes(b"x = 1\n")
            record.append(f"{name}/m{i}.py,,")
        for i in range(so_per):
            os.link(lib_src, pkg / f"_ext{i}.so")
            record.append(f"{name}/_ext{i}.so,,")
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
        (dist / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")


def prefix(args: argparse.Namespace) -> None:
    import subprocess
    import tracemalloc

    from envresolve.node.facts import LibStdCxxFacts, NodeFacts
    from envresolve.preflight.api import check_prefix

    node = NodeFacts(name="bench", glibc="2.35", libstdcxx=LibStdCxxFacts(glibcxx="3.4.30", cxxabi="1.3.13"))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "lib.c"
        src.write_text("#include <string.h>\nint f(const char* s){return (int)strlen(s);}\n", encoding="utf-8")
        lib = Path(tmp) / "libbench.so"
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
        for files in (10_000, args.prefix_files):
            root = Path(tmp) / f"env{files}"
            t0 = time.perf_counter()
            _build_prefix(root, files, 2000, lib)
            built = time.perf_counter() - t0
            tracemalloc.start()
            t1 = time.perf_counter()
            report = check_prefix(root, [node])
            wall = time.perf_counter() - t1
            _cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"check --prefix, {files} files ({report.summary.objects} shared objects, "
                f"{report.summary.packages} distributions): {wall:.2f} s, peak Python memory {peak / 1e6:.1f} MB "
                f"(built in {built:.1f} s; verdict {report.verdict})"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prefix-files", type=int, default=100_000, help="0 skips the prefix part")
    ap.add_argument("--no-cli", dest="cli", action="store_false", help="skip the `envresolve check` process runs")
    args = ap.parse_args(argv)
    ok = fleet(args)
    if args.prefix_files:
        prefix(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
