"""Driver branch lifecycle and the last driver branch of each GPU architecture (cuda_drivers.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.matrices import driver_branch, gpus_matrix, last_driver_branch
from envresolve.matrices import invariants as inv


def test_branch_lookup_by_driver_version() -> None:
    r580 = driver_branch("580.65.06")
    assert r580 is not None and r580.row.designation == "long-term-support" and r580.row.eol == "2028-06"
    assert r580.row.max_cuda_major == 13 and not r580.unsure
    assert driver_branch("R535").row.eol == "2026-06"  # type: ignore[union-attr]
    assert driver_branch("595.45.04").row.designation == "production"  # type: ignore[union-attr]
    assert driver_branch("610.43.02").row.designation == "new-feature"  # type: ignore[union-attr]
    assert driver_branch("550.54.14").unsure  # type: ignore[union-attr]  # designation from a third party
    assert driver_branch("999.1") is None and driver_branch("banana") is None


@pytest.mark.parametrize(
    ("cc", "last"),
    [("3.5", "R470"), ("3.7", "R470"), ("3.0", "R470"), ("5.2", "R580"), ("6.1", "R580"), ("7.0", "R580")],
)
def test_last_branch_of_retired_architectures(cc: str, last: str) -> None:
    row = last_driver_branch(cc)
    assert row is not None and row.row.last_branch == last


def test_current_architectures_have_no_last_branch() -> None:
    for cc in ("7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0"):
        row = last_driver_branch(cc)
        assert row is not None and row.row.last_branch is None and row.row.last_cuda is None


def test_every_retired_gpu_in_the_table_has_its_last_branch() -> None:
    retired = [g for g in gpus_matrix().rows if g.sm < 75 and not g.tegra]
    assert retired
    for gpu in retired:
        got = last_driver_branch(gpu.compute_capability)
        assert got is not None and got.row.last_branch in {"R470", "R580"}, gpu.name


def test_toolkit_building_a_retired_arch_fails(scratch: Path) -> None:
    path = scratch / "cuda_drivers.yaml"
    text = path.read_text(encoding="utf-8")
    edited = text.replace(
        'compute_capabilities: ["7.0"], first_cuda: "9.0", last_cuda: "12.x"',
        'compute_capabilities: ["7.0"], first_cuda: "9.0", last_cuda: "11.x"',
    )
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    msgs = [d.message for d in inv.arch_support_matches_toolkits()]
    assert "cuda_archs.yaml 12.0 builds sm_70, whose last CUDA is 11.x" in msgs


def test_branch_older_than_its_cuda_major_fails(scratch: Path) -> None:
    path = scratch / "cuda_drivers.yaml"
    text = path.read_text(encoding="utf-8")
    edited = text.replace('eol: "2027-03", max_cuda_major: 13', 'eol: "2027-03", max_cuda_major: 12')
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    msgs = [d.message for d in inv.arch_support_matches_toolkits()]
    assert any("branch R595 supports CUDA 12 only" in m for m in msgs)


def test_bad_eol_is_refused() -> None:
    from envresolve.matrices.models import DriverBranchRow

    with pytest.raises(ValueError, match="eol"):
        DriverBranchRow(branch="R580", designation="production", eol="June 2028", source="x")
    with pytest.raises(ValueError, match="R580"):
        DriverBranchRow(branch="580", designation="production", source="x")
