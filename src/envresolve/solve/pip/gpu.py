"""GPU awareness inside the pip resolver: what CUDA a candidate needs, and the default candidate filters.

A candidate's CUDA requirement is read from, in this order of strength (the highest found wins):

- a `+cuXYZ` local version (`2.1.0+cu121` -> 12.1);
- the index it came from, when a path segment is `cuXYZ` (a `.../whl/cu128` index -> 12.8);
- its own name and version when it is an NVIDIA CUDA component (`nvidia-cuda-runtime-cu12 12.8.90` -> 12.8,
  CUDA 13's unsuffixed `nvidia-cuda-runtime 13.0.96` -> 13.0, `nvidia-cudnn-cu12` -> 12);
- its `Requires-Dist` on NVIDIA CUDA components (`nvidia-cuda-runtime-cu12==12.1.105` -> 12.1,
  `nvidia-cudnn-cu13` -> 13).

Which package names pin CUDA, and whether their version or their suffix says the level, is the
`cuda_packages.yaml` matrix (`envresolve.matrices.cuda_of_package_name`).

Which CUDA levels a driver runs comes from `cuda_drivers.yaml` (the CUDA-to-driver table, minor-version
compatibility floors); the binary facts (SASS/PTX, glibc, GLIBCXX, cxx11 ABI) are judged by
`envresolve.compat.candidate_verdict` when MATRIX's rules provide it. This module gathers the facts and
turns verdicts into `Rejection`s.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve.diagnostics import Evidence, Severity
from envresolve.solve.pip.model import CandidateInfo, CudaNeed, Rejection

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from envresolve.binary.model import ArtifactReport
    from envresolve.compat.model import Environment, Package
    from envresolve.node.facts import NodeFacts
    from envresolve.solve.pip.model import CandidateFilter, RejectionReason

__all__ = [
    "binary_facts_filter",
    "cached_binary_facts",
    "candidate_package",
    "companion_pairing",
    "cuda_driver_filter",
    "cuda_from_label",
    "cuda_need",
    "cxx_abi_of",
    "default_filters",
    "judge_filter",
    "local_variant",
    "torch_cxx_abi",
]


@functools.lru_cache(maxsize=8192)
def parse_requirement(line: str) -> Requirement | None:
    """A Requires-Dist line as a `Requirement` (memoised: the same lines come back for every candidate), or None."""
    head, semicolon, marker = line.partition(";")
    if semicolon and "@" not in head:
        # `name[extras] specifiers ; marker`: the grammar splits at the first semicolon, so the two halves parse
        # on their own, and both repeat across lines (one marker per extra, one head per extra that needs it):
        # parsing each distinct half once is much cheaper than parsing every line whole.
        base, parsed_marker = _parse_head(head), _parse_marker(marker)
        if base is not None and parsed_marker is not None:
            req = Requirement.__new__(Requirement)
            req.name, req.url, req.extras = base.name, base.url, set(base.extras)
            req.specifier, req.marker = base.specifier, parsed_marker
            return req
    try:
        return Requirement(line)
    except InvalidRequirement:
        return None


@functools.lru_cache(maxsize=4096)
def _parse_head(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


@functools.lru_cache(maxsize=4096)
def _parse_marker(text: str) -> Marker | None:
    try:
        return Marker(text)
    except InvalidMarker:
        return None


@functools.lru_cache(maxsize=8192)
def _dependency(line: str, markers: tuple[tuple[str, str], ...] | None) -> tuple[str, Version | None] | None:
    """(name, lowest version it allows) of a Requires-Dist line that applies to the marker environment (all do
    with `markers=None`); None when the line does not parse or its marker rules it out. Memoised: the releases
    of a project repeat most of their lines, and every judged release is read."""
    req = parse_requirement(line)
    if req is None:
        return None
    if req.marker is not None and markers is not None:
        try:
            if not req.marker.evaluate({**dict(markers), "extra": ""}):
                return None
        except Exception:
            pass
    return req.name, _min_version(req)


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


def _component_need(name: str, version: Version | None) -> tuple[Version, str] | None:
    """The CUDA level an NVIDIA component means (matrix `cuda_packages.yaml`), with the row's citation."""
    from envresolve.matrices import cuda_of_package_name

    found = cuda_of_package_name(name, str(version) if version is not None else "", "pypi")
    if found is None:
        return None
    level, row = found
    try:
        return Version(level), row.citation
    except InvalidVersion:
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
        found.append((own[0], f"{canonicalize_name(name)} {version} is a CUDA {own[0]} component"))
    mkey = tuple(sorted(markers.items())) if markers is not None else None
    for line in requires_dist:
        dep = _dependency(line, mkey)
        if dep is None:
            continue
        need = _component_need(*dep)
        if need is not None:
            found.append((need[0], f"dependency {line.split(';')[0].strip()}"))
    if not found:
        return None
    # The most precise of the highest: 12.8 beats 12 (a suffix only says the major).
    best = max(found, key=lambda t: (t[0], len(t[0].release)))
    level = ".".join(str(p) for p in best[0].release[:2])
    return CudaNeed(version=level, source=best[1])


