"""JAX and TensorFlow CUDA / driver floors in frameworks.yaml, and the check that keeps them consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.matrices import framework_row
from envresolve.matrices import invariants as inv


@pytest.mark.parametrize(
    ("package", "version", "cuda", "cudnn", "driver", "cc"),
    [
        ("jax-cuda12-plugin", "0.7.1", "12.1", "9.8", "525", "5.2"),
        ("jax-cuda13-plugin", "0.8.0", "13.0", "9.12", "580", "7.5"),
        ("tensorflow", "2.16.2", "12.3", "8.9", "525.60.13", None),
        ("tensorflow", "2.15.1", "12.2", "8.9", None, None),
        ("tensorflow", "2.13.0", "11.8", "8.6", None, None),
        ("tensorflow", "2.10.1", "11.2", "8.1", None, None),
        ("tensorflow", "2.4.4", "11.0", "8.0", None, None),
        ("tensorflow", "2.3.0", "10.1", "7.6", None, None),
    ],
)
def test_rows(package: str, version: str, cuda: str, cudnn: str, driver: str | None, cc: str | None) -> None:
    row = framework_row(package, version)
    assert row is not None and not row.unsure
    assert (row.row.cuda, row.row.cudnn, row.row.min_driver, row.row.min_compute_capability) == (
        cuda,
        cudnn,
        driver,
        cc,
    )
    assert "(read 20" in row.citation


def test_every_tensorflow_minor_from_2_0_has_a_row() -> None:
    for minor in range(22):
        assert framework_row("tensorflow", f"2.{minor}.0") is not None, minor


def test_inconsistent_floor_fails(scratch: Path) -> None:
    path = scratch / "frameworks.yaml"
    text = path.read_text(encoding="utf-8")
    edited = text.replace(
        'min_driver: "580", min_compute_capability: "7.5"', 'min_driver: "570", min_compute_capability: "7.0"'
    )
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    msgs = [d.message for d in inv.framework_floors_consistent()]
    assert any("driver floor 570 is not in CUDA 13's branch" in m for m in msgs)
    assert any("CUDA 13.0 cannot build sm_70" in m for m in msgs)
