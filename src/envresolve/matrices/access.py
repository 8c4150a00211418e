"""Typed, cached accessors over the matrix files. Every answer carries the row it rests on and its citation."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve.diagnostics import Evidence
from envresolve.matrices.base import Confidence, MatrixFile, MatrixRow, load_matrix
from envresolve.matrices.measured import MEASURED_FILE, MeasuredWheelsMatrix
from envresolve.matrices.models import (
    AbiMatrix,
    ArchDriverRow,
    ArchRow,
    CondaNamesMatrix,
    CudaArchsMatrix,
    CudaDriverRow,
    CudaDriversMatrix,
    CudaPackagesMatrix,
    CudnnNcclMatrix,
    CudnnRow,
    DriverBranchRow,
    FrameworkRow,
    FrameworksMatrix,
    GccRow,
    GpuRow,
    GpusMatrix,
    ManylinuxPolicyRow,
    MinorCompatRow,
    NamesMatrix,
    PytorchMatrix,
    RuleRow,
    ToolkitArchRow,
    TorchRelease,
    TorchVariant,
)
from envresolve.matrices.pip_libs import PIP_LIBS_FILE, PipLibRow, PipLibsMatrix

__all__ = [
    "MATRIX_FILES",
    "Sourced",
    "abi_matrix",
    "all_matrices",
    "arch_row",
    "clear_caches",
    "conda_names_matrix",
    "conda_to_pypi",
    "cuda_archs_matrix",
    "cuda_drivers_matrix",
    "cuda_min_driver",
    "cuda_of_build_string",
    "cuda_of_package_name",
    "cuda_packages_matrix",
    "cudnn_nccl_matrix",
    "cudnn_rows",
    "driver_branch",
    "driver_libs",
    "framework_row",
    "frameworks_matrix",
    "gcc_levels",
    "gpu_by_name",
    "gpu_by_pci_id",
    "gpus_matrix",
    "last_driver_branch",
    "manylinux_glibc",
    "manylinux_policy",
    "minor_compat_floor",
    "names_matrix",
    "pip_lib_release",
    "pip_libs_matrix",
    "pytorch_matrix",
    "rule",
    "soname_providers",
    "system_libs",
    "toolkit_archs",
    "torch_release",
    "torch_variant",
    "torch_variant_for",
]

R = TypeVar("R", bound=MatrixRow)


@dataclass(frozen=True)
class Sourced(Generic[R]):
    """A matrix row, the file it comes from, and (optionally) a value derived from it."""

    row: R
    matrix: MatrixFile
    derived: bool = False

    @property
    def citation(self) -> str:
        """`title, section (read YYYY-MM-DD)` of the row's source."""
        return self.matrix.cite(self.row)

    @property
    def unsure(self) -> bool:
        """True when the row is marked unsure."""
        return self.row.confidence is Confidence.UNSURE

    def evidence(self, fact: str, *, unsure: bool = False) -> Evidence:
        """Evidence for a diagnostic: the fact, this row's citation, and the unsure flag (the row's, or `unsure`
        when the fact rests on a field the row marks unsure)."""
        flag = self.unsure or unsure
        if flag and self.row.note:
            fact = f"{fact} (unsure: {self.row.note})"
        elif flag:
            fact = f"{fact} (unsure)"
        return Evidence(fact=fact, source=self.citation, unsure=flag)


#: file name -> model, for validation, schema export and the consistency checks.
MATRIX_FILES: dict[str, type[MatrixFile]] = {
    "cuda_drivers.yaml": CudaDriversMatrix,
    "gpus.yaml": GpusMatrix,
    "cuda_archs.yaml": CudaArchsMatrix,
    "pytorch.yaml": PytorchMatrix,
    "cuda_packages.yaml": CudaPackagesMatrix,
    "abi.yaml": AbiMatrix,
    "cudnn_nccl.yaml": CudnnNcclMatrix,
    "conda_names.yaml": CondaNamesMatrix,
    "frameworks.yaml": FrameworksMatrix,
    "names.yaml": NamesMatrix,
    MEASURED_FILE: MeasuredWheelsMatrix,
    PIP_LIBS_FILE: PipLibsMatrix,
}


M = TypeVar("M", bound=MatrixFile)


def _load(name: str, model: type[M]) -> M:
    loaded = load_matrix(name, model)
    if not isinstance(loaded, model):  # load_matrix is cached and loses the type parameter
        raise TypeError(f"{name} did not load as {model.__name__}")
    return loaded


