"""Benchmark: the admission webhook's reviews per second and p99 latency for a typical CONDA Dataset against a
1,000-node fleet (target: p99 under 50 ms, the API server's webhook timeout being seconds).

Two fleets of 1,000 Kubernetes Node manifests with GFD + NFD labels: "random" draws every node's driver, GPU and OS
at random (fixed seed) from the mix of `bench_fleet.py` (125 combinations, 25 once grouped by the facts the
checks read: the hard case); "pools" is six node pools of one driver/GPU/OS each (kernels vary), the usual shape
of a cluster. The Dataset is the `bench_lint.py` template (embedded environment.yml and
requirements.txt, torch for CUDA 12.4 from a cu124 index). Measured, separately:

- decide: `envresolve.webhook.decide` in process (JSON parse of the review, Dataset reader, lint checks once per
  group of identical nodes, verdicts), for both fleets: the part the webhook adds;
- HTTPS: the real `envresolve webhook` process on the random fleet (TLS with a CA made here by `cryptography`),
  clients on keep-alive connections POSTing AdmissionReview JSON: one client (the API server waits for each
  review of an apply), 4 and `--concurrency` clients (many applies at once);
- anchor: `GET /healthz` on the same server and connections, the floor any review pays for HTTP + TLS + aiohttp.

Usage: `python bench/bench_webhook.py [--nodes 1000] [--reviews 2000] [--concurrency 16]`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_fleet import node_manifest  # noqa: E402
from bench_lint import TEMPLATE  # noqa: E402

POOLS = [
    ("580.95.05", "13.0", ("NVIDIA-H100-80GB-HBM3", 9, 0, 81559), ("ubuntu", "22.04")),
    ("580.95.05", "13.0", ("NVIDIA-B200", 10, 0, 183359), ("ubuntu", "24.04")),
    ("570.172.08", "12.8", ("NVIDIA-L4", 8, 9, 23034), ("rhel", "9.4")),
    ("550.163.01", "12.4", ("NVIDIA-A100-SXM4-80GB", 8, 0, 81920), ("ubuntu", "22.04")),
    ("535.247.01", "12.2", ("NVIDIA-A100-SXM4-80GB", 8, 0, 81920), ("ubuntu", "20.04")),
    ("470.256.02", "11.4", ("Tesla-T4", 7, 5, 15360), ("ubuntu", "20.04")),
]


def pool_manifest(i: int, rng: random.Random) -> dict[str, Any]:
    """A node of one of six pools: `node_manifest`'s shape with the pool's driver, GPU and OS."""
    node: dict[str, Any] = node_manifest(i, rng)
    drv, cuda, (product, major, minor, mem), (os_id, os_ver) = POOLS[i % len(POOLS)]
    labels = node["metadata"]["labels"]
    labels.update(
        {
            "nvidia.com/cuda.driver-version.full": drv,
            "nvidia.com/cuda.runtime-version.full": cuda,
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.compute.major": str(major),
            "nvidia.com/gpu.compute.minor": str(minor),
            "nvidia.com/gpu.memory": str(mem),
            "feature.node.kubernetes.io/system-os_release.ID": os_id,
            "feature.node.kubernetes.io/system-os_release.VERSION_ID": os_ver,
        }
    )
    return node


def review_body(i: int) -> bytes:
    import yaml

    obj = yaml.safe_load(TEMPLATE.format(i=i, team=i % 7, py="3.11", cuda="12.4", cu="124", torch="2.5.1"))
    doc = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": f"bench-{i}",
            "kind": {"group": "dataset.baizeai.io", "version": "v1alpha1", "kind": "Dataset"},
            "resource": {"group": "dataset.baizeai.io", "version": "v1alpha1", "resource": "datasets"},
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "bench"},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
        },
    }
    return json.dumps(doc).encode()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_clients(port: int, ca: Path, bodies: list[bytes], concurrency: int, path: str) -> tuple[float, list[float]]:
    """(wall seconds, per-request latencies) for `len(bodies)` requests over `concurrency` keep-alive clients."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [bodies[i::concurrency] for i in range(concurrency)]

    def client(chunk: list[bytes]) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
        mine = []
        for body in chunk:
            start = time.perf_counter()
            if path == "/validate":
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            else:
                conn.request("GET", path)
            resp = conn.getresponse()
            data = resp.read()
            mine.append(time.perf_counter() - start)
            assert resp.status == 200, data[:200]
        conn.close()
        with lock:
            latencies.extend(mine)

    errors: list[BaseException] = []

    def guarded(chunk: list[bytes]) -> None:
        try:
            client(chunk)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start, latencies


