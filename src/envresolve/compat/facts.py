"""What an environment's packages imply, from binary facts where known and from the matrices otherwise.

Each derived fact carries its evidence, and says when it was derived from a matrix rather than read from a binary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from envresolve.compat.common import TORCH_NAMES, mm, pkg_label
from envresolve.compat.measured import Measured, measured_facts
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Evidence
from envresolve.matrices import (
    cuda_of_build_string,
    cuda_of_package_name,
    framework_row,
    manylinux_glibc,
    torch_release,
    torch_variant,
)
from envresolve.matrices.base import Confidence

if TYPE_CHECKING:
    from envresolve.binary.model import ArtifactReport

__all__ = [
    "CudaClaim",
    "DeviceCode",
    "cuda_claims",
    "device_code",
    "env_cuda_claims",
    "glibc_need",
    "wheel_platform_tag",
]


@dataclass(frozen=True)
class CudaClaim:
    """A CUDA version a package brings: 'major' or 'major.minor'."""

    package: Package
    version: str
    evidence: Evidence
    runtime: bool = False  # True: the package is (or pins) the CUDA runtime itself

    @property
    def major(self) -> int:
        """CUDA major."""
        return int(self.version.split(".")[0])

    @property
    def minor(self) -> int | None:
        """CUDA minor, when known."""
        parts = self.version.split(".")
        return int(parts[1]) if len(parts) > 1 else None


_RUNTIME_NAMES = frozenset(
    {
        "nvidia-cuda-runtime",
        "cuda-toolkit",
        "cuda-version",
        "cudatoolkit",
        "pytorch-cuda",
        "cuda-cudart",
    }
)
_LOCAL_CU = re.compile(r"^cu(?P<major>1[0-9])(?P<minor>[0-9])$")


def _is_runtime_name(name: str) -> bool:
    n = str(canonicalize_name(name))
    return n in _RUNTIME_NAMES or re.match(r"^nvidia-cuda-runtime-cu1[0-9]$", n) is not None


def cuda_claims(pkg: Package) -> list[CudaClaim]:
    """Every CUDA version this package brings, with evidence."""
    claims: list[CudaClaim] = []
    label = pkg_label(pkg)
    if pkg.binary and pkg.binary.cuda_runtime_majors:
        for major in pkg.binary.cuda_runtime_majors:
            claims.append(
                CudaClaim(
                    pkg,
                    str(major),
                    Evidence(fact=f"{label} links libcudart.so.{major} (binary facts)", source=pkg.binary.artifact),
                )
            )
    if pkg.binary and pkg.binary.cuda_runtime_bundled:
        bundled = pkg.binary.cuda_runtime_bundled
        claims.append(
            CudaClaim(
                pkg,
                bundled,
                Evidence(
                    fact=f"{label} ships the CUDA {bundled} runtime under a hashed name (binary facts)",
                    source=pkg.binary.artifact,
                ),
                runtime=True,
            )
        )
    named = cuda_of_package_name(pkg.name, pkg.version, pkg.ecosystem)
    if named:
        version, src = named
        claims.append(
            CudaClaim(
                pkg,
                version,
                src.evidence(f"{label} is built for CUDA {version}"),
                runtime=_is_runtime_name(pkg.name),
            )
        )
    if pkg.ecosystem == "conda" and pkg.build:
        built = cuda_of_build_string(pkg.build)
        if built:
            version, src = built
            claims.append(CudaClaim(pkg, version, src.evidence(f"{label}: build string names CUDA {version}")))
    if canonicalize_name(pkg.name) in TORCH_NAMES and pkg.ecosystem == "pypi":
        claims.extend(_torch_claim(pkg))
    plugin = re.match(r"^jax-cuda(?P<major>1[0-9])-(plugin|pjrt)$", str(canonicalize_name(pkg.name)))
    if plugin:
        row = framework_row(f"jax-cuda{plugin['major']}-plugin", pkg.version)
        fact = f"{label} is the CUDA {plugin['major']} plugin of JAX"
        ev = row.evidence(fact) if row else Evidence(fact=fact + " (from its name)")
        claims.append(CudaClaim(pkg, plugin["major"], ev))
    return claims


def _torch_claim(pkg: Package) -> list[CudaClaim]:
    label = pkg_label(pkg)
    local = pkg.version.split("+", 1)[1] if "+" in pkg.version else None
    if local is not None:
        match = _LOCAL_CU.match(local)
        if not match:
            return []  # +cpu, +rocm...
        version = f"{match['major']}.{match['minor']}"
        var = torch_variant(pkg.version)
        fact = f"{label}: local tag +{local} is CUDA {version}"
        return [CudaClaim(pkg, version, var.evidence(fact) if var else Evidence(fact=fact))]
    var = torch_variant(pkg.version)
    if var is None:
        return []
    fact = f"{label} without a local tag is PyPI's default variant, CUDA {var.row.cuda} (derived from the matrix)"
    return [CudaClaim(pkg, var.row.cuda, var.evidence(fact))]


def env_cuda_claims(env: Environment) -> list[CudaClaim]:
    """CUDA claims of every package of the environment."""
    return [c for p in env.packages for c in cuda_claims(p)]


def runtime_cuda(env: Environment) -> CudaClaim | None:
    """The environment's CUDA runtime (major.minor): the highest claim with a minor, runtime packages first."""
    claims = [c for c in env_cuda_claims(env) if c.minor is not None]
    if not claims:
        return None
    runtime = [c for c in claims if c.runtime] or claims
    return max(runtime, key=lambda c: (c.major, c.minor or 0))


