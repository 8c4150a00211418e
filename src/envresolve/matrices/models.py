"""pydantic models of the matrix files, one per file kind. Frozen, no extra keys, versions as checked strings."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, model_validator

from envresolve.matrices.base import Confidence, MatrixFile, MatrixRow

__all__ = [
    "NAME_GROUPS",
    "AbiMatrix",
    "ArchDriverRow",
    "ArchRow",
    "BuildStringRow",
    "CondaCudaRow",
    "CondaNameRow",
    "CondaNamesMatrix",
    "CudaArchsMatrix",
    "CudaDriverRow",
    "CudaDriversMatrix",
    "CudaPackagesMatrix",
    "CudnnNcclMatrix",
    "CudnnRow",
    "DriverBranchRow",
    "DriverLibRow",
    "FrameworkRow",
    "FrameworksMatrix",
    "GccRow",
    "GpuRow",
    "GpusMatrix",
    "ManylinuxPolicyRow",
    "ManylinuxRow",
    "MinorCompatRow",
    "NameRule",
    "NamesMatrix",
    "NcclRow",
    "PypiCudaRow",
    "PytorchMatrix",
    "RuleRow",
    "SonameRow",
    "SystemLibRow",
    "ToolkitArchRow",
    "TorchBindingRow",
    "TorchRelease",
    "TorchVariant",
]

_CC = re.compile(r"^[0-9]+\.[0-9]+$")
_TARGET = re.compile(r"^[0-9]+\.[0-9]+[af]?$")
_PCI = re.compile(r"^0x[0-9a-f]{4}$")


def _version(v: str) -> str:
    try:
        Version(v)
    except InvalidVersion:
        raise ValueError(f"not a version: {v!r}") from None
    return v


def _cc(v: str) -> str:
    if not _CC.match(v):
        raise ValueError(f"compute capability must look like '9.0', got {v!r}")
    return v


def _target(v: str) -> str:
    if not _TARGET.match(v):
        raise ValueError(f"arch target must look like '9.0' or '9.0a', got {v!r}")
    return v


def _regex(v: str) -> str:
    try:
        re.compile(v)
    except re.error as exc:
        raise ValueError(f"bad pattern {v!r}: {exc}") from None
    return v


def _specifier(v: str) -> str:
    try:
        SpecifierSet(v)
    except InvalidSpecifier:
        raise ValueError(f"not a version specifier: {v!r}") from None
    return v


#: A version kept as the quoted string of the file, checked by PEP 440.
Ver = Annotated[str, AfterValidator(_version)]
#: A compute capability such as "8.6".
CC = Annotated[str, AfterValidator(_cc)]
#: A compute capability with an optional arch-specific / family suffix: "9.0", "9.0a", "10.0f".
ArchTarget = Annotated[str, AfterValidator(_target)]
Pattern = Annotated[str, AfterValidator(_regex)]
Specifier = Annotated[str, AfterValidator(_specifier)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class RuleRow(MatrixRow):
    """A sourced rule stated in words; the code that applies it cites this row."""

    id: StrictStr
    text: StrictStr


# --- CUDA toolkit -> driver -------------------------------------------------------------------------------------


class CudaDriverRow(MatrixRow):
    """One CUDA toolkit release (GA or update) and the minimum Linux x86_64 driver it needs."""

    cuda: Ver
    update: int = 0
    release: StrictStr
    min_driver: Ver
    branch: StrictStr | None = None


class MinorCompatRow(MatrixRow):
    """The minor-version-compatibility floor of one CUDA major; `below_driver` is where the range ends."""

    major: int
    min_driver: Ver
    below_driver: Ver | None = None


_BRANCH = re.compile(r"^R[0-9]{3}$")
_EOL = re.compile(r"^([0-9]{4}-(0[1-9]|1[0-2])|ended)$")
_LAST_CUDA = re.compile(r"^[0-9]+\.([0-9]+|x)$")


class DriverBranchRow(MatrixRow):
    """A data-center driver branch ('R580'), its lifecycle designation and end of life ('2028-06', or 'ended'
    when a source says it has ended without a date; None while no date is published)."""

    branch: StrictStr
    designation: Literal["long-term-support", "production", "new-feature", "evaluation"]
    eol: StrictStr | None = None
    max_cuda_major: int | None = None

    @model_validator(mode="after")
    def _shape(self) -> DriverBranchRow:
        if not _BRANCH.match(self.branch):
            raise ValueError(f"driver branch must look like R580, got {self.branch!r}")
        if self.eol is not None and not _EOL.match(self.eol):
            raise ValueError(f"{self.branch}: eol must be YYYY-MM or 'ended', got {self.eol!r}")
        return self

    @property
    def number(self) -> int:
        """580 for R580."""
        return int(self.branch[1:])


class ArchDriverRow(MatrixRow):
    """A GPU architecture's compute capabilities, the CUDA toolkits that build for it, and the last driver branch
    that supports it (None: support is ongoing)."""

    architecture: StrictStr
    compute_capabilities: tuple[CC, ...]
    first_cuda: Ver
    last_cuda: StrictStr | None = None
    last_branch: StrictStr | None = None

    @model_validator(mode="after")
    def _shape(self) -> ArchDriverRow:
        if self.last_cuda is not None and not _LAST_CUDA.match(self.last_cuda):
            raise ValueError(f"{self.architecture}: last_cuda must look like '10.2' or '12.x'")
        if self.last_branch is not None and not _BRANCH.match(self.last_branch):
            raise ValueError(f"{self.architecture}: last_branch must look like R470")
        return self

    @property
    def last_cuda_major(self) -> int | None:
        """12 for '12.x'."""
        return int(self.last_cuda.split(".")[0]) if self.last_cuda else None


class CudaDriversMatrix(MatrixFile):
    """`matrices/cuda_drivers.yaml`."""

    kind: Literal["cuda-drivers"]
    rows: tuple[CudaDriverRow, ...]
    minor_version_compat: tuple[MinorCompatRow, ...]
    minor_version_compat_limits: tuple[RuleRow, ...] = ()
    forward_compat: tuple[RuleRow, ...] = ()
    branches: tuple[DriverBranchRow, ...] = ()
    arch_last_branch: tuple[ArchDriverRow, ...] = ()

    def _all_rows(self) -> list[MatrixRow]:
        return [
            *self.rows,
            *self.minor_version_compat,
            *self.minor_version_compat_limits,
            *self.forward_compat,
            *self.branches,
            *self.arch_last_branch,
        ]

    @model_validator(mode="after")
    def _unique(self) -> CudaDriversMatrix:
        keys = [(r.cuda, r.update) for r in self.rows]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate (cuda, update) row")
        majors = [r.major for r in self.minor_version_compat]
        if len(majors) != len(set(majors)):
            raise ValueError("duplicate minor_version_compat major")
        branches = [r.branch for r in self.branches]
        if len(branches) != len(set(branches)):
            raise ValueError("duplicate driver branch row")
        ccs = [cc for r in self.arch_last_branch for cc in r.compute_capabilities]
        if len(ccs) != len(set(ccs)):
            raise ValueError("a compute capability appears in two arch_last_branch rows")
        return self


# --- GPUs -------------------------------------------------------------------------------------------------------


class GpuRow(MatrixRow):
    """A GPU product and its compute capability."""

    name: StrictStr
    compute_capability: CC
    segment: Literal["datacenter", "workstation", "consumer", "jetson"]
    architecture: StrictStr
    tegra: bool = False
    aliases: tuple[StrictStr, ...] = ()
    pci_device_ids: tuple[StrictStr, ...] = ()
    pci_source: StrictStr | None = None

    @model_validator(mode="after")
    def _pci(self) -> GpuRow:
        for pid in self.pci_device_ids:
            if not _PCI.match(pid):
                raise ValueError(f"{self.name}: PCI device id must look like 0x1eb8, got {pid!r}")
        if self.pci_device_ids and not self.pci_source:
            raise ValueError(f"{self.name}: PCI device ids need a pci_source")
        return self

    @property
    def sm(self) -> int:
        """Compute capability as an SM number: '8.6' -> 86."""
        major, minor = self.compute_capability.split(".")
        return int(major) * 10 + int(minor)


class GpusMatrix(MatrixFile):
    """`matrices/gpus.yaml`."""

    kind: Literal["gpus"]
    rows: tuple[GpuRow, ...]

    @model_validator(mode="after")
    def _pci_sources_known(self) -> GpusMatrix:
        for row in self.rows:
            if row.pci_source and row.pci_source not in self.sources:
                raise ValueError(f"{row.name}: unknown pci_source {row.pci_source!r}")
        return self


# --- SM architectures, toolkits, SASS/PTX rules -----------------------------------------------------------------


class ArchRow(MatrixRow):
    """An SM architecture number (compute capability x 10)."""

    sm: int
    name: StrictStr
    tegra: bool = False

    @property
    def compute_capability(self) -> str:
        """'8.6' for sm 86."""
        return f"{self.sm // 10}.{self.sm % 10}"


class ToolkitArchRow(MatrixRow):
    """What one CUDA toolkit can build SASS for; `arch_specific`/`family` list the SMs with `a`/`f` targets."""

    cuda: Ver
    sass: tuple[int, ...]
    arch_specific: tuple[int, ...] = ()
    family: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    ptx_isa: Ver | None = None

    @property
    def first(self) -> int:
        """Lowest SM it builds for."""
        return min(self.sass)

    @property
    def last(self) -> int:
        """Highest SM it builds for."""
        return max(self.sass)


class CudaArchsMatrix(MatrixFile):
    """`matrices/cuda_archs.yaml`."""

    kind: Literal["cuda-archs"]
    archs: tuple[ArchRow, ...]
    toolkits: tuple[ToolkitArchRow, ...]
    rules: tuple[RuleRow, ...]

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.archs, *self.toolkits, *self.rules]

    @model_validator(mode="after")
    def _consistent(self) -> CudaArchsMatrix:
        known = {a.sm for a in self.archs}
        for tk in self.toolkits:
            for sm in (*tk.sass, *tk.arch_specific, *tk.family, *tk.removed):
                if sm not in known:
                    raise ValueError(f"toolkit {tk.cuda} names sm_{sm}, which is not in archs")
            for sm in (*tk.arch_specific, *tk.family):
                if sm not in tk.sass:
                    raise ValueError(f"toolkit {tk.cuda}: sm_{sm} has an a/f target but no plain target")
        return self


# --- PyTorch ------------------------------------------------------------------------------------------------------


class TorchVariant(MatrixRow):
    """One CUDA variant of a PyTorch release (`+cu128`)."""

    cuda: Ver
    default_pypi: bool = False
    archs: tuple[ArchTarget, ...]
    ptx: tuple[ArchTarget, ...] = ()
    cxx11_abi: bool | None = None
    manylinux: StrictStr | None = None
    archs_confidence: Confidence = Confidence.CONFIRMED

    @property
    def tag(self) -> str:
        """The local version tag: 'cu128' for CUDA 12.8."""
        return "cu" + self.cuda.replace(".", "")


class TorchRelease(MatrixRow):
    """One PyTorch minor release (latest patch) and what its Linux x86_64 wheels are."""

    version: Ver
    latest_patch: Ver
    python: tuple[Ver, ...]
    manylinux: StrictStr
    glibc: Ver
    glibcxx: Ver | None = None
    cxxabi: Ver | None = None
    cxx11_abi: bool
    cudnn: Ver | None = None
    nccl: Ver | None = None
    torchvision: Ver | None = None
    torchaudio: Ver | None = None
    variants: tuple[TorchVariant, ...]
    glibc_confidence: Confidence = Confidence.CONFIRMED

    @model_validator(mode="after")
    def _one_default(self) -> TorchRelease:
        defaults = [v for v in self.variants if v.default_pypi]
        if len(defaults) != 1:
            raise ValueError(f"torch {self.version}: exactly one variant must be the PyPI default")
        return self

    @property
    def default_variant(self) -> TorchVariant:
        """The variant PyPI serves without a local version tag."""
        return next(v for v in self.variants if v.default_pypi)

    def variant(self, cuda: str) -> TorchVariant | None:
        """The variant for CUDA major.minor ('12.8'), if published."""
        return next((v for v in self.variants if v.cuda == cuda), None)

    def variant_cxx11(self, variant: TorchVariant) -> bool:
        """The cxx11 ABI flag of a variant (variant override, else the release's)."""
        return self.cxx11_abi if variant.cxx11_abi is None else variant.cxx11_abi


class PytorchMatrix(MatrixFile):
    """`matrices/pytorch.yaml`."""

    kind: Literal["pytorch"]
    rows: tuple[TorchRelease, ...]

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.rows, *(v for r in self.rows for v in r.variants)]


