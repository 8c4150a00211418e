"""The sourced distro table (`matrices/distros.yaml`): OS release -> glibc and default libstdc++."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import StrictStr, model_validator

from envresolve.matrices.base import Confidence, MatrixFile, MatrixRow, load_matrix
from envresolve.node.facts import VersionStr

__all__ = ["DistroMatrix", "DistroRow", "Inference", "distro_matrix", "infer_glibc", "infer_libstdcxx"]

#: IDs whose VERSION_ID carries a minor release ("9.4") that shares the major release's glibc and libstdc++
_MAJOR_ONLY = {"rhel", "centos", "rocky", "almalinux", "ol", "amzn"}


class DistroRow(MatrixRow):
    """One fact of one distribution release: its glibc, or its default libstdc++ levels."""

    id: StrictStr
    version_id: StrictStr
    glibc: VersionStr | None = None
    gcc: VersionStr | None = None
    glibcxx: VersionStr | None = None
    cxxabi: VersionStr | None = None

    @model_validator(mode="after")
    def _one_fact(self) -> DistroRow:
        has_cxx = self.glibcxx is not None and self.cxxabi is not None
        if (self.glibc is not None) == has_cxx:
            raise ValueError(f"{self.id} {self.version_id}: a row states either glibc or glibcxx+cxxabi")
        return self


class DistroMatrix(MatrixFile):
    """`matrices/distros.yaml`."""

    kind: Literal["distros"]
    rows: tuple[DistroRow, ...]

    @model_validator(mode="after")
    def _unique(self) -> DistroMatrix:
        seen: set[tuple[str, str, bool]] = set()
        for row in self.rows:
            key = (row.id, row.version_id, row.glibc is not None)
            if key in seen:
                raise ValueError(f"duplicate row for {row.id} {row.version_id}")
            seen.add(key)
        return self


@dataclass(frozen=True)
class Inference:
    """An inferred fact with its citation."""

    row: DistroRow
    citation: str

    @property
    def unsure(self) -> bool:
        """True when the row is marked unsure."""
        return self.row.confidence is Confidence.UNSURE


def distro_matrix() -> DistroMatrix:
    """The validated distro table (cached by `load_matrix`)."""
    matrix: DistroMatrix = load_matrix("distros.yaml", DistroMatrix)
    return matrix


#: (the matrix it was built from, (id, version_id, is-a-glibc-row) -> first such row with its citation)
_index: tuple[DistroMatrix, dict[tuple[str, str, bool], Inference]] | None = None


def _rows_by_release(matrix: DistroMatrix) -> dict[tuple[str, str, bool], Inference]:
    global _index
    if _index is None or _index[0] is not matrix:  # a new table (tests reload matrices) gets a new index
        found: dict[tuple[str, str, bool], Inference] = {}
        for row in matrix.rows:
            found.setdefault((row.id, row.version_id, row.glibc is not None), Inference(row, matrix.cite(row)))
        _index = (matrix, found)
    return _index[1]


def _find(os_id: str | None, version_id: str | None, *, glibc: bool) -> Inference | None:
    if not os_id or not version_id:
        return None
    rows = _rows_by_release(distro_matrix())
    os_id = os_id.strip().lower()
    version_id = version_id.strip()
    candidates = [version_id]
    if os_id in _MAJOR_ONLY and "." in version_id:
        candidates.append(version_id.split(".")[0])
    for want in candidates:
        inf = rows.get((os_id, want, glibc))
        if inf is not None:
            return inf
    return None


def infer_glibc(os_id: str | None, version_id: str | None) -> Inference | None:
    """The glibc row for an OS release, or None when the table has none."""
    return _find(os_id, version_id, glibc=True)


def infer_libstdcxx(os_id: str | None, version_id: str | None) -> Inference | None:
    """The default-libstdc++ row for an OS release, or None when the table has none."""
    return _find(os_id, version_id, glibc=False)