def cuda_driver_filter(candidate: CandidateInfo, node: NodeFacts, env: Environment) -> list[Rejection]:
    """Reject a candidate whose CUDA need is above what the node's driver runs.

    A driver runs CUDA X.Y when its own CUDA level is at least X.Y (or, with only a driver version known,
    when it is at least X.Y's minimum driver in `cuda_drivers.yaml`), or through minor-version
    compatibility: inside major X, any driver at or above X's floor (`minor_version_compat`). A newer major
    always needs that major's driver. A node without an NVIDIA driver is not judged: CUDA wheels install and
    import there (they fall back to the CPU), so nothing is rejected.
    """
    if candidate.cuda is None or node.driver is None:
        return []
    need = Version(candidate.cuda.version)
    verdict = driver_runs(need, node)
    if verdict is None or verdict[0]:
        return []
    _ok, why, evidence = verdict
    driver = node.driver.version or "unknown"
    level = node.driver.cuda or "unknown"
    return [
        Rejection(
            name=candidate.name,
            version=candidate.version,
            reason="cuda-driver",
            code="RS204",
            message=f"needs CUDA {need} ({candidate.cuda.source}); the driver {driver} supports CUDA {level}: {why}",
            node=node.label,
            filename=candidate.filename,
            evidence=(
                Evidence(fact=f"CUDA {need} needed", source=candidate.cuda.source),
                Evidence(fact=f"driver {driver}, CUDA {level}", source=node.source or node.label),
                *evidence,
            ),
        )
    ]


def driver_runs(need: Version, node: NodeFacts) -> tuple[bool, str, list[Evidence]] | None:
    """Does the node's driver run code built for CUDA `need`? (ok, why, evidence); None when unknown."""
    from envresolve.matrices import cuda_min_driver, minor_compat_floor, rule

    level = node.cuda_driver_version
    driver = node.driver_version
    mm = Version(f"{need.major}.{need.minor}")
    if level is not None and Version(f"{level.major}.{level.minor}") >= mm:
        return True, "", []
    ga = cuda_min_driver(str(mm))
    if driver is not None and ga is not None and driver >= Version(ga.row.min_driver):
        return True, "", []
    floor = minor_compat_floor(need.major)
    if floor is not None:
        if driver is not None and driver >= Version(floor.row.min_driver):
            return (
                True,
                "",
                [
                    floor.evidence(
                        f"minor-version compatibility: CUDA {need.major}.x runs on driver >= {floor.row.min_driver}"
                    )
                ],
            )
        if driver is None and level is not None and level.major == need.major:
            return True, "", [floor.evidence(f"minor-version compatibility inside CUDA {need.major}")]
    if level is None and driver is None:
        return None
    evidence: list[Evidence] = []
    if ga is not None:
        evidence.append(ga.evidence(f"CUDA {mm} needs driver >= {ga.row.min_driver}"))
    if level is not None and level.major < need.major:
        same_major = rule("same-major-only")
        evidence.append(same_major.evidence(same_major.row.text))
        return False, f"a CUDA {level.major} driver cannot run CUDA {need.major} code", evidence
    floor_text = f" (minor-version floor {floor.row.min_driver})" if floor is not None else ""
    return False, f"the driver is below CUDA {mm}'s minimum{floor_text}", evidence


_CP_REASONS: dict[str, RejectionReason] = {
    "compute-capability": "gpu-arch",
    "glibc": "glibc",
    "libstdcxx": "glibcxx",
    "cxx-abi": "cxx-abi",
    "companion": "companion",
    "driver": "cuda-driver",
}