# --- packages that pin a CUDA version --------------------------------------------------------------------------


class PypiCudaRow(MatrixRow):
    """A PyPI name pattern and how to read the CUDA version off a matching package."""

    pattern: Pattern
    cuda_from: Literal["suffix", "version", "fixed"]
    cuda_major: int | None = None

    @model_validator(mode="after")
    def _fixed_has_major(self) -> PypiCudaRow:
        if self.cuda_from == "fixed" and self.cuda_major is None:
            raise ValueError(f"{self.pattern}: cuda_from fixed needs cuda_major")
        return self


class CondaCudaRow(MatrixRow):
    """A conda package whose version is a CUDA version."""

    name: StrictStr
    cuda_from: Literal["version"]


class BuildStringRow(MatrixRow):
    """A conda build-string pattern that names the CUDA version of a build."""

    channel: StrictStr
    pattern: Pattern


class SonameRow(MatrixRow):
    """A package (with `{major}` standing for the CUDA major) and a shared library it ships; `majors` lists the
    CUDA majors the template was read for."""

    package: StrictStr
    soname: StrictStr
    majors: tuple[int, ...] = ()


class DriverLibRow(MatrixRow):
    """A shared library the NVIDIA driver installs on the node."""

    soname: StrictStr


class CudaPackagesMatrix(MatrixFile):
    """`matrices/cuda_packages.yaml`."""

    kind: Literal["cuda-packages"]
    pypi: tuple[PypiCudaRow, ...]
    conda: tuple[CondaCudaRow, ...]
    build_strings: tuple[BuildStringRow, ...]
    sonames: tuple[SonameRow, ...]
    driver_libs: tuple[DriverLibRow, ...]

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.pypi, *self.conda, *self.build_strings, *self.sonames, *self.driver_libs]


