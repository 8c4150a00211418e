"""Node facts from a Kubernetes Node manifest: GPU Feature Discovery and Node Feature Discovery labels.

Reads what `kubectl get node NAME -o yaml` (or `-o json`) prints, or a `List` of Nodes.

GPU Feature Discovery (GFD) labels, current form first, deprecated form accepted:

- driver: `nvidia.com/cuda.driver-version.full` or `.major/.minor/.revision`
  (deprecated `nvidia.com/cuda.driver.major/.minor/.rev`);
- the driver's CUDA level (not a toolkit): `nvidia.com/cuda.runtime-version.full` or `.major/.minor`
  (deprecated `nvidia.com/cuda.runtime.major/.minor`);
- GPUs: `nvidia.com/gpu.product`, `nvidia.com/gpu.compute.major/.minor`, `nvidia.com/gpu.memory` (MiB),
  `nvidia.com/gpu.count`;
- MIG: `nvidia.com/mig.strategy`, `nvidia.com/mig.capable`, `nvidia.com/mig-<profile>.count`.

GFD labels one GPU model per node, so a node loaded from labels has `gpu.count` identical GPUs; a
mixed-GPU node needs a facts file from `envresolve probe`.

Node Feature Discovery (NFD) labels: `feature.node.kubernetes.io/system-os_release.ID` and `.VERSION_ID`,
`kernel-version.full` (or `.major/.minor/.revision`), `cpu-cpuid.<FEATURE>`. NFD has no glibc label:
glibc and libstdc++ are inferred from the OS release (`envresolve.node.infer`).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from envresolve.diagnostics import Diagnostic, make
from envresolve.errors import InputError
from envresolve.limits import MAX_INT_DIGITS
from envresolve.node.facts import CpuFacts, DriverFacts, GpuFacts, NodeFacts, OsFacts, Provenance
from envresolve.node.microarch import LEVEL_FLAGS, level_from_flags

__all__ = ["is_kubernetes_obj", "node_from_manifest", "nodes_from_kubernetes"]

GFD = "nvidia.com/"
NFD = "feature.node.kubernetes.io/"
_ARCH = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64", "ppc64le": "ppc64le"}
_INT = re.compile(r"^[0-9]+$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_MIG_COUNT = re.compile(r"^nvidia\.com/mig-([0-9]+g\.[0-9]+gb[^/]*)\.count$")

#: NFD `cpu-cpuid.<NAME>` -> /proc/cpuinfo flag. NFD hides some common features by default
#: (its default attribute blacklist covers BMI1, BMI2, CMOV, CX16, F16C, LZCNT, MMX, POPCNT, SSE*, ...),
#: so the level is also derived from the visible features that imply them (see `_level_from_nfd`).
_NFD_FLAGS = {
    "AVX": "avx",
    "AVX2": "avx2",
    "FMA3": "fma",
    "BMI1": "bmi1",
    "BMI2": "bmi2",
    "F16C": "f16c",
    "LZCNT": "abm",
    "MOVBE": "movbe",
    "OSXSAVE": "xsave",
    "XSAVE": "xsave",
    "POPCNT": "popcnt",
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "SSE4": "sse4_1",
    "SSE42": "sse4_2",
    "CX16": "cx16",
    "LAHF": "lahf_lm",
    "AVX512F": "avx512f",
    "AVX512BW": "avx512bw",
    "AVX512CD": "avx512cd",
    "AVX512DQ": "avx512dq",
    "AVX512VL": "avx512vl",
}


def is_kubernetes_obj(obj: Any) -> bool:
    """True for a Kubernetes `Node` or `List`/`NodeList` object."""
    if not isinstance(obj, dict) or "apiVersion" not in obj:
        return False
    kind = obj.get("kind")
    return isinstance(kind, str) and kind in {"Node", "List", "NodeList"}


def nodes_from_kubernetes(obj: Any, *, origin: str) -> list[tuple[NodeFacts, list[Diagnostic]]]:
    """Every Node in a `Node` or `List` manifest. Raises InputError (ND202) when the shape is wrong."""
    if not isinstance(obj, dict):
        raise InputError(make("ND202", f"{origin}: a Kubernetes manifest is a mapping"))
    kind = obj.get("kind")
    if kind == "Node":
        return [node_from_manifest(obj, origin=origin)]
    if kind in {"List", "NodeList"}:
        items = obj.get("items")
        if not isinstance(items, list):
            raise InputError(make("ND202", f"{origin}: a {kind} needs an `items` list"))
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or item.get("kind", "Node") != "Node":
                raise InputError(make("ND202", f"{origin}: items[{i}] is not a Node"))
            out.append(node_from_manifest(item, origin=f"{origin}#items[{i}]"))
        if not out:
            raise InputError(make("ND202", f"{origin}: the {kind} holds no Nodes"))
        return out
    raise InputError(make("ND202", f"{origin}: kind {kind!r} is not a Node or List"))


def _labels(obj: dict[str, Any], origin: str) -> dict[str, str]:
    meta = obj.get("metadata", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise InputError(make("ND202", f"{origin}: metadata is not a mapping"))
    labels = meta.get("labels", {})
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise InputError(make("ND202", f"{origin}: metadata.labels is not a mapping"))
    out: dict[str, str] = {}
    for key, value in labels.items():
        if not isinstance(key, str) or isinstance(value, (dict, list)):
            raise InputError(make("ND202", f"{origin}: label {key!r} must map a string to a scalar value"))
        # YAML turns `true` into True and `12` into 12; Kubernetes labels are strings.
        out[key] = ("true" if value else "false") if isinstance(value, bool) else "" if value is None else str(value)
    return out


class _Reader:
    def __init__(self, labels: dict[str, str], subject: str) -> None:
        self.labels = labels
        self.subject = subject
        self.diags: list[Diagnostic] = []

    def bad(self, key: str, why: str) -> None:
        self.diags.append(
            make("ND205", f"label {key}={self.labels.get(key)!r} {why}; that fact is left out", subject=self.subject)
        )

    def integer(self, key: str) -> int | None:
        raw = self.labels.get(key)
        if raw is None:
            return None
        if not _INT.match(raw.strip()):
            self.bad(key, "is not an integer")
            return None
        if len(raw.strip()) > MAX_INT_DIGITS:  # before int() refuses it with a ValueError
            self.bad(key, f"has more than {MAX_INT_DIGITS} digits")
            return None
        return int(raw.strip())

    def version_from(self, full: str | None, parts: list[str], min_parts: int) -> str | None:
        if full is not None and full in self.labels:
            whole = self.labels[full].strip()
            if _VERSION.match(whole):
                return whole
            self.bad(full, "is not a version")
        present = [p for p in parts if p in self.labels]
        if not present:
            return None
        values: list[str | None] = []
        for key in parts:
            part = self.labels.get(key)
            if part is None:
                values.append(None)
            elif _INT.match(part.strip()):
                values.append(part.strip())
            else:
                self.bad(key, "is not an integer")
                values.append(None)
        if any(v is None for v in values[:min_parts]):
            return None
        text = [v for v in values if v is not None]
        if len(text) == 3:
            # the driver prints a two-digit revision ("535.104.05"); an unquoted YAML 05 arrives as 5
            text[2] = text[2].zfill(2)
        return ".".join(text)


def _pick(r: _Reader, what: str, current: str | None, deprecated: str | None) -> str | None:
    if current and deprecated and current != deprecated:
        r.diags.append(
            make(
                "ND205",
                f"the current ({current}) and deprecated ({deprecated}) GFD labels for the {what} disagree; "
                "using the current one",
                subject=r.subject,
            )
        )
    return current or deprecated


def _level_from_nfd(labels: dict[str, str]) -> int | None:
    prefix = NFD + "cpu-cpuid."
    cpuid = frozenset(k[len(prefix) :] for k, v in labels.items() if v == "true" and k.startswith(prefix))
    if not cpuid:
        return None
    return _level_from_cpuid(cpuid)


# A fleet repeats a handful of hardware and software combinations: the validated value objects below are
# built once per distinct combination and shared (they are frozen). The caches are bounded.


@functools.lru_cache(maxsize=256)
def _level_from_cpuid(cpuid: frozenset[str]) -> int | None:
    flags = {_NFD_FLAGS[n] for n in cpuid if n in _NFD_FLAGS} | set(LEVEL_FLAGS[1])  # x86-64 baseline
    # NFD hides these by default; every x86-64 CPU with AVX (Sandy Bridge, Bulldozer and later) has the v2
    # set, and every one with AVX2+FMA3 (Haswell, Excavator and later) has the v3 set.
    if "avx" in flags:
        flags |= LEVEL_FLAGS[2]
    if {"avx", "avx2", "fma"} <= flags:
        flags |= LEVEL_FLAGS[3]
    return level_from_flags(flags)


def node_from_manifest(obj: dict[str, Any], *, origin: str) -> tuple[NodeFacts, list[Diagnostic]]:
    """One Node manifest -> node facts (before glibc/libstdc++ inference) and label warnings."""
    labels = _labels(obj, origin)
    meta: dict[str, Any] = obj.get("metadata") or {}
    name = meta.get("name") if isinstance(meta.get("name"), str) else None
    raw_status = obj.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    raw_info = status.get("nodeInfo")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    r = _Reader(labels, name or origin)
    prov: dict[str, Provenance] = {}

    # OS and kernel (NFD), arch (well-known label or nodeInfo)
    os_id = labels.get(NFD + "system-os_release.ID")
    version_id = labels.get(NFD + "system-os_release.VERSION_ID")
    kernel = labels.get(NFD + "kernel-version.full") or r.version_from(
        None, [NFD + f"kernel-version.{p}" for p in ("major", "minor", "revision")], 2
    )
    if kernel is None and isinstance(info.get("kernelVersion"), str):
        kernel = info["kernelVersion"]
    if os_id or version_id:
        prov["os"] = Provenance.DECLARED
    if kernel:
        prov["kernel"] = Provenance.DECLARED
    arch_raw = labels.get("kubernetes.io/arch") or labels.get("beta.kubernetes.io/arch") or info.get("architecture")
    arch = _ARCH.get(str(arch_raw).lower()) if arch_raw else None
    if arch_raw and arch is None:
        r.bad("kubernetes.io/arch", "names an architecture envresolve does not know")
    level = _level_from_nfd(labels) if arch in (None, "x86_64") else None
    if arch or level:
        prov["cpu"] = Provenance.DECLARED

    # driver and its CUDA level (GFD, current and deprecated forms)
    drv = _pick(
        r,
        "driver version",
        r.version_from(
            GFD + "cuda.driver-version.full",
            [GFD + f"cuda.driver-version.{p}" for p in ("major", "minor", "revision")],
            2,
        ),
        r.version_from(None, [GFD + f"cuda.driver.{p}" for p in ("major", "minor", "rev")], 2),
    )
    cuda = _pick(
        r,
        "driver's CUDA level",
        r.version_from(
            GFD + "cuda.runtime-version.full", [GFD + f"cuda.runtime-version.{p}" for p in ("major", "minor")], 2
        ),
        r.version_from(None, [GFD + f"cuda.runtime.{p}" for p in ("major", "minor")], 2),
    )
    gpus = _gpus(r, labels, status)
    # GFD and the device plugin see GPUs only through the driver: GPU labels or an `nvidia.com/gpu` capacity
    # without driver labels mean a driver of unknown version, not "no driver"
    seen = bool(gpus) or _gpu_capacity(status) > 0
    driver = _driver_facts(drv, cuda) if drv or cuda or seen else None
    if driver:
        prov["driver"] = Provenance.DECLARED if drv or cuda else Provenance.INFERRED
        if cuda:
            prov["cuda"] = Provenance.DECLARED
        if not (drv or cuda):
            r.diags.append(
                make(
                    "ND230",
                    "the node has NVIDIA GPUs (GFD labels or an nvidia.com/gpu capacity) but no driver label: read "
                    "as a driver whose version and CUDA level are unknown",
                    subject=r.subject,
                )
            )

    if gpus:
        prov["gpus"] = Provenance.DECLARED
    node = NodeFacts(
        name=name,
        source=origin,
        os=_os_facts(os_id, version_id, kernel),
        cpu=_cpu_facts(arch or "x86_64", level) if arch or level else _cpu_facts(None, None),
        driver=driver,
        gpus=gpus,
        provenance=prov,
    )
    return node, r.diags


def _gpus(r: _Reader, labels: dict[str, str], status: dict[str, Any]) -> tuple[GpuFacts, ...]:
    major = r.integer(GFD + "gpu.compute.major")
    minor = r.integer(GFD + "gpu.compute.minor")
    product = labels.get(GFD + "gpu.product")
    if major is None or minor is None:
        if product:
            r.diags.append(
                make(
                    "ND205", "GFD labels name a GPU but not its compute capability; no GPU is listed", subject=r.subject
                )
            )
        return ()
    count = r.integer(GFD + "gpu.count")
    if count is None:
        raw_cap = status.get("capacity")
        cap: dict[str, Any] = raw_cap if isinstance(raw_cap, dict) else {}
        raw = cap.get("nvidia.com/gpu")
        count = int(raw) if isinstance(raw, (int, str)) and _INT.match(str(raw)) else 1
    memory = r.integer(GFD + "gpu.memory")
    strategy = labels.get(GFD + "mig.strategy", "").lower()
    capable = labels.get(GFD + "mig.capable", "").lower()
    name = product or "unknown NVIDIA GPU"
    mig: bool | None = None
    if capable == "false":
        mig = False
    mig_counts = [r.integer(k) for k in labels if _MIG_COUNT.match(k)]
    if strategy == "single" and "-MIG-" in name:
        name = name.split("-MIG-")[0]
        mig, memory = True, None
        r.diags.append(
            make(
                "ND208",
                f"MIG 'single' strategy: {count} GPU entries stand for MIG devices of {name}, not physical GPUs",
                subject=r.subject,
            )
        )
    elif strategy == "mixed":
        mig = any((c or 0) > 0 for c in mig_counts)
    if count > 4096:
        r.bad(GFD + "gpu.count", "is implausibly large")
        return ()
    return _gpu_facts(name, f"{major}.{minor}", memory, mig, count)


@functools.lru_cache(maxsize=4096)
def _os_facts(os_id: str | None, version_id: str | None, kernel: str | None) -> OsFacts:
    return OsFacts(id=os_id, version_id=version_id, kernel=kernel)


@functools.lru_cache(maxsize=64)
def _cpu_facts(arch: str | None, level: int | None) -> CpuFacts:
    return CpuFacts() if arch is None else CpuFacts(arch=arch, microarch_level=level)


def _gpu_capacity(status: dict[str, Any]) -> int:
    """`status.capacity["nvidia.com/gpu"]` as a count (0 when absent or not a count)."""
    cap = status.get("capacity")
    raw = cap.get("nvidia.com/gpu") if isinstance(cap, dict) else None
    return int(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) and _INT.match(str(raw)) else 0


@functools.lru_cache(maxsize=1024)
def _driver_facts(version: str | None, cuda: str | None) -> DriverFacts:
    return DriverFacts(version=version, cuda=cuda)


@functools.lru_cache(maxsize=1024)
def _gpu_facts(name: str, cc: str, memory: int | None, mig: bool | None, count: int) -> tuple[GpuFacts, ...]:
    return tuple(
        GpuFacts(index=i, name=name, compute_capability=cc, memory_mib=memory, mig_enabled=mig) for i in range(count)
    )
