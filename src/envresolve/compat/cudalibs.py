"""CUDA library rules: mixed CUDA majors (CP160), cuDNN vs CUDA and driver (CP170), NCCL vs CUDA (CP171)."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve.compat.common import emit, mm, pkg_label
from envresolve.compat.facts import CudaClaim, env_cuda_claims, runtime_cuda
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, Evidence
from envresolve.matrices import Sourced, cudnn_nccl_matrix, cudnn_rows
from envresolve.node.facts import NodeFacts

__all__ = ["check_cudnn", "check_mixed_majors", "check_nccl", "vendor_pin"]

_SUFFIX = re.compile(r"-cu(?P<major>1[0-9])$")


def check_mixed_majors(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP160: packages built for different CUDA majors in one environment."""
    by_major: dict[int, list[CudaClaim]] = {}
    for claim in env_cuda_claims(env):
        by_major.setdefault(claim.major, []).append(claim)
    if len(by_major) < 2:
        return []
    parts = []
    evidence: list[Evidence] = []
    for major, claims in sorted(by_major.items()):
        names = sorted({c.package.name for c in claims})
        parts.append(f"CUDA {major} ({', '.join(names)})")
        evidence.extend(c.evidence for c in claims[:3])
    majors = sorted(by_major)
    newest = majors[-1]
    keep = sorted({c.package.name for c in by_major[newest]})
    return [
        emit(
            "CP160",
            f"the environment mixes {' and '.join(parts)}",
            subject=None,
            evidence=evidence,
            hint=f"pick one CUDA major for every package: e.g. move everything to CUDA {newest} (as {', '.join(keep)}) "
            f"or pin the CUDA {majors[0]} builds throughout",
            node=node,
        )
    ]


def _cudnn_pkg(pkg: Package) -> tuple[int | None, str] | None:
    name = str(canonicalize_name(pkg.name))
    if pkg.ecosystem == "pypi" and name.startswith("nvidia-cudnn"):
        match = _SUFFIX.search(name)
        return (int(match["major"]) if match else 13), pkg.version
    if pkg.ecosystem == "conda" and pkg.name == "cudnn":
        return None, pkg.version
    return None


_PIP_PIN = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*(?P<version>[^\s,;]+)\s*(?:;|$)"
)


def vendor_pin(env: Environment, pkg: Package) -> Package | None:
    """The package of the environment whose own declared dependencies pin `pkg` at exactly this version (torch's
    `nvidia-cudnn-cu13==9.x` Requires-Dist, a conda record's depends), if any.

    A vendor's own pinned combination is what the vendor builds and tests; a matrix rule never fails it."""
    name = canonicalize_name(pkg.name)
    own = pkg.version.split("+", 1)[0]
    for other in env.packages:
        if other is pkg or not other.depends:
            continue
        for dep in other.depends:
            if pkg.ecosystem == "pypi" and other.ecosystem == "pypi":
                match = _PIP_PIN.match(dep)
                if match and canonicalize_name(match["name"]) == name and match["version"].split("+", 1)[0] == own:
                    return other
            elif pkg.ecosystem == "conda" and other.ecosystem == "conda":
                parts = dep.split()
                if parts and parts[0] == pkg.name and len(parts) > 1:
                    try:
                        if _conda_spec_ok(parts[1], Version(own)) and _pins(parts[1]):
                            return other
                    except InvalidVersion:
                        continue
    return None


def _pins(spec: str) -> bool:
    """Whether a conda version constraint bounds the version on both sides (or names it)."""
    return ("<" in spec and ">" in spec) or not any(op in spec for op in "<>")