# --- ABI: manylinux, GCC ----------------------------------------------------------------------------------------


class ManylinuxRow(MatrixRow):
    """A manylinux tag and the glibc it stands for ('x.y' for the generic manylinux_x_y rule)."""

    tag: StrictStr
    glibc: StrictStr


class ManylinuxPolicyRow(MatrixRow):
    """The symbol-version ceilings of one manylinux policy on one architecture: the highest GLIBC_, GLIBCXX_ and
    CXXABI_ version a wheel under that policy may need (pypa's policy data, as auditwheel enforces it)."""

    policy: StrictStr
    aliases: tuple[StrictStr, ...] = ()
    arch: StrictStr
    glibc: Ver
    glibcxx: Ver
    cxxabi: Ver

    @model_validator(mode="after")
    def _policy_name(self) -> ManylinuxPolicyRow:
        if not re.fullmatch(r"manylinux_[0-9]+_[0-9]+", self.policy):
            raise ValueError(f"policy must look like manylinux_2_17, got {self.policy!r}")
        return self

    @property
    def tag_glibc(self) -> str:
        """The glibc the policy's name promises ('manylinux_2_17' -> '2.17')."""
        _, major, minor = self.policy.split("_")
        return f"{major}.{minor}"


class GccRow(MatrixRow):
    """A GCC release and the highest GLIBCXX_/CXXABI_ versions its libstdc++ defines."""

    gcc: Ver
    glibcxx: Ver
    cxxabi: Ver