#: codes the judge filter leaves to `cuda_driver_filter` (which reads the candidate's CUDA from its Requires-Dist)
_DRIVER_CODES = frozenset({"CP101", "CP102", "CP103"})


def judge_filter(candidate: CandidateInfo, node: NodeFacts, env: Environment) -> list[Rejection]:
    """Reject a candidate the judge says fails on the node: no kernel for its GPUs (CP110), glibc/GLIBCXX above
    the node (CP120-CP122), a torch release without wheels for the Python (CP180), another CUDA major than the
    environment (CP160), the cxx11 ABI (CP140), ...

    Every candidate is judged, from its binary facts where known (a cached `envresolve inspect` report) and from
    the matrices otherwise: the same `envresolve.compat.candidate_verdict` that lint, lock and check use. Only
    errors reject (an unsure row or an unknown fact never does).
    """
    from envresolve.compat import candidate_verdict

    out: list[Rejection] = []
    for diag in candidate_verdict(candidate_package(candidate), node, env):
        if diag.severity is not Severity.ERROR or diag.code in _DRIVER_CODES:
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


#: the former name: binary facts are one layer of what the judge reads
binary_facts_filter = judge_filter


def candidate_package(candidate: CandidateInfo) -> Package:
    """The judge's view of a pip candidate (its metadata, plus its binary facts when known)."""
    from envresolve.compat.model import Package

    return Package.pypi(
        candidate.name,
        candidate.version,
        index=candidate.index,
        url=candidate.url or candidate.filename,
        sha256=candidate.sha256,
        requires_dist=candidate.requires_dist,
        binary=candidate.binary,
    )


def companion_pairing(name: str, version: str) -> tuple[str, str, str] | None:
    """(anchor, specifier, citation) a torch companion needs: `torchaudio 2.11.0` -> ('torch', '==2.11.*', ...).

    The pairing is the `torchvision`/`torchaudio` column of `pytorch.yaml`; None for other packages or
    releases the matrix does not list.
    """
    cname = canonicalize_name(name)
    if cname not in ("torchvision", "torchaudio"):
        return None
    from envresolve.matrices import pytorch_matrix

    try:
        v = Version(version)
    except InvalidVersion:
        return None
    m = pytorch_matrix()
    for row in m.rows:
        comp = getattr(row, cname)
        if comp is None:
            continue
        cv = Version(str(comp))
        if (cv.major, cv.minor) == (v.major, v.minor):
            return "torch", f"=={row.version}.*", m.cite(row)
    return None


def cxx_abi_of(report: ArtifactReport) -> str | None:
    """'cxx11' or 'pre-cxx11' when every C++ object of a report agrees, else None."""
    abis = {e.cxx_abi for e in report.elf if e.cxx_abi in ("cxx11", "pre-cxx11")}
    return abis.pop() if len(abis) == 1 else None


def torch_cxx_abi(version: str) -> str | None:
    """The cxx11 ABI of a torch release's PyPI wheels (`pytorch.yaml`), or None when not listed."""
    from envresolve.matrices import torch_release

    rel = torch_release(version)
    if rel is None:
        return None
    return "cxx11" if rel.row.cxx11_abi else "pre-cxx11"


def cached_binary_facts(root: str | os.PathLike[str] | None = None) -> Callable[[CandidateInfo], ArtifactReport | None]:
    """A `binary_facts` lookup in the inspection report cache (`envresolve inspect` fills it), by wheel sha256.

    Nothing is downloaded or inspected here: a candidate without a cached report has no binary facts.
    """
    from envresolve.binary.cache import ReportCache

    cache = ReportCache(root)

    def lookup(info: CandidateInfo) -> ArtifactReport | None:
        return cache.get_for(info.sha256, info.name, info.version) if info.sha256 else None

    return lookup


def default_filters() -> list[CandidateFilter]:
    """The filters `resolve_pip` uses unless told otherwise."""
    return [cuda_driver_filter, judge_filter]


def run_filters(
    filters: Iterable[CandidateFilter], candidate: CandidateInfo, nodes: Sequence[NodeFacts], env: Environment
) -> list[Rejection]:
    """Every rejection any filter makes for any node."""
    out: list[Rejection] = []
    for node in nodes:
        for f in filters:
            out.extend(f(candidate, node, env))
    return out
