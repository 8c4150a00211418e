"""The measured-wheels table (`matrices/measured_wheels.yaml`): facts `envresolve inspect` read from real PyPI wheels.

Each row is one wheel file, keyed by its sha256 and by (name, version, tag). It holds the summary the rules need:
the SASS/PTX targets of every library that carries device code, the highest GLIBC_/GLIBCXX_/CXXABI_ versions
needed, the C++ ABI flavour, the libraries needed from outside the wheel, the CUDA runtime it links or bundles,
and the CUDA library pins of its metadata. `tools/measure_wheels.py` regenerates it; it is not part of the tests.

A measured row is the strongest layer of knowledge about a wheel (see DESIGN.md, "measured"): where it disagrees
with a transcribed matrix row, the matrix row is corrected.
"""

from __future__ import annotations

import datetime as _dt
import re
from functools import cache
from typing import Literal

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from envresolve.matrices.base import MatrixFile, MatrixRow, load_matrix

__all__ = [
    "MEASURED_FILE",
    "DeviceLib",
    "MeasuredWheel",
    "MeasuredWheelsMatrix",
    "measured_by_file",
    "measured_by_sha256",
    "measured_wheels_matrix",
    "wheel_key",
]

MEASURED_FILE = "measured_wheels.yaml"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TARGET = re.compile(r"^(?:sm|compute)_[0-9]+[af]?$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class DeviceLib(_Frozen):
    """One library of a wheel that carries device code the driver can load, and its targets."""

    path: StrictStr = Field(description="member path inside the wheel")
    sass: tuple[StrictStr, ...] = Field(default=(), description="SASS targets, e.g. 'sm_90a'")
    ptx: tuple[StrictStr, ...] = Field(default=(), description="PTX targets, e.g. 'compute_90'")
    bytes: int = Field(ge=0, description="device code bytes as stored in the library's fatbinary")

    @model_validator(mode="after")
    def _targets(self) -> DeviceLib:
        for t in (*self.sass, *self.ptx):
            if not _TARGET.match(t):
                raise ValueError(f"{self.path}: not a CUDA target: {t!r}")
        return self


class MeasuredWheel(MatrixRow):
    """Facts of one wheel file, as read by `envresolve.inspect` on the date `measured`."""

    sha256: StrictStr
    file: StrictStr
    name: StrictStr
    version: StrictStr
    tag: StrictStr = Field(description="the wheel's tag triple, 'cp311-cp311-manylinux_2_28_x86_64'")
    size: int = Field(ge=0)
    measured: _dt.date
    elf_files: int = Field(ge=0, description="ELF members read")
    glibc: StrictStr | None = Field(default=None, description="highest GLIBC_ version needed")
    glibcxx: StrictStr | None = Field(default=None, description="highest GLIBCXX_ version needed")
    cxxabi: StrictStr | None = Field(default=None, description="highest CXXABI_ version needed")
    cxx11_abi: Literal["cxx11", "pre-cxx11", "mixed", "none"] = Field(
        description="C++ string ABI of its libraries (libraries that are themselves mixed or neutral aside)"
    )
    cuda_linked: tuple[int, ...] = Field(default=(), description="CUDA runtime majors linked (libcudart.so.N)")
    cuda_bundled: StrictStr | None = Field(
        default=None, description="version of a CUDA runtime shipped inside the wheel, from its file name"
    )
    cuda_static: bool = Field(default=False, description="some library contains the CUDA runtime statically")
    needed: tuple[StrictStr, ...] = Field(default=(), description="DT_NEEDED names nothing in the wheel provides")
    device_code: tuple[DeviceLib, ...] = ()
    pins: dict[str, str] = Field(
        default_factory=dict, description="'==' pins of CUDA libraries in Requires-Dist (nvidia-*, cuda-toolkit)"
    )
    findings: tuple[StrictStr, ...] = Field(default=(), description="codes inspect reported (e.g. BN601)")

    @model_validator(mode="after")
    def _consistent(self) -> MeasuredWheel:
        if not _SHA256.match(self.sha256):
            raise ValueError(f"{self.file}: sha256 must be 64 lower-case hex digits")
        if wheel_key(self.file) != (str(canonicalize_name(self.name)), self.version, self.tag):
            raise ValueError(f"{self.file}: name, version or tag disagree with the file name")
        return self

    def main_device_lib(self) -> DeviceLib | None:
        """The library with the most device code (libtorch_cuda.so for torch): the one every GPU run needs."""
        return max(self.device_code, key=lambda lib: (lib.bytes, lib.path), default=None)


class MeasuredWheelsMatrix(MatrixFile):
    """`measured_wheels.yaml`."""

    kind: Literal["measured-wheels"]
    rows: tuple[MeasuredWheel, ...]

    @model_validator(mode="after")
    def _unique_keys(self) -> MeasuredWheelsMatrix:
        shas: set[str] = set()
        keys: set[tuple[str, str, str]] = set()
        for row in self.rows:
            key = (row.name, row.version, row.tag)
            if row.sha256 in shas or key in keys:
                raise ValueError(f"{row.file}: measured twice (sha256 and (name, version, tag) are row keys)")
            shas.add(row.sha256)
            keys.add(key)
        return self


def wheel_key(filename: str) -> tuple[str, str, str] | None:
    """(canonical name, version, tag triple) of a wheel file name; the build tag is not part of the key."""
    base = filename.rsplit("/", 1)[-1].split("#", 1)[0].split("?", 1)[0]
    try:
        name, version, _build, _tags = parse_wheel_filename(base)
    except InvalidWheelFilename:
        return None
    tag = "-".join(base[: -len(".whl")].split("-")[-3:])
    return str(name), str(version), tag


def measured_wheels_matrix() -> MeasuredWheelsMatrix:
    """`measured_wheels.yaml`, validated and cached."""
    loaded = load_matrix(MEASURED_FILE, MeasuredWheelsMatrix)
    if not isinstance(loaded, MeasuredWheelsMatrix):  # load_matrix is cached and loses the type parameter
        raise TypeError(f"{MEASURED_FILE} did not load as MeasuredWheelsMatrix")
    return loaded


@cache
def _index() -> tuple[dict[str, MeasuredWheel], dict[tuple[str, str, str], MeasuredWheel]]:
    m = measured_wheels_matrix()
    return {r.sha256: r for r in m.rows}, {(r.name, r.version, r.tag): r for r in m.rows}


def measured_by_sha256(sha256: str) -> MeasuredWheel | None:
    """The measured row of the wheel with this sha256, if it was measured."""
    return _index()[0].get(sha256.lower())


def measured_by_file(filename: str) -> MeasuredWheel | None:
    """The measured row of the wheel with this file name's (name, version, tag), if one was measured.

    PyPI never serves two files under one name, so the key names one file there; a wheel of the same name from
    another index may differ, which is why a sha256 match is preferred where the hash is known."""
    key = wheel_key(filename)
    return _index()[1].get(key) if key else None
