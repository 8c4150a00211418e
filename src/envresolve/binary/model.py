"""Binary facts: what an ELF shared object, a wheel or a conda package says about itself."""

from __future__ import annotations

from typing import Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field

from envresolve.diagnostics import Diagnostic

__all__ = ["ArtifactReport", "CudaRuntimeLink", "ElfFacts", "FatbinEntry", "max_version"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def max_version(tags: tuple[str, ...] | list[str], prefix: str) -> str | None:
    """Highest `PREFIX_x.y.z` among version tags, as 'x.y.z' (e.g. prefix 'GLIBC')."""
    best: tuple[Version, str] | None = None
    for tag in tags:
        if not tag.startswith(prefix + "_"):
            continue
        raw = tag[len(prefix) + 1 :]
        try:
            v = Version(raw)
        except InvalidVersion:
            continue
        if best is None or v > best[0]:
            best = (v, raw)
    return best[1] if best else None


class FatbinEntry(_Frozen):
    """One entry of a CUDA fatbinary: device code for one target."""

    kind: Literal["sass", "ptx"]
    arch: str = Field(description="target as nvcc names it: 'sm_90', 'sm_90a', 'sm_100f'")
    sm: int = Field(description="numeric SM: 90 for sm_90a")
    variant: Literal["", "a", "f"] = ""
    ptx_isa: str | None = Field(default=None, description="PTX ISA version ('8.8') for PTX entries, where known")
    toolkit: str | None = Field(default=None, description="producing toolkit version, where the header has it")
    compressed: bool = False
    size: int = Field(default=0, ge=0, description="payload size in bytes as stored")


class CudaRuntimeLink(_Frozen):
    """How an object links the CUDA runtime.

    `dynamic`: DT_NEEDED libcudart.so.N (major N), or the runtime's entry points imported without it (major
    unknown: something else must load libcudart first). `static`: the runtime's own code is inside.
    `dlopen`: the object carries device code but neither links nor contains the runtime, so it loads one at
    run time (XLA's cudart stub does this); the major is unknown.
    """

    mode: Literal["dynamic", "static", "dlopen"]
    major: int | None = Field(default=None, description="soname major for dynamic links (libcudart.so.12 -> 12)")


class ElfFacts(_Frozen):
    """Facts read from one ELF shared object."""

    path: str = Field(description="path of the file, or member name inside an archive")
    size: int | None = None
    elf_class: Literal[32, 64]
    machine: str = Field(description="e_machine name, e.g. 'x86_64', 'aarch64'")
    soname: str | None = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    version_needs: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="needed library file -> version names (GLIBC_2.17, GLIBCXX_3.4.22, ...)",
    )
    weak_version_needs: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="version needs flagged VER_FLG_WEAK: the loader only warns when they are missing, so they are "
        "kept out of `version_needs`",
    )
    version_defs: tuple[str, ...] = Field(default=(), description="version names this object defines")
    cxx_abi: Literal["cxx11", "pre-cxx11", "mixed", "none"] = "none"
    cuda_runtime: CudaRuntimeLink | None = None
    fatbin: tuple[FatbinEntry, ...] = Field(
        default=(), description="device code the driver can load (`.nv_fatbin`, or any section but `__nv_relfatbin`)"
    )
    relocatable_fatbin: tuple[FatbinEntry, ...] = Field(
        default=(),
        description="device code in `__nv_relfatbin` (nvcc -rdc=true): input for a later device link, which the "
        "driver never loads, so it counts toward no SASS/PTX coverage",
    )
    defined_symbols: tuple[str, ...] | None = Field(default=None, description="only when asked for")
    undefined_symbols: tuple[str, ...] | None = Field(default=None, description="only when asked for")

    def needs(self, prefix: str) -> str | None:
        """Highest needed version with this prefix over all libraries ('GLIBC' -> '2.28')."""
        return max_version([v for vs in self.version_needs.values() for v in vs], prefix)

    def defines(self, prefix: str) -> str | None:
        """Highest defined version with this prefix ('GLIBCXX' -> '3.4.33' for libstdc++)."""
        return max_version(list(self.version_defs), prefix)


class ArtifactReport(_Frozen):
    """A report on one wheel, conda package, directory or `.so` file."""

    artifact: str = Field(description="file name or URL (credentials masked)")
    kind: Literal["wheel", "conda", "elf", "directory"]
    sha256: str | None = None
    platform_tag: str | None = Field(default=None, description="wheel platform tag(s) or conda subdir")
    tag_glibc: str | None = Field(default=None, description="glibc implied by the platform tag")
    elf: tuple[ElfFacts, ...] = ()
    max_glibc: str | None = None
    max_glibcxx: str | None = None
    max_cxxabi: str | None = None
    cuda_runtime_majors: tuple[int, ...] = ()
    sass_archs: tuple[str, ...] = ()
    ptx_archs: tuple[str, ...] = ()
    external_libs: tuple[str, ...] = Field(default=(), description="DT_NEEDED names nothing inside provides")
    diagnostics: tuple[Diagnostic, ...] = ()
    # Added by the archive readers (additive):
    tag_musl: str | None = Field(default=None, description="musl version implied by a musllinux tag")
    system_libs: tuple[str, ...] = Field(
        default=(),
        description="the subset of external_libs every glibc system has (glibc's libs, libgcc_s, libstdc++)",
    )
    cuda_runtime_static: bool = Field(default=False, description="some member links the CUDA runtime statically")
    cuda_runtime_dlopen: bool = Field(default=False, description="some member loads a CUDA runtime at run time")
    cuda_runtime_bundled: str | None = Field(
        default=None,
        description="CUDA version of a runtime the artefact ships under a hashed name (libcudart-80664282.so.10.2: "
        "'10.2'; from CUDA 11 the name gives the major only: '11')",
    )
    name: str | None = Field(default=None, description="package name (wheel file name or conda index.json)")
    version: str | None = None
    build: str | None = Field(default=None, description="conda build string or wheel build tag")
    files: int = Field(default=0, ge=0, description="regular files looked at (members, or files in a directory)")
    device_code: Literal["read", "beyond-budget"] = Field(
        default="read",
        description="beyond-budget: some shared object was not read whole within the inspect budget, so the "
        "fatbinary entries were dropped and SASS/PTX come from a measured or published row instead",
    )
