"""`matrices/cudnn_nccl_pip.yaml`: pip versions of cuDNN and NCCL wheels -> library release -> CUDA versions.

The first three components of a `nvidia-cudnn-cuXX` / `nvidia-nccl-cuXX` version are the library release
(`9.10.2.21` is cuDNN 9.10.2). Lookups are exact: a pip version missing from the table is unknown, never
answered by the nearest row.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import StrictStr, model_validator

from envresolve.matrices.base import MatrixFile, MatrixRow

__all__ = ["PIP_LIBS_FILE", "PipLibRow", "PipLibsMatrix"]

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