def check_cudnn(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP170: the cuDNN build against the environment's CUDA runtime and the node's driver.

    A cuDNN version missing from the sourced table is unknown (no verdict); a cuDNN that another package of the
    environment pins exactly (torch's Requires-Dist) is not judged against the CUDA runtime."""
    runtime = runtime_cuda(env)
    out: list[Diagnostic] = []
    for pkg in env.packages:
        got = _cudnn_pkg(pkg)
        if got is None:
            continue
        built_major, version = got
        rows = cudnn_rows(version)
        if not rows:
            continue
        pinned_by = vendor_pin(env, pkg)
        major = built_major if built_major is not None else (runtime.major if runtime else None)
        if major is None:
            continue
        row = next((r for r in rows if r.row.cuda_major == major), None)
        label = pkg_label(pkg)
        if row is None and pinned_by is None:
            out.append(
                emit(
                    "CP170",
                    f"{label}: no cuDNN {rows[0].row.cudnn} build for CUDA {major} is listed",
                    subject=pkg.name,
                    evidence=[r.evidence(f"cuDNN {r.row.cudnn} for CUDA {r.row.cuda_major}.x") for r in rows],
                    hint="use a cuDNN release built for the environment's CUDA major",
                    node=node,
                )
            )
            continue
        if row is None:
            continue
        supported = ", ".join(row.row.cuda)
        fact = f"cuDNN {row.row.cudnn} for CUDA {major}.x supports CUDA {supported}, driver >= {row.row.min_driver}"
        if runtime is not None and runtime.minor is not None and pinned_by is None:
            rt = f"{runtime.major}.{runtime.minor}"
            if runtime.major != major or rt not in row.row.cuda:
                out.append(
                    emit(
                        "CP170",
                        f"{label} (cuDNN {row.row.cudnn} for CUDA {major}) does not support the environment's "
                        f"CUDA {rt}",
                        subject=pkg.name,
                        evidence=[row.evidence(fact), runtime.evidence],
                        hint=f"use nvidia-cudnn-cu{runtime.major} (a cuDNN build for CUDA {rt})"
                        if runtime.major != major
                        else f"use a cuDNN release that lists CUDA {rt}",
                        node=node,
                    )
                )
                continue
        if (
            node.driver is not None
            and node.driver_version is not None
            and node.driver_version < Version(row.row.min_driver)
        ):
            out.append(
                emit(
                    "CP170",
                    f"{label} needs driver >= {row.row.min_driver}, the node has {node.driver.version}",
                    subject=pkg.name,
                    evidence=[
                        row.evidence(fact),
                        Evidence(fact=f"node driver {node.driver.version}", source=node.source),
                    ],
                    hint=f"upgrade the driver to >= {row.row.min_driver}",
                    node=node,
                )
            )
    return out


_CONDA_CUDA_DEP = re.compile(r"^cuda-version\s+(?P<spec>\S+)$")


def check_nccl(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP171: the NCCL build's CUDA major against the environment's CUDA runtime."""
    runtime = runtime_cuda(env)
    if runtime is None:
        return []
    m = cudnn_nccl_matrix()
    suffix_row = next(r for r in m.nccl if r.cuda_from == "suffix")
    depends_row = next(r for r in m.nccl if r.cuda_from == "depends")
    out: list[Diagnostic] = []
    for pkg in env.packages:
        name = str(canonicalize_name(pkg.name))
        label = pkg_label(pkg)
        if pkg.ecosystem == "pypi" and name.startswith("nvidia-nccl"):
            match = _SUFFIX.search(name)
            if not match or int(match["major"]) == runtime.major:
                continue
            src = Sourced(suffix_row, m)
            out.append(
                emit(
                    "CP171",
                    f"{label} is built for CUDA {match['major']}, the environment's CUDA runtime is {runtime.version}",
                    subject=pkg.name,
                    evidence=[src.evidence(f"{pkg.name} names CUDA {match['major']} in its suffix"), runtime.evidence],
                    hint=f"use nvidia-nccl-cu{runtime.major}",
                    node=node,
                )
            )
        elif pkg.ecosystem == "conda" and pkg.name == "nccl" and runtime.minor is not None:
            rt = Version(f"{runtime.major}.{runtime.minor}")
            for dep in pkg.depends:
                dm = _CONDA_CUDA_DEP.match(dep.strip())
                if not dm:
                    continue
                if not _conda_spec_ok(dm["spec"], rt):
                    src = Sourced(depends_row, m)
                    out.append(
                        emit(
                            "CP171",
                            f"{label} depends on cuda-version {dm['spec']}, the environment's CUDA runtime is "
                            f"{runtime.version}",
                            subject=pkg.name,
                            evidence=[
                                src.evidence(f"{pkg.name} depends on cuda-version {dm['spec']}"),
                                runtime.evidence,
                            ],
                            hint=f"use an nccl build for CUDA {runtime.version}",
                            node=node,
                        )
                    )
    return out


def _conda_spec_ok(spec: str, version: Version) -> bool:
    """A small reader of conda version constraints like '>=12.2a.0,<13.0a0' (pre-release markers dropped)."""
    for part in spec.split(","):
        match = re.match(r"^(>=|<=|==|>|<|=)?([0-9][0-9.]*)", part.strip())
        if not match:
            return True  # cannot read it: no verdict
        op, raw = match.group(1) or "==", match.group(2).rstrip(".")
        try:
            bound = Version(raw)
        except InvalidVersion:
            return True  # cannot read it: no verdict
        if op == ">=" and not version >= bound:
            return False
        if op == ">" and not version > bound:
            return False
        if op == "<" and not version < bound:
            return False
        if op == "<=" and not version <= bound:
            return False
        if op in ("==", "=") and mm(str(version)) != mm(raw):
            return False
    return True