class SystemLibRow(MatrixRow):
    """A library every manylinux-compatible node provides."""

    soname: StrictStr


class AbiMatrix(MatrixFile):
    """`matrices/abi.yaml`."""

    kind: Literal["abi"]
    manylinux: tuple[ManylinuxRow, ...]
    manylinux_policies: tuple[ManylinuxPolicyRow, ...] = ()
    gcc: tuple[GccRow, ...]
    system_libs: tuple[SystemLibRow, ...] = ()

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.manylinux, *self.manylinux_policies, *self.gcc, *self.system_libs]

    @model_validator(mode="after")
    def _one_policy_row_per_arch(self) -> AbiMatrix:
        keys = [(r.policy, r.arch) for r in self.manylinux_policies]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate (policy, arch) row in manylinux_policies")
        return self


# --- cuDNN and NCCL ---------------------------------------------------------------------------------------------


class CudnnRow(MatrixRow):
    """A cuDNN minor release built for one CUDA major: the CUDA minors it supports and the driver floor."""

    cudnn: Ver
    cuda_major: int
    cuda: tuple[Ver, ...]
    min_driver: Ver


class NcclRow(MatrixRow):
    """How an NCCL package names the CUDA major it is built for."""

    package: StrictStr
    cuda_from: Literal["suffix", "depends"]


