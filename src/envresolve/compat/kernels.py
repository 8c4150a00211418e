"""Compute-capability rules: does every package with GPU code have SASS or usable PTX for every GPU (CP110, CP111)."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from packaging.version import Version

from envresolve.compat.common import TORCH_NAMES, emit, gpu_label, mm, pkg_label
from envresolve.compat.facts import DeviceCode, device_code
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, Evidence
from envresolve.matrices import arch_row, gpu_by_name, pytorch_matrix, rule
from envresolve.node.facts import GpuFacts, NodeFacts

__all__ = ["check_kernels", "ptx_runs", "sass_runs"]


def _tegra(sm: int) -> bool:
    row = arch_row(sm)
    return bool(row and row.row.tegra)


def sass_runs(target_sm: int, variant: str, device_sm: int, *, device_tegra: bool = False) -> bool:
    """Whether a cubin for sm_<target><variant> runs on a device of SM `device_sm`.

    Same major and device minor not lower; 'a' targets only on their exact SM; Tegra parts (and Tegra cubins)
    only on an exact match."""
    if variant == "a":
        return target_sm == device_sm
    if target_sm // 10 != device_sm // 10:
        return False
    if device_tegra or _tegra(target_sm):
        return target_sm == device_sm
    return target_sm % 10 <= device_sm % 10


def ptx_runs(target_sm: int, variant: str, device_sm: int) -> bool:
    """Whether compute_<target><variant> PTX can be JIT-compiled for a device of SM `device_sm` (ISA aside)."""
    if variant == "a":
        return target_sm == device_sm
    if variant == "f":
        return target_sm // 10 == device_sm // 10 and target_sm % 10 <= device_sm % 10
    return (target_sm // 10, target_sm % 10) <= (device_sm // 10, device_sm % 10)


def _is_tegra_gpu(gpu: GpuFacts) -> bool:
    row = gpu_by_name(gpu.name)
    return row.row.tegra if row is not None else _tegra(gpu.sm)


def check_kernels(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP110/CP111 for every package with known device code and every GPU model of the node.

    Identical GPUs (same name and compute capability) are checked once and named together."""
    if not node.gpus:
        return []
    groups: dict[tuple[str, str], list[GpuFacts]] = {}
    for gpu in node.gpus:
        groups.setdefault((gpu.name, gpu.compute_capability), []).append(gpu)
    out: list[Diagnostic] = []
    for pkg in env.packages:
        code = device_code(pkg)
        if code is None:
            continue
        for gpus in groups.values():
            out.extend(_check_gpu(code, gpus, node))
    return out


def _check_gpu(code: DeviceCode, gpus: list[GpuFacts], node: NodeFacts) -> list[Diagnostic]:
    pkg = code.package
    gpu = gpus[0]
    tegra = _is_tegra_gpu(gpu)
    dev = gpu.sm
    if any(sass_runs(sm, v, dev, device_tegra=tegra) for sm, v in code.sass):
        return []
    label = pkg_label(pkg)
    where = gpu_label(*gpus)
    sass_rule = rule("sass-tegra" if tegra else "sass-same-major")
    ev = [code.evidence, Evidence(fact=f"{where} (node facts)", source=node.source)]
    ev.append(sass_rule.evidence(sass_rule.row.text))
    usable_ptx = [(sm, v) for sm, v in code.ptx if ptx_runs(sm, v, dev)]
    if usable_ptx:
        ptx_rule = rule("ptx-jit")
        best = max(usable_ptx)
        driver_cuda = node.cuda_driver_version
        producer = mm(code.ptx_toolkit) if code.ptx_toolkit else None
        if driver_cuda is not None and producer is not None and Version(f"{producer[0]}.{producer[1]}") > driver_cuda:
            ev.append(ptx_rule.evidence(ptx_rule.row.text))
            return [
                emit(
                    "CP110",
                    f"{label} has no SASS for {where}, and its compute_{best[0]}{best[1]} PTX (CUDA "
                    f"{code.ptx_toolkit}) is newer than the driver's CUDA {node.driver.cuda if node.driver else '?'}, "
                    "which cannot JIT it",
                    subject=pkg.name,
                    evidence=ev,
                    hint=_hint(pkg, gpu) or f"upgrade the driver to one supporting CUDA {code.ptx_toolkit}",
                    node=node,
                )
            ]
        ev.append(ptx_rule.evidence(ptx_rule.row.text))
        known = "" if driver_cuda is not None and producer is not None else " (the driver's PTX ISA support is unknown)"
        return [
            emit(
                "CP111",
                f"{label} runs on {where} only by JIT-compiling compute_{best[0]}{best[1]} PTX at first launch{known}",
                subject=pkg.name,
                evidence=ev,
                hint=_hint(pkg, gpu) or "expect a slow first launch; a build with SASS for this GPU avoids it",
                node=node,
            )
        ]
    return [
        emit(
            "CP110",
            f"{label} has no kernel for {where}: no SASS for sm_{dev} and no usable PTX",
            subject=pkg.name,
            evidence=ev,
            hint=_hint(pkg, gpu)
            or f"use a build of {pkg.name} compiled for compute capability {gpu.compute_capability}",
            node=node,
        )
    ]


def _hint(pkg: Package, gpu: GpuFacts) -> str | None:
    """For torch: the nearest published variant that still ships kernels for this GPU."""
    if str(canonicalize_name(pkg.name)) not in TORCH_NAMES:
        return None
    want = gpu.sm
    base = mm(pkg.version)
    releases = sorted(pytorch_matrix().rows, key=lambda r: Version(r.version))
    index = {mm(r.version): i for i, r in enumerate(releases)}
    here = index.get(base, len(releases))
    # the same release first, then the nearest releases (newer first on ties)
    ordered = sorted(releases, key=lambda r: (abs(index[mm(r.version)] - here), -index[mm(r.version)]))
    for rel in ordered:
        for var in sorted(rel.variants, key=lambda v: Version(v.cuda), reverse=True):
            sass = [_split(a) for a in var.archs]
            if any(sass_runs(sm, v, want) for sm, v in sass):
                ships = f"sm_{want}" if any(sm == want for sm, _ in sass) else "compatible"
                return f"torch {rel.latest_patch} cu{var.cuda.replace('.', '')} still ships {ships} kernels"
    return None


def _split(target: str) -> tuple[int, str]:
    variant = target[-1] if target[-1] in "af" else ""
    major, minor = target.rstrip("af").split(".")
    return int(major) * 10 + int(minor), variant