# --- device code ------------------------------------------------------------------------------------------------

_TARGET = re.compile(r"^(?:sm_|compute_)?(?P<major>[0-9]+?)\.?(?P<minor>[0-9])(?P<variant>[af]?)$")


def _parse_target(text: str) -> tuple[int, str] | None:
    """'sm_90a' / 'compute_90' / '9.0a' / '90' -> (90, 'a')."""
    t = text.strip().lower()
    if "." in t:
        major, rest = t.split(".", 1)
        variant = rest[-1] if rest and rest[-1] in "af" else ""
        minor = rest.rstrip("af")
        if not (major.isdigit() and minor.isdigit()):
            return None
        return int(major) * 10 + int(minor), variant
    match = _TARGET.match(t)
    if not match:
        return None
    return int(match["major"]) * 10 + int(match["minor"]), match["variant"]


@dataclass(frozen=True)
class DeviceCode:
    """The GPU code a package carries: SASS and PTX targets as (sm, variant), and where that list comes from."""

    package: Package
    sass: tuple[tuple[int, str], ...]
    ptx: tuple[tuple[int, str], ...]
    evidence: Evidence
    derived: bool
    ptx_toolkit: str | None = None  # CUDA version that produced the PTX, where known


def device_code(pkg: Package) -> DeviceCode | None:
    """SASS/PTX of a package: from its binary facts (fatbinary entries), else from the matrix for torch variants.

    None for NVIDIA's own CUDA libraries (`nvidia-cufft-cu12`, ...): their fatbinaries do not say which GPUs they
    run on. Measured, cuFFT 11.2's libcufft.so carries one 320-byte sm_52 entry while it runs on every GPU CUDA
    12.4 supports; NVIDIA supports each library on the GPUs of its CUDA release, which the CUDA rules judge.
    """
    if cuda_of_package_name(pkg.name, pkg.version, pkg.ecosystem) is not None:
        return None
    label = pkg_label(pkg)
    rep = pkg.binary
    if rep is not None:
        sass: set[tuple[int, str]] = set()
        ptx: set[tuple[int, str]] = set()
        toolkits: set[str] = set()
        for elf in rep.elf:
            for entry in elf.fatbin:
                target = (entry.sm, entry.variant)
                (sass if entry.kind == "sass" else ptx).add(target)
                if entry.kind == "ptx" and entry.toolkit:
                    toolkits.add(entry.toolkit)
        if not sass and not ptx:
            for text in rep.sass_archs:
                t = _parse_target(text)
                if t:
                    sass.add(t)
            for text in rep.ptx_archs:
                t = _parse_target(text)
                if t:
                    ptx.add(t)
        if sass or ptx:
            ptx_text = _fmt(ptx, "compute_") or "none"
            fact = f"{label} carries SASS {_fmt(sass)} and PTX {ptx_text} (binary facts of {rep.artifact})"
            toolkit = max(toolkits, key=lambda t: mm(t) or (0, 0)) if toolkits else None
            return DeviceCode(
                pkg, tuple(sorted(sass)), tuple(sorted(ptx)), Evidence(fact=fact), derived=False, ptx_toolkit=toolkit
            )
    # a wheel read within the inspect budget has no device code (`beyond-budget`): the measured row for its
    # sha256 answers first, then the published row
    beyond = rep is not None and rep.device_code == "beyond-budget"
    measured = measured_facts(pkg) if rep is None or beyond else None
    if measured is not None:
        return _measured_device_code(pkg, measured)
    conda_build = pkg.ecosystem == "conda" and pkg.name == "pytorch" and pkg.build and pkg.build.startswith("py")
    if conda_build and pkg.build:
        built = cuda_of_build_string(pkg.build)
        var = torch_variant(pkg.version, built[0]) if built else None
        if var is None:
            return None
        sass_c = tuple(sorted(t for t in (_parse_target(a) for a in var.row.archs) if t))
        ptx_c = tuple(sorted(t for t in (_parse_target(a) for a in var.row.ptx) if t))
        fact = (
            f"{label}: the pip wheels of this CUDA variant ship SASS {_fmt(set(sass_c))}; the pytorch-channel conda "
            "build is assumed to match (derived from the matrix)"
        )
        return DeviceCode(pkg, sass_c, ptx_c, var.evidence(fact, unsure=True), derived=True, ptx_toolkit=var.row.cuda)
    if str(canonicalize_name(pkg.name)) in TORCH_NAMES and pkg.ecosystem == "pypi":
        var = torch_variant(pkg.version)
        if var is None:
            return None
        sass_t = tuple(sorted(t for t in (_parse_target(a) for a in var.row.archs) if t))
        ptx_t = tuple(sorted(t for t in (_parse_target(a) for a in var.row.ptx) if t))
        fact = (
            f"{label} (cu{var.row.cuda.replace('.', '')}) ships SASS {_fmt(set(sass_t))} and PTX "
            f"{_fmt(set(ptx_t), 'compute_') or 'none'} ({_why_matrix(rep)})"
        )
        archs_unsure = var.row.archs_confidence is Confidence.UNSURE
        ev = var.evidence(fact, unsure=archs_unsure)
        return DeviceCode(pkg, sass_t, ptx_t, ev, derived=True, ptx_toolkit=var.row.cuda)
    return None