class CudnnNcclMatrix(MatrixFile):
    """`matrices/cudnn_nccl.yaml`."""

    kind: Literal["cudnn-nccl"]
    cudnn: tuple[CudnnRow, ...]
    nccl: tuple[NcclRow, ...]

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.cudnn, *self.nccl]


# --- conda name -> PyPI name ------------------------------------------------------------------------------------


class CondaNameRow(MatrixRow):
    """A conda name and its PyPI project (None: no PyPI equivalent). `{major}` stands for the CUDA major."""

    conda: StrictStr
    pypi: StrictStr | None


class DefaultNameRule(MatrixRow):
    """The rule for every conda name not in the table."""

    text: StrictStr


class CondaNamesMatrix(MatrixFile):
    """`matrices/conda_names.yaml`."""

    kind: Literal["conda-names"]
    rows: tuple[CondaNameRow, ...]
    default_rule: DefaultNameRule

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.rows, self.default_rule]


# --- JAX, TensorFlow --------------------------------------------------------------------------------------------


class FrameworkRow(MatrixRow):
    """A framework package (version range) and the CUDA / cuDNN it needs; `min_driver` and
    `min_compute_capability` where the framework's own install page states them (cited by `floor_source`)."""

    package: StrictStr
    versions: Specifier
    cuda: Ver
    cuda_major: int
    cudnn: Ver | None = None
    python: Specifier | None = None
    min_driver: Ver | None = None
    min_compute_capability: CC | None = None
    floor_source: StrictStr | None = None


class FrameworksMatrix(MatrixFile):
    """`matrices/frameworks.yaml`."""

    kind: Literal["frameworks"]
    rows: tuple[FrameworkRow, ...]

    @model_validator(mode="after")
    def _floor_sources_known(self) -> FrameworksMatrix:
        for row in self.rows:
            if (row.min_driver or row.min_compute_capability) and row.floor_source is None:
                raise ValueError(f"{row.package} {row.versions}: a driver or GPU floor needs a floor_source")
            if row.floor_source and row.floor_source not in self.sources:
                raise ValueError(f"{row.package} {row.versions}: unknown floor_source {row.floor_source!r}")
        return self


# --- facts encoded in names ---------------------------------------------------------------------------------------

#: Named groups a name pattern may capture, and what each one means.
NAME_GROUPS = frozenset(
    {
        "cuda",  # CUDA major.minor, dotted ("10.2") or compact ("118" = 11.8, "92" = 9.2)
        "cuda_major",  # CUDA major only ("12")
        "torch",  # torch major.minor, dotted ("2.3") or compact after "pt" ("21" = 2.1, "113" = 1.13)
        "rocm",  # ROCm version ("5.7")
        "cpu",  # present: a CPU-only build
        "cxx11abi",  # TRUE / FALSE: built with _GLIBCXX_USE_CXX11_ABI=1 / 0
    }
)


class NameRule(MatrixRow):
    """A naming convention that states build facts: a full-match pattern over one kind of name.

    `kind` says which name: `local-label` (the part of a version after `+`), `index-path` (a path segment
    of an index or find-links URL), `bundled-runtime` (a library file name inside a wheel). `packages` limits
    the rule to those projects (empty: any). `example` is a real name the pattern decodes.
    """

    kind: Literal["local-label", "index-path", "bundled-runtime"]
    packages: tuple[StrictStr, ...] = ()
    pattern: Pattern
    example: StrictStr

    @model_validator(mode="after")
    def _groups_known_and_example_matches(self) -> NameRule:
        compiled = re.compile(self.pattern)
        unknown = set(compiled.groupindex) - NAME_GROUPS
        if unknown:
            raise ValueError(f"{self.pattern}: unknown groups {sorted(unknown)}")
        if not compiled.fullmatch(self.example):
            raise ValueError(f"{self.pattern}: does not match its example {self.example!r}")
        return self


class TorchBindingRow(MatrixRow):
    """An extension package whose compiled code binds to the torch release it was built against."""

    package: StrictStr
    binds: Literal["torch-minor"]


class NamesMatrix(MatrixFile):
    """`matrices/names.yaml`."""

    kind: Literal["names"]
    rows: tuple[NameRule, ...]
    bindings: tuple[TorchBindingRow, ...] = ()

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.rows, *self.bindings]