def cuda_drivers_matrix() -> CudaDriversMatrix:
    """`cuda_drivers.yaml`, validated and cached."""
    return _load("cuda_drivers.yaml", CudaDriversMatrix)


def gpus_matrix() -> GpusMatrix:
    """`gpus.yaml`."""
    return _load("gpus.yaml", GpusMatrix)


def cuda_archs_matrix() -> CudaArchsMatrix:
    """`cuda_archs.yaml`."""
    return _load("cuda_archs.yaml", CudaArchsMatrix)


def pytorch_matrix() -> PytorchMatrix:
    """`pytorch.yaml`."""
    return _load("pytorch.yaml", PytorchMatrix)


def cuda_packages_matrix() -> CudaPackagesMatrix:
    """`cuda_packages.yaml`."""
    return _load("cuda_packages.yaml", CudaPackagesMatrix)


def abi_matrix() -> AbiMatrix:
    """`abi.yaml`."""
    return _load("abi.yaml", AbiMatrix)


def cudnn_nccl_matrix() -> CudnnNcclMatrix:
    """`cudnn_nccl.yaml`."""
    return _load("cudnn_nccl.yaml", CudnnNcclMatrix)


def conda_names_matrix() -> CondaNamesMatrix:
    """`conda_names.yaml`."""
    return _load("conda_names.yaml", CondaNamesMatrix)


def frameworks_matrix() -> FrameworksMatrix:
    """`frameworks.yaml`."""
    return _load("frameworks.yaml", FrameworksMatrix)


def names_matrix() -> NamesMatrix:
    """`names.yaml`: naming conventions that encode build facts."""
    return _load("names.yaml", NamesMatrix)


def all_matrices() -> dict[str, MatrixFile]:
    """Every matrix file this package owns, validated (raises InternalError on the first invalid one)."""
    return {name: load_matrix(name, model) for name, model in MATRIX_FILES.items()}


def clear_caches() -> None:
    """Forget every loaded matrix and every cached answer (for tests that edit matrix files)."""
    from envresolve.matrices import base

    base.forget_loaded()
    for fn in (
        _gpu_index,
        _v,
        _major_minor,
        cuda_min_driver,
        minor_compat_floor,
        torch_release,
        torch_variant,
        cuda_of_package_name,
        cuda_of_build_string,
        gcc_levels,
        framework_row,
        manylinux_glibc,
        arch_row,
        system_libs,
        driver_libs,
    ):
        fn.cache_clear()


@functools.lru_cache(maxsize=4096)  # the rules ask for the same few versions for every node and spec
def _v(s: str) -> Version | None:
    try:
        return Version(s)
    except InvalidVersion:
        return None


@cache
def _major_minor(version: str) -> tuple[int, int] | None:
    v = _v(version)
    if v is None:
        return None
    rel = (*v.release, 0)
    return rel[0], rel[1]


# --- CUDA -> driver ---------------------------------------------------------------------------------------------


@cache
def cuda_min_driver(cuda: str) -> Sourced[CudaDriverRow] | None:
    """The lowest driver any release of CUDA major.minor needs (its GA row), e.g. '12.8' -> 570.26.

    A three-part version ('12.8.90', a runtime library version) is read as its major.minor.
    """
    mm = _major_minor(cuda)
    if mm is None:
        return None
    m = cuda_drivers_matrix()
    rows = [r for r in m.rows if _major_minor(r.cuda) == mm]
    if not rows:
        return None
    row = min(rows, key=lambda r: (Version(r.min_driver), r.update))
    return Sourced(row, m)


@cache
def minor_compat_floor(major: int) -> Sourced[MinorCompatRow] | None:
    """The minor-version-compatibility floor of a CUDA major (12 -> 525.60.13)."""
    m = cuda_drivers_matrix()
    row = next((r for r in m.minor_version_compat if r.major == major), None)
    return Sourced(row, m) if row else None


def driver_branch(driver: str) -> Sourced[DriverBranchRow] | None:
    """The lifecycle row of the branch a driver version belongs to ('580.65.06' or 'R580' -> the R580 row)."""
    match = re.match(r"^[Rr]?([0-9]{3})(?:\.|$)", driver.strip())
    if not match:
        return None
    m = cuda_drivers_matrix()
    row = next((r for r in m.branches if r.number == int(match.group(1))), None)
    return Sourced(row, m) if row else None


