"""Measured facts of a package's wheel: the row of `matrices/measured_wheels.yaml` for the very file it installs.

A wheel is identified by its sha256 (a lock's hash, a `#sha256=` URL fragment) or, when no hash is known, by the
(name, version, tag) of its file name. A known hash that differs from the row's means another file: no match.
The facts answer when the package carries no binary report of its own; their provenance is "measured".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from envresolve.compat.common import TORCH_NAMES
from envresolve.compat.model import Package
from envresolve.diagnostics import Evidence
from envresolve.matrices.measured import (
    DeviceLib,
    MeasuredWheel,
    measured_by_file,
    measured_by_sha256,
    measured_wheels_matrix,
)

__all__ = ["Measured", "measured_facts", "package_sha256"]

_FRAGMENT = re.compile(r"#(?:.*&)?sha256=(?P<sha>[0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Measured:
    """A measured-table row and how the package's wheel was matched to it ('sha256' or 'file name')."""

    row: MeasuredWheel
    matched_by: str

    def evidence(self, fact: str) -> Evidence:
        """Evidence for a fact read from this row: provenance 'measured', the file, hash prefix and date."""
        r = self.row
        where = f"measured by envresolve inspect on {r.file} (sha256 {r.sha256[:12]}, {r.measured.isoformat()})"
        return Evidence(fact=f"{fact} ({where}; matched by {self.matched_by})", source=measured_wheels_matrix().cite(r))

    def device_libs(self) -> tuple[DeviceLib, ...]:
        """The libraries whose device code decides whether the package runs on a GPU.

        torch: the library with the most device code (libtorch_cuda.so), which every CUDA run loads; a kernel
        missing there fails however many helper libraries carry it. Other packages: every library with device
        code (a GPU is covered when any of them covers it), since which library loads can depend on the setup."""
        if str(canonicalize_name(self.row.name)) in TORCH_NAMES:
            main = self.row.main_device_lib()
            return (main,) if main is not None else ()
        return self.row.device_code


def package_sha256(pkg: Package) -> str | None:
    """The sha256 of the file a package installs, where known: its own field, its binary report, its URL."""
    if pkg.sha256:
        return pkg.sha256.lower()
    if pkg.binary is not None and pkg.binary.sha256:
        return pkg.binary.sha256.lower()
    match = _FRAGMENT.search(pkg.url or "")
    return match["sha"].lower() if match else None


def measured_facts(pkg: Package) -> Measured | None:
    """The measured row of a PyPI package's wheel, by sha256, else by its URL's file name when no hash is known."""
    if pkg.ecosystem != "pypi":
        return None
    sha = package_sha256(pkg)
    if sha is not None:
        row = measured_by_sha256(sha)
        return Measured(row, "sha256") if row is not None else None
    if not pkg.url:
        return None
    row = measured_by_file(pkg.url)
    if row is None or str(canonicalize_name(pkg.name)) != row.name:
        return None
    return Measured(row, "file name (name, version, tag)")