@contextlib.contextmanager
def served(tmp: Path, nodes_file: Path, cert: Path, key: Path, ca: Path) -> Iterator[int]:
    """The real `envresolve webhook` process on a free port, ready (its /readyz says so)."""
    from tests.webhook.harness import free_port

    port = free_port()
    env = {**os.environ, "ENVRESOLVE_CACHE_DIR": str(tmp / "cache")}
    cmd = [sys.executable, "-m", "envresolve", "webhook", "--nodes", str(nodes_file), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)]
    with open(tmp / f"server-{port}.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    run_clients(port, ca, [b""], 1, "/readyz")
                    break
                except (OSError, AssertionError):
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)

    from tests.webhook.tls import make_ca

    from envresolve.node import load_nodes
    from envresolve.webhook import decide, fleet_of, parse_review, response_for

    results: list[tuple[str, float, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        bodies = [review_body(i) for i in range(args.reviews)]
        groups: dict[str, int] = {}
        outcomes: dict[str, dict[str, int]] = {}
        for kind, make_node in (("pools", pool_manifest), ("random", node_manifest)):
            rng = random.Random(20261206)
            nodes_file = tmp / f"nodes-{kind}.json"
            doc = {"apiVersion": "v1", "kind": "List", "items": [make_node(i, rng) for i in range(args.nodes)]}
            nodes_file.write_text(json.dumps(doc))
            fleet = fleet_of(load_nodes(nodes_file), source="bench")
            groups[kind] = len(fleet.groups)
            decide(parse_review(bodies[0]), fleet)  # warm, as the server does before /readyz
            times = []
            seen: dict[str, int] = {}
            start = time.perf_counter()
            for body in bodies:
                t0 = time.perf_counter()
                decision = decide(parse_review(body), fleet)
                json.dumps(response_for(decision))
                times.append(time.perf_counter() - t0)
                seen[decision.outcome] = seen.get(decision.outcome, 0) + 1
            outcomes[kind] = seen
            results.append((f"decide in process, {kind} fleet", time.perf_counter() - start, times))

        # the real server over HTTPS
        ca = make_ca(tmp)
        cert, key = tmp / "tls.crt", tmp / "tls.key"
        ca.issue(cert, key)
        for kind in ("pools", "random"):
            with served(tmp, tmp / f"nodes-{kind}.json", cert, key, ca.path) as port:
                run_clients(port, ca.path, bodies[:50], 1, "/validate")  # warm connections and caches
                for clients in (1, 4, args.concurrency) if kind == "random" else (1,):
                    name = f"HTTPS /validate, {kind}, {clients} client{'s' if clients > 1 else ''}"
                    results.append((name, *run_clients(port, ca.path, bodies, clients, "/validate")))
                if kind == "random":
                    anchor = run_clients(port, ca.path, [b""] * args.reviews, 1, "/healthz")
                    results.append(("anchor: HTTPS GET /healthz, 1 client", *anchor))

    print(
        f"{args.reviews} reviews of a CONDA Dataset (torch+cu124) against {args.nodes} nodes; groups {groups}; "
        f"outcomes {outcomes}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"{'what':<40} {'reviews/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, wall, lat in results:
        ms = [x * 1000 for x in lat]
        print(f"{name:<40} {len(lat) / wall:10.0f} {statistics.median(ms):8.2f} {pct(ms, 0.99):8.2f} {max(ms):8.2f}")
    p99 = {name: pct([x * 1000 for x in lat], 0.99) for name, _wall, lat in results}
    ok = all(p99[f"HTTPS /validate, {kind}, 1 client"] < 50.0 for kind in ("pools", "random"))
    print(
        "target: p99 under 50 ms over HTTPS, one client (the API server waits on each review):",
        "met" if ok else "NOT met",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