def last_driver_branch(compute_capability: str) -> Sourced[ArchDriverRow] | None:
    """The architecture row of a compute capability ('6.1' -> Pascal, last driver branch R580; Turing and newer
    have `last_branch` None: support is ongoing)."""
    m = cuda_drivers_matrix()
    row = next((r for r in m.arch_last_branch if compute_capability in r.compute_capabilities), None)
    return Sourced(row, m) if row else None


def rule(rule_id: str) -> Sourced[RuleRow]:
    """A sourced rule stated in words (from cuda_drivers.yaml or cuda_archs.yaml), by id."""
    for m in (cuda_archs_matrix(), cuda_drivers_matrix()):
        rows: tuple[RuleRow, ...] = (
            m.rules if isinstance(m, CudaArchsMatrix) else (*m.minor_version_compat_limits, *m.forward_compat)
        )
        for r in rows:
            if r.id == rule_id:
                return Sourced(r, m)
    raise KeyError(f"no rule {rule_id!r} in the matrices")


# --- GPUs and archs ---------------------------------------------------------------------------------------------


def _norm_gpu(name: str) -> str:
    n = re.sub(r"\s+", " ", name.strip().lower())
    for prefix in ("nvidia ", "tesla "):
        if n.startswith(prefix):
            n = n[len(prefix) :]
    return n


@cache
def _gpu_index() -> dict[str, GpuRow]:
    idx: dict[str, GpuRow] = {}
    for row in gpus_matrix().rows:
        for n in (row.name, *row.aliases):
            idx.setdefault(_norm_gpu(n), row)
    return idx


def gpu_by_name(name: str) -> Sourced[GpuRow] | None:
    """The GPU row whose name or alias matches (case-insensitive, 'NVIDIA '/'Tesla ' prefixes ignored)."""
    row = _gpu_index().get(_norm_gpu(name))
    return Sourced(row, gpus_matrix()) if row else None


def gpu_by_pci_id(device_id: str) -> list[Sourced[GpuRow]]:
    """GPU rows listing this PCI device id ('0x1eb8'); several products can share one id."""
    did = device_id.lower()
    if not did.startswith("0x"):
        did = "0x" + did
    m = gpus_matrix()
    return [Sourced(r, m) for r in m.rows if did in r.pci_device_ids]


@cache
def arch_row(sm: int) -> Sourced[ArchRow] | None:
    """The architecture row of an SM number (86 -> Ampere)."""
    m = cuda_archs_matrix()
    row = next((a for a in m.archs if a.sm == sm), None)
    return Sourced(row, m) if row else None


def toolkit_archs(cuda: str) -> Sourced[ToolkitArchRow] | None:
    """What CUDA major.minor can build for. Without a row of its own, the closest lower row of the same major
    is returned as `derived` (toolkits inside a major only add targets)."""
    mm = _major_minor(cuda)
    if mm is None:
        return None
    m = cuda_archs_matrix()
    same_major = sorted(
        (r for r in m.toolkits if (rm := _major_minor(r.cuda)) is not None and rm[0] == mm[0] and rm <= mm),
        key=lambda r: Version(r.cuda),
    )
    if not same_major:
        return None
    best = same_major[-1]
    return Sourced(best, m, derived=_major_minor(best.cuda) != mm)


# --- PyTorch ----------------------------------------------------------------------------------------------------


@cache  # the matrices are immutable once loaded: every rule asks the same questions
def torch_release(version: str) -> Sourced[TorchRelease] | None:
    """The PyTorch release row of a torch version ('2.7.1+cu126' -> the 2.7 row)."""
    mm = _major_minor(version.split("+", 1)[0])
    if mm is None:
        return None
    m = pytorch_matrix()
    row = next((r for r in m.rows if _major_minor(r.version) == mm), None)
    return Sourced(row, m) if row else None


_LOCAL_CUDA = re.compile(r"^cu(?P<major>1[0-9])(?P<minor>[0-9])$")


@cache
def torch_variant(version: str, cuda: str | None = None) -> Sourced[TorchVariant] | None:
    """The variant of a torch release: for `cuda` ('12.8'), else from the local tag ('+cu128'), else the PyPI
    default (returned as `derived`, since a plain version could come from another index). '+cpu' gives None."""
    rel = torch_release(version)
    if rel is None:
        return None
    m = rel.matrix
    if cuda is None and "+" in version:
        local = version.split("+", 1)[1]
        match = _LOCAL_CUDA.match(local)
        if not match:
            return None
        cuda = f"{match['major']}.{match['minor']}"
    if cuda is not None:
        mm = _major_minor(cuda)
        variant = next((v for v in rel.row.variants if _major_minor(v.cuda) == mm), None)
        return Sourced(variant, m) if variant else None
    return Sourced(rel.row.default_variant, m, derived=True)


