"""Start the real `envresolve webhook` process and talk to it as the API server does: HTTPS, POST JSON."""

from __future__ import annotations

import copy
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "tests" / "fixtures" / "check" / "nodes-gfd.yaml"

#: a CONDA Dataset shaped as BaizeAI's CRD defines it; `conda`/`pip` lines vary per test
DATASET: dict[str, Any] = {
    "apiVersion": "dataset.baizeai.io/v1alpha1",
    "kind": "Dataset",
    "metadata": {"name": "torch-env", "namespace": "ml"},
    "spec": {
        "source": {
            "type": "CONDA",
            "uri": "conda://torch-env?python=3.11",
            "options": {
                "name": "torch-env",
                "pythonVersion": "3.11",
                "gpuType": "nvidia-gpu",
                "condaEnvironmentYml": "channels:\n  - conda-forge\ndependencies:\n  - numpy=1.26\n",
                "pipRequirementsTxt": "transformers==4.41.2\n",
            },
        },
        "volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "20Gi"}}}},
    },
}


def dataset(
    *,
    conda: Sequence[str] = ("numpy=1.26",),
    pip: Sequence[str] = ("transformers==4.41.2",),
    name: str = "torch-env",
    source_type: str = "CONDA",
) -> dict[str, Any]:
    obj = copy.deepcopy(DATASET)
    obj["metadata"]["name"] = name
    options = obj["spec"]["source"]["options"]
    options["condaEnvironmentYml"] = "channels:\n  - conda-forge\ndependencies:\n" + "".join(
        f"  - {c}\n" for c in conda
    )
    options["pipRequirementsTxt"] = "".join(f"{p}\n" for p in pip)
    if source_type != "CONDA":
        obj["spec"]["source"] = {"type": source_type, "uri": "s3://bucket/data", "options": {"region": "us-east-1"}}
    return obj


#: runs on the H100 (driver 580) and A100 (535, CUDA 12.4 under minor-version compatibility) nodes, not on
#: the T4 with driver 470 (CUDA 11.4): CP101
CU124 = {"conda": ("numpy=1.26", "cuda-version=12.4"), "pip": ("torch==2.5.1+cu124",)}
#: pip's torch for CUDA 12.4 over a conda CUDA 12.9 pin: SP201 on every node
CONFLICT = {"conda": ("numpy=1.26", "cuda-version=12.9"), "pip": ("torch==2.5.1+cu124",)}


def review(
    obj: dict[str, Any] | None, *, operation: str = "CREATE", old: dict[str, Any] | None = None, uid: str | None = None
) -> dict[str, Any]:
    """An AdmissionReview v1 request as kube-apiserver sends it (fields per the API reference)."""
    kind = {"group": "dataset.baizeai.io", "version": "v1alpha1", "kind": "Dataset"}
    resource = {"group": "dataset.baizeai.io", "version": "v1alpha1", "resource": "datasets"}
    meta = (obj or old or {}).get("metadata", {})
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": old,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_subset(target: Path, names: Sequence[str]) -> Path:
    """The nodes of FLEET with these names, as a JSON List (what `kubectl get nodes -o json` writes)."""
    doc = yaml.safe_load(FLEET.read_text())
    doc["items"] = [i for i in doc["items"] if i["metadata"]["name"] in names]
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, target)
    return target


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    ca: Path | None
    log: Path

    def context(self) -> ssl.SSLContext:
        assert self.ca is not None
        return ssl.create_default_context(cafile=str(self.ca))

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        if self.ca is None:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return http.client.HTTPSConnection("localhost", self.port, context=self.context(), timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = self.connection()
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def post_review(self, doc: dict[str, Any]) -> dict[str, Any]:
        status, body = self.request("POST", "/validate", json.dumps(doc).encode())
        assert status == 200, (status, body)
        out: dict[str, Any] = json.loads(body)
        return out

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(args: Sequence[str], *, workdir: Path, ca: Path | None, port: int | None = None) -> Server:
    """Start `python -m envresolve webhook ARGS` and wait until /readyz answers 200."""
    port = port or free_port()
    log = workdir / f"webhook-{port}.log"
    env = {**os.environ, "ENVRESOLVE_CACHE_DIR": str(workdir / "cache")}
    cmd = [sys.executable, "-m", "envresolve", "webhook", "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    server = Server(proc=proc, port=port, ca=ca, log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"webhook exited with {proc.returncode}: {log.read_text()}")
        try:
            status, _ = server.request("GET", "/readyz")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"webhook not ready in time: {log.read_text()}")
