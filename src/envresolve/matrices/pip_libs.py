"""`matrices/cudnn_nccl_pip.yaml`: pip versions of cuDNN and NCCL wheels -> library release -> CUDA versions.

The first three components of a `nvidia-cudnn-cuXX` / `nvidia-nccl-cuXX` version are the library release
(`9.10.2.21` is cuDNN 9.10.2). Lookups are exact: a pip version missing from the table is unknown, never
answered by the nearest row.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from packaging.utils import canonicalize_name
from pydantic import StrictStr, model_validator

from envresolve.matrices.base import MatrixFile, MatrixRow, load_matrix

if TYPE_CHECKING:  # access imports this module to register the file
    from envresolve.matrices.access import Sourced

__all__ = ["PIP_LIBS_FILE", "PipLibRow", "PipLibsMatrix", "pip_lib_release", "pip_libs_matrix"]

PIP_LIBS_FILE = "cudnn_nccl_pip.yaml"

_PACKAGE = re.compile(r"^nvidia-(?P<lib>cudnn|nccl)-cu(?P<major>1[0-9])$")
_CC = re.compile(r"^[0-9]+\.[0-9]+$")


class PipLibRow(MatrixRow):
    """One pip version of a cuDNN or NCCL wheel."""

    package: StrictStr
    version: StrictStr
    library: Literal["cudnn", "nccl"]
    release: StrictStr
    cuda_major: int
    cuda: tuple[StrictStr, ...] = ()
    min_driver: StrictStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PipLibRow:
        m = _PACKAGE.match(self.package)
        if m is None or m["lib"] != self.library or int(m["major"]) != self.cuda_major:
            raise ValueError(f"{self.package}: not nvidia-{self.library}-cu{self.cuda_major}")
        if ".".join(self.version.split(".")[:3]) != self.release:
            raise ValueError(f"{self.package} {self.version}: the release is its first three components")
        for cuda in self.cuda:
            if not _CC.match(cuda) or int(cuda.split(".")[0]) != self.cuda_major:
                raise ValueError(f"{self.package} {self.version}: CUDA {cuda!r} is not a {self.cuda_major}.x version")
        return self


class PipLibsMatrix(MatrixFile):
    """`cudnn_nccl_pip.yaml`."""

    kind: Literal["cudnn-nccl-pip"]
    rows: tuple[PipLibRow, ...]

    @model_validator(mode="after")
    def _unique(self) -> PipLibsMatrix:
        keys = [(r.package, r.version) for r in self.rows]
        if len(keys) != len(set(keys)):
            raise ValueError("a (package, version) appears twice")
        return self


def pip_libs_matrix() -> PipLibsMatrix:
    """`cudnn_nccl_pip.yaml`, validated and cached."""
    loaded = load_matrix(PIP_LIBS_FILE, PipLibsMatrix)
    if not isinstance(loaded, PipLibsMatrix):  # load_matrix is cached and loses the type parameter
        raise TypeError(f"{PIP_LIBS_FILE} did not load as PipLibsMatrix")
    return loaded


def pip_lib_release(package: str, version: str) -> Sourced[PipLibRow] | None:
    """The row of exactly this pip package and version; None when it is not in the table (unknown)."""
    from envresolve.matrices.access import Sourced

    name = str(canonicalize_name(package))
    m = pip_libs_matrix()
    row = next((r for r in m.rows if r.package == name and r.version == version), None)
    return Sourced(row, m) if row is not None else None