def torch_variant_for(version: str, local_cuda: str | None) -> tuple[TorchRelease, TorchVariant] | None:
    """(release, variant) pair, or None when either is unknown."""
    rel = torch_release(version)
    var = torch_variant(version, local_cuda)
    if rel is None or var is None:
        return None
    return rel.row, var.row


# --- packages -> CUDA -------------------------------------------------------------------------------------------


@cache
def cuda_of_package_name(name: str, version: str, ecosystem: str) -> tuple[str, Sourced[MatrixRow]] | None:
    """The CUDA version a package pins, as 'major' ('12') or 'major.minor' ('12.8'), with the row it rests on.

    PyPI: `nvidia-*-cuXX` suffixes and the unsuffixed CUDA 13 names; conda: `cuda-version`, `cudatoolkit`,
    `pytorch-cuda`, `cuda-cudart`, ... whose version is the CUDA version.
    """
    m = cuda_packages_matrix()
    if ecosystem == "pypi":
        cname = canonicalize_name(name)
        # the most specific rule wins: version-carrying patterns are listed after the generic suffix rule
        for row in reversed(m.pypi):
            match = re.match(row.pattern, cname)
            if not match:
                continue
            if row.cuda_from == "version":
                mm = _major_minor(version)
                if mm:
                    return f"{mm[0]}.{mm[1]}", Sourced(row, m)
                continue
            if row.cuda_from == "fixed":
                return str(row.cuda_major), Sourced(row, m)
            return match.group("major"), Sourced(row, m)
        return None
    for crow in m.conda:
        if crow.name == name:
            mm = _major_minor(version)
            if mm:
                return f"{mm[0]}.{mm[1]}", Sourced(crow, m)
    return None


@cache
def cuda_of_build_string(build: str) -> tuple[str, Sourced[MatrixRow]] | None:
    """CUDA major.minor named by a conda build string ('py3.10_cuda12.1_cudnn8.9.2_0', 'cuda129_mkl_py313_...')."""
    m = cuda_packages_matrix()
    for row in m.build_strings:
        match = re.match(row.pattern, build)
        if not match:
            continue
        groups = match.groupdict()
        if groups.get("cuda"):
            mm = _major_minor(groups["cuda"])
            if mm:
                return f"{mm[0]}.{mm[1]}", Sourced(row, m)
        if groups.get("cudadigits"):
            d = groups["cudadigits"]
            return f"{int(d[:-1])}.{int(d[-1])}", Sourced(row, m)
    return None


def soname_providers(soname: str) -> Iterator[tuple[str, int | None, Sourced[MatrixRow]]]:
    """(package name, CUDA major or None, row) for every package the matrices know to ship `soname`.

    `{major}` in a row stands for a CUDA major (11, 12, 13)."""
    m = cuda_packages_matrix()
    for row in m.sonames:
        templated = "{major}" in row.package or "{major}" in row.soname
        majors: tuple[int | None, ...] = (row.majors or _CUDA_MAJORS) if templated else (None,)
        for major in majors:
            fill = {"major": major} if major is not None else {}
            if row.soname.format(**fill) == soname:
                yield row.package.format(**fill), major, Sourced(row, m)


_CUDA_MAJORS: tuple[int, ...] = (11, 12, 13)


@cache
def system_libs() -> frozenset[str]:
    """Sonames every manylinux-compatible node provides (glibc's libraries, libstdc++, libgcc_s, ...)."""
    return frozenset(r.soname for r in abi_matrix().system_libs)


@cache
def driver_libs() -> frozenset[str]:
    """Sonames the NVIDIA driver installs on the node (libcuda.so.1, libnvidia-ml.so.1, ...)."""
    return frozenset(r.soname for r in cuda_packages_matrix().driver_libs)


# --- ABI ----------------------------------------------------------------------------------------------------------

_MANYLINUX = re.compile(r"^manylinux_(?P<major>[0-9]+)_(?P<minor>[0-9]+)_")


