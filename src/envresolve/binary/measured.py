"""Summarize an `inspect` report of a wheel into one row of the measured-wheels table (see `matrices.measured`)."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envresolve.binary.cxxabi import CxxAbi
from envresolve.binary.model import ArtifactReport, ElfFacts
from envresolve.binary.report import bundled_runtime_cuda
from envresolve.matrices.measured import DeviceLib, MeasuredWheel, wheel_key

__all__ = ["cuda_pins", "measured_row", "wheel_cxx11_flavour"]

# Requires-Dist names whose exact pins say which CUDA runtime, cuDNN and NCCL a wheel is built against.
_PIN_NAMES = re.compile(r"^(nvidia-cudnn-cu[0-9]+|nvidia-nccl-cu[0-9]+|nvidia-cuda-runtime-cu[0-9]+|cuda-toolkit)$")


def cuda_pins(requires_dist: Iterable[str]) -> dict[str, str]:
    """`name -> version` of the `==` pins of CUDA libraries in Requires-Dist lines (markers ignored)."""
    pins: dict[str, str] = {}
    for line in requires_dist:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        name = str(canonicalize_name(req.name))
        if not _PIN_NAMES.match(name):
            continue
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if len(exact) == 1:
            pins[name] = exact[0]
    return dict(sorted(pins.items()))


def wheel_cxx11_flavour(elf: Iterable[ElfFacts]) -> CxxAbi:
    """cxx11 / pre-cxx11 when the libraries that show a flavour agree, mixed when they disagree, else none."""
    seen = {e.cxx_abi for e in elf} - {"none", "mixed"}
    if seen == {"cxx11"}:
        return "cxx11"
    if seen == {"pre-cxx11"}:
        return "pre-cxx11"
    return "mixed" if seen else "none"


def _device_libs(elf: Iterable[ElfFacts]) -> tuple[DeviceLib, ...]:
    libs = []
    for e in elf:
        if not e.fatbin:
            continue
        sass = sorted({f.arch for f in e.fatbin if f.kind == "sass"}, key=_target_key)
        ptx = sorted({_ptx_name(f.arch) for f in e.fatbin if f.kind == "ptx"}, key=_target_key)
        libs.append(DeviceLib(path=e.path, sass=tuple(sass), ptx=tuple(ptx), bytes=sum(f.size for f in e.fatbin)))
    return tuple(sorted(libs, key=lambda lib: lib.path))


def _ptx_name(arch: str) -> str:
    return "compute_" + arch.split("_", 1)[1] if arch.startswith("sm_") else arch


def _target_key(t: str) -> tuple[int, str]:
    m = re.match(r"^(?:sm|compute)_([0-9]+)([a-z]?)$", t)
    return (int(m.group(1)), m.group(2)) if m else (1 << 30, t)


def measured_row(
    report: ArtifactReport,
    *,
    filename: str,
    size: int,
    measured: _dt.date,
    requires_dist: Iterable[str] = (),
    source: str = "envresolve-inspect",
    note: str | None = None,
) -> MeasuredWheel:
    """The measured-table row of a wheel report. Raises ValueError when the report has no sha256 or the file name
    is not a wheel's."""
    key = wheel_key(filename)
    if key is None or not report.sha256:
        raise ValueError(f"{filename}: not a wheel file name, or the report has no sha256")
    name, version, tag = key
    return MeasuredWheel(
        sha256=report.sha256,
        file=filename,
        name=name,
        version=version,
        tag=tag,
        size=size,
        measured=measured,
        elf_files=len(report.elf),
        glibc=report.max_glibc,
        glibcxx=report.max_glibcxx,
        cxxabi=report.max_cxxabi,
        cxx11_abi=wheel_cxx11_flavour(report.elf),
        cuda_linked=report.cuda_runtime_majors,
        cuda_bundled=report.cuda_runtime_bundled or bundled_runtime_cuda(e.path for e in report.elf),
        cuda_static=report.cuda_runtime_static,
        needed=report.external_libs,
        device_code=_device_libs(report.elf),
        pins=cuda_pins(requires_dist),
        findings=tuple(sorted({d.code for d in report.diagnostics})),
        source=source,
        note=note,
    )
