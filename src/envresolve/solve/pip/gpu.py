"""GPU awareness inside the pip resolver: what CUDA a candidate needs, and the default candidate filters.

A candidate's CUDA requirement is read from, in this order of strength (the highest found wins):

- a `+cuXYZ` local version (`2.1.0+cu121` -> 12.1);
- the index it came from, when a path segment is `cuXYZ` (a `.../whl/cu128` index -> 12.8);
- its own name and version when it is an NVIDIA CUDA component (`nvidia-cuda-runtime-cu12 12.8.90` -> 12.8,
  CUDA 13's unsuffixed `nvidia-cuda-runtime 13.0.96` -> 13.0);
- its `Requires-Dist` on NVIDIA CUDA components (`nvidia-cublas-cu12==12.1.3.1` -> 12.1,
  `nvidia-cudnn-cu13` -> 13.0).

Only components whose version follows the CUDA toolkit's (runtime, nvrtc, cupti, nvjitlink, nvtx, cublas,
nvcc, cccl; and the `cuda-toolkit` meta package) give a minor version; any other `-cuNN` suffix gives NN.0.

The driver rule (which CUDA levels a driver runs) is `envresolve.compat`'s; the binary facts (SASS/PTX,
glibc, GLIBCXX, cxx11 ABI) are judged by `envresolve.compat.candidate_verdict`. This module only gathers
the facts and turns verdicts into `Rejection`s.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve.diagnostics import Evidence, Severity
from envresolve.solve.pip.model import CandidateInfo, CudaNeed, Rejection

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from envresolve.compat.model import Environment
    from envresolve.node.facts import NodeFacts
    from envresolve.solve.pip.model import CandidateFilter, RejectionReason

__all__ = [
    "binary_facts_filter",
    "cuda_driver_filter",
    "cuda_from_label",
    "cuda_need",
    "default_filters",
    "local_variant",
]

_NVIDIA = re.compile(r"^nvidia-(?P<comp>[a-z0-9-]+?)(?:-cu(?P<major>\d+))?$")
# CUDA components whose package version is the CUDA toolkit version (X.Y.patch).
_TOOLKIT_VERSIONED = frozenset(
    {"cuda-runtime", "cuda-nvrtc", "cuda-cupti", "nvjitlink", "nvtx", "cublas", "cuda-nvcc", "cuda-cccl"}
)


def cuda_from_label(label: str) -> Version | None:
    """'cu121' -> 12.1, 'cu118' -> 11.8, 'cu130' -> 13.0, 'cu92' -> 9.2; None for anything else ('cpu').

    >>> str(cuda_from_label("cu128"))
    '12.8'
    """
    m = re.fullmatch(r"cu(\d+)", label)
    if not m or len(m.group(1)) < 2:
        return None
    digits = m.group(1)
    return Version(f"{int(digits[:-1])}.{digits[-1]}")


def local_variant(version: str) -> str | None:
    """The local version label ('2.1.0+cu121' -> 'cu121'), or None."""
    try:
        return Version(version).local
    except InvalidVersion:
        return None


def _min_version(req: Requirement) -> Version | None:
    best: Version | None = None
    for spec in req.specifier:
        if spec.operator in ("==", "===", ">=", "~=", ">") and "*" not in spec.version:
            try:
                v = Version(spec.version)
            except InvalidVersion:
                continue
            if best is None or v > best:
                best = v
    return best


def _component_need(name: str, version: Version | None) -> Version | None:
    """The CUDA level an NVIDIA component at `version` (or any version, None) means, if it is one."""
    m = _NVIDIA.match(canonicalize_name(name))
    if m is None:
        if canonicalize_name(name) == "cuda-toolkit" and version is not None and len(version.release) >= 2:
            return Version(f"{version.release[0]}.{version.release[1]}")
        return None
    comp, major = m.group("comp"), m.group("major")
    if major is not None:
        if comp in _TOOLKIT_VERSIONED and version is not None and version.release[0] == int(major):
            return Version(f"{version.release[0]}.{version.release[1] if len(version.release) > 1 else 0}")
        return Version(f"{int(major)}.0")
    # CUDA 13 dropped the -cuNN suffix for toolkit components: the version says the level.
    if comp in _TOOLKIT_VERSIONED and version is not None and version.release[0] >= 13:
        return Version(f"{version.release[0]}.{version.release[1] if len(version.release) > 1 else 0}")
    return None


def cuda_need(
    name: str,
    version: str,
    requires_dist: Sequence[str] = (),
    index: str | None = None,
    *,
    markers: dict[str, str] | None = None,
) -> CudaNeed | None:
    """The highest CUDA level a candidate needs, with where it was read; None for no CUDA need.

    `markers` (a PEP 508 environment) drops dependencies whose markers do not apply to the node.
    """
    found: list[tuple[Version, str]] = []
    variant = local_variant(version)
    if variant:
        v = cuda_from_label(variant)
        if v is not None:
            found.append((v, f"local version +{variant}"))
    if index:
        for seg in index.rstrip("/").split("/")[-3:]:
            v = cuda_from_label(seg)
            if v is not None:
                found.append((v, f"index {index}"))
                break
    try:
        own = _component_need(name, Version(version))
    except InvalidVersion:
        own = None
    if own is not None:
        found.append((own, f"{canonicalize_name(name)} {version} is a CUDA {own} component"))
    for line in requires_dist:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and markers is not None:
            try:
                if not req.marker.evaluate({**markers, "extra": ""}):
                    continue
            except Exception:
                pass
        need = _component_need(req.name, _min_version(req))
        if need is not None:
            found.append((need, f"dependency {line.split(';')[0].strip()}"))
    if not found:
        return None
    best = max(found, key=lambda t: t[0])
    return CudaNeed(version=f"{best[0].major}.{best[0].minor}", source=best[1])


def _driver_level(node: NodeFacts) -> Version | None:
    if node.driver is None:
        return None
    if node.driver.cuda:
        return Version(node.driver.cuda)
    return None


def cuda_driver_filter(candidate: CandidateInfo, node: NodeFacts, env: Environment) -> list[Rejection]:
    """Reject a candidate whose CUDA need is above what the node's driver runs.

    The judgement is `envresolve.compat`'s CUDA-vs-driver rule: across CUDA majors a driver never runs a
    newer major; within a major, minor-version compatibility applies (CUDA 11 and later), so a 12.8 build
    runs on a driver at CUDA 12.2. A node without an NVIDIA driver is not judged: CUDA wheels install and
    import there (they fall back to the CPU), so nothing is rejected.
    """
    if candidate.cuda is None:
        return []
    level = _driver_level(node)
    if level is None:
        return []
    need = Version(candidate.cuda.version)
    runs, why = _driver_runs(need, level, node)
    if runs:
        return []
    driver = node.driver.version if node.driver and node.driver.version else "unknown"
    return [
        Rejection(
            name=candidate.name,
            version=candidate.version,
            reason="cuda-driver",
            code="RS204",
            message=(
                f"needs CUDA {need} ({candidate.cuda.source}); the driver {driver} supports CUDA {level}"
                + (f": {why}" if why else "")
            ),
            node=node.label,
            filename=candidate.filename,
            evidence=(
                Evidence(fact=f"CUDA {need} needed", source=candidate.cuda.source),
                Evidence(fact=f"driver {driver}, CUDA {level}", source=node.source or node.label),
            ),
        )
    ]


def _driver_runs(need: Version, level: Version, node: NodeFacts) -> tuple[bool, str]:
    """Does a driver at CUDA `level` run code built for CUDA `need`? Delegates to compat when it knows."""
    try:
        from envresolve.compat import cuda_runtime_supported  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        cuda_runtime_supported = None
    if cuda_runtime_supported is not None:
        verdict = cuda_runtime_supported(str(need), node)
        if isinstance(verdict, tuple):
            return bool(verdict[0]), str(verdict[1])
        return bool(verdict), ""
    if need.major > level.major:
        return False, f"a CUDA {level.major} driver cannot run CUDA {need.major} code"
    if need.major == level.major and need > level and need.major < 11:
        return False, "minor-version compatibility starts with CUDA 11"
    return True, ""


_CP_REASONS: dict[str, RejectionReason] = {
    "compute-capability": "gpu-arch",
    "glibc": "glibc",
    "libstdcxx": "glibcxx",
    "cxx-abi": "cxx-abi",
    "companion": "companion",
    "driver": "cuda-driver",
}


def binary_facts_filter(candidate: CandidateInfo, node: NodeFacts, env: Environment) -> list[Rejection]:
    """Reject a candidate whose known binary facts fail the node (SASS/PTX, glibc, GLIBCXX, cxx11 ABI).

    Runs only when binary facts are known or cached; the verdicts are `envresolve.compat.candidate_verdict`.
    """
    if candidate.binary is None:
        return []
    try:
        from envresolve.compat import candidate_verdict  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return []
    from envresolve.compat.model import Package

    pkg = Package(
        name=candidate.name,
        version=candidate.version,
        ecosystem="pypi",
        channel=candidate.index,
        url=candidate.url,
        depends=candidate.requires_dist,
        binary=candidate.binary,
    )
    out: list[Rejection] = []
    for diag in candidate_verdict(pkg, node, env):
        if diag.severity is not Severity.ERROR:
            continue
        out.append(
            Rejection(
                name=candidate.name,
                version=candidate.version,
                reason=_CP_REASONS.get(diag.category.value, "compat"),
                code=diag.code,
                message=diag.message,
                node=node.label,
                filename=candidate.filename,
                evidence=diag.evidence,
            )
        )
    return out


def default_filters() -> list[CandidateFilter]:
    """The filters `resolve_pip` uses unless told otherwise."""
    return [cuda_driver_filter, binary_facts_filter]


def run_filters(
    filters: Iterable[CandidateFilter], candidate: CandidateInfo, nodes: Sequence[NodeFacts], env: Environment
) -> list[Rejection]:
    """Every rejection any filter makes for any node."""
    out: list[Rejection] = []
    for node in nodes:
        for f in filters:
            out.extend(f(candidate, node, env))
    return out