@cache
def manylinux_glibc(platform_tag: str) -> tuple[str, Sourced[MatrixRow]] | None:
    """The glibc a manylinux platform tag stands for ('manylinux2014_x86_64' -> '2.17')."""
    m = abi_matrix()
    match = _MANYLINUX.match(platform_tag)
    if match:
        row = next(r for r in m.manylinux if r.tag == "manylinux_x_y")
        return f"{match['major']}.{match['minor']}", Sourced(row, m)
    for r in m.manylinux:
        if platform_tag.startswith(r.tag + "_"):
            return r.glibc, Sourced(r, m)
    return None


_POLICY_TAG = re.compile(
    r"^(?:manylinux_(?P<major>[0-9]+)_(?P<minor>[0-9]+)|(?P<legacy>manylinux(?:1|2010|2014)))_(?P<arch>.+)$"
)


def manylinux_policy(platform_tag: str) -> Sourced[ManylinuxPolicyRow] | None:
    """The symbol-version ceilings a manylinux platform tag promises ('manylinux2014_x86_64' -> the x86_64 row of
    policy manylinux_2_17), or None when pypa's policy data has no row for that policy and architecture."""
    match = _POLICY_TAG.match(platform_tag)
    if not match:
        return None
    m = abi_matrix()
    for row in m.manylinux_policies:
        if row.arch != match["arch"]:
            continue
        if match["legacy"] in row.aliases or row.policy == f"manylinux_{match['major']}_{match['minor']}":
            return Sourced(row, m)
    return None


@cache
def gcc_levels(gcc_version: str) -> Sourced[GccRow] | None:
    """GLIBCXX_/CXXABI_ levels of a GCC (or conda libstdcxx) version: the row of the newest GCC release not newer
    than it (labels only change in the releases listed); `derived` when the version is not a listed one."""
    v = _v(gcc_version)
    if v is None:
        return None
    m = abi_matrix()
    rows = [r for r in m.gcc if Version(r.gcc) <= v]
    if not rows:
        return None
    best = max(rows, key=lambda r: Version(r.gcc))
    return Sourced(best, m, derived=Version(best.gcc) != v)


# --- cuDNN, frameworks, names -----------------------------------------------------------------------------------


def cudnn_rows(cudnn_version: str) -> list[Sourced[CudnnRow]]:
    """cuDNN rows of exactly this cuDNN major.minor (one per CUDA major); [] when the release is not listed.

    A release missing from the sourced table is unknown: it is never read as the nearest listed one (cuDNN
    9.1 is not 9.0, and 9.26 is not 9.17: each release adds CUDA versions the older one lacks)."""
    v = _v(cudnn_version)
    if v is None:
        return []
    m = cudnn_nccl_matrix()
    rel = (*v.release, 0)
    key = Version(f"{rel[0]}.{rel[1]}")
    return [Sourced(r, m) for r in m.cudnn if Version(r.cudnn) == key]


@cache
def framework_row(package: str, version: str) -> Sourced[FrameworkRow] | None:
    """The JAX-plugin / TensorFlow row covering this package version."""
    v = _v(version.split("+", 1)[0])
    if v is None:
        return None
    m = frameworks_matrix()
    cname = canonicalize_name(package)
    for row in m.rows:
        if canonicalize_name(row.package) == cname and v in SpecifierSet(row.versions):
            return Sourced(row, m)
    return None


def conda_to_pypi(conda_name: str, cuda_major: int | None = None) -> tuple[str | None, Sourced[MatrixRow]]:
    """PyPI project name of a conda package (None: no PyPI equivalent), with the row or default rule used."""
    m = conda_names_matrix()
    for row in m.rows:
        if row.conda == conda_name:
            pypi = row.pypi
            if pypi and "{major}" in pypi:
                pypi = pypi.format(major=cuda_major) if cuda_major is not None else None
            return pypi, Sourced(row, m)
    return str(canonicalize_name(conda_name)), Sourced(m.default_rule, m, derived=True)


def pip_libs_matrix() -> PipLibsMatrix:
    """`cudnn_nccl_pip.yaml`, validated and cached."""
    loaded = load_matrix(PIP_LIBS_FILE, PipLibsMatrix)
    if not isinstance(loaded, PipLibsMatrix):  # load_matrix is cached and loses the type parameter
        raise TypeError(f"{PIP_LIBS_FILE} did not load as PipLibsMatrix")
    return loaded


def pip_lib_release(package: str, version: str) -> Sourced[PipLibRow] | None:
    """The row of exactly this pip package and version; None when it is not in the table (unknown)."""
    name = str(canonicalize_name(package))
    m = pip_libs_matrix()
    row = next((r for r in m.rows if r.package == name and r.version == version), None)
    return Sourced(row, m) if row is not None else None