def _why_matrix(rep: ArtifactReport | None) -> str:
    if rep is not None and rep.device_code == "beyond-budget":
        return "the published matrix row: the wheel's device code lies beyond the inspect budget"
    return "derived from the matrix: no binary facts"


def _measured_device_code(pkg: Package, measured: Measured) -> DeviceCode | None:
    """Device code from the measured table; None when the measured wheel carries none (a CPU build)."""
    libs = measured.device_libs()
    sass = {t for lib in libs for t in (_parse_target(a) for a in lib.sass) if t}
    ptx = {t for lib in libs for t in (_parse_target(a) for a in lib.ptx) if t}
    if not sass and not ptx:
        return None
    where = ", ".join(lib.path for lib in libs) if len(libs) < 3 else f"{len(libs)} libraries"
    fact = f"{pkg_label(pkg)} carries SASS {_fmt(sass)} and PTX {_fmt(ptx, 'compute_') or 'none'} in {where}"
    return DeviceCode(pkg, tuple(sorted(sass)), tuple(sorted(ptx)), measured.evidence(fact), derived=False)


def _fmt(targets: set[tuple[int, str]] | frozenset[tuple[int, str]], prefix: str = "sm_") -> str:
    return ", ".join(f"{prefix}{sm}{v}" for sm, v in sorted(targets))


# --- glibc ----------------------------------------------------------------------------------------------------


_WHEEL_TAG = re.compile(r"-(?P<plat>(?:manylinux|musllinux)[A-Za-z0-9_.]+)\.whl$")


def wheel_platform_tag(pkg: Package) -> str | None:
    """The platform tag of a wheel from its URL or binary report ('manylinux_2_28_x86_64')."""
    if pkg.binary and pkg.binary.platform_tag:
        return pkg.binary.platform_tag.split(".")[0]
    if pkg.url:
        match = _WHEEL_TAG.search(pkg.url.split("#", 1)[0])
        if match:
            return match["plat"].split(".")[0]
    return None


def glibc_need(pkg: Package) -> tuple[str, Evidence] | None:
    """The glibc a package needs: measured from its ELF files, else its torch matrix row, else its wheel tag."""
    label = pkg_label(pkg)
    rep = pkg.binary
    if rep is not None and rep.max_glibc:
        by = next((e.path for e in rep.elf if e.needs("GLIBC") == rep.max_glibc), rep.artifact)
        return rep.max_glibc, Evidence(fact=f"{label} needs GLIBC_{rep.max_glibc} ({by}, binary facts)")
    # a wheel read within the inspect budget (`beyond-budget`) whose prefixes proved no GLIBC_ need: the measured
    # row for its sha256 answers, then the published row
    beyond = rep is not None and rep.device_code == "beyond-budget"
    measured = measured_facts(pkg) if rep is None or beyond else None
    if measured is not None and measured.row.glibc:
        return measured.row.glibc, measured.evidence(f"{label} needs GLIBC_{measured.row.glibc}")
    if str(canonicalize_name(pkg.name)) in TORCH_NAMES and pkg.ecosystem == "pypi":
        rel = torch_release(pkg.version)
        if rel is not None:
            fact = f"{label} wheels ({rel.row.manylinux}) need glibc {rel.row.glibc} (derived from the matrix)"
            return rel.row.glibc, rel.evidence(fact, unsure=rel.row.glibc_confidence is Confidence.UNSURE)
    tag = wheel_platform_tag(pkg)
    if tag:
        got = manylinux_glibc(tag)
        if got:
            glibc, src = got
            fact = f"{label} wheel tag {tag} claims glibc {glibc} (tags can understate the real need)"
            return glibc, src.evidence(fact)
    return None
