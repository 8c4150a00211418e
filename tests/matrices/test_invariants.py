"""Cross-file consistency checks pass on the real files, and each one fails when its invariant is broken."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from envresolve.matrices import MATRIX_FILES, base, matrices_dir
from envresolve.matrices import invariants as inv
from envresolve.matrices.base import read_matrix_obj
from envresolve.matrices.schema import render_schemas, stale_schemas, write_schemas


def test_real_matrices_are_consistent() -> None:
    assert inv.check_all() == []


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of matrices/ that the loaders read instead of the real one."""
    for path in matrices_dir().glob("*.yaml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(base, "matrices_dir", lambda: tmp_path)
    monkeypatch.setattr(inv, "matrices_dir", lambda: tmp_path)
    from envresolve.matrices import access

    access.clear_caches()
    yield tmp_path
    access.clear_caches()


def _edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_torch_variant_without_driver_row_fails(scratch: Path) -> None:
    _edit(scratch, "cuda_drivers.yaml", '  - {cuda: "12.6", update: 0,', '  - {cuda: "12.7", update: 0,')
    _edit(scratch, "cuda_drivers.yaml", '  - {cuda: "12.6", update: 1,', '  - {cuda: "12.7", update: 1,')
    _edit(scratch, "cuda_drivers.yaml", '  - {cuda: "12.6", update: 2,', '  - {cuda: "12.7", update: 2,')
    _edit(scratch, "cuda_drivers.yaml", '  - {cuda: "12.6", update: 3,', '  - {cuda: "12.7", update: 3,')
    msgs = [d.message for d in inv.torch_variants_have_driver_rows()]
    assert any("cu126" in m and "no CUDA 12.6 row" in m for m in msgs)


def test_gpu_capability_missing_from_arch_table_fails(scratch: Path) -> None:
    _edit(scratch, "cuda_archs.yaml", "  - {sm: 37, name: Kepler, source: ptxas-11.8}\n", "")
    _edit(
        scratch,
        "cuda_archs.yaml",
        "sass: [35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87]",
        "sass: [35, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87]",
    )
    _edit(
        scratch,
        "cuda_archs.yaml",
        "sass: [35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90]",
        "sass: [35, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90]",
    )
    _edit(scratch, "cuda_archs.yaml", "removed: [35, 37]", "removed: [35]")
    _edit(
        scratch,
        "cuda_archs.yaml",
        "sass: [30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75]",
        "sass: [30, 32, 35, 50, 52, 53, 60, 61, 62, 70, 72, 75]",
    )
    msgs = [d.message for d in inv.gpu_capabilities_in_arch_table()]
    assert msgs == ["gpus.yaml Tesla K80: compute capability 3.7 (sm_37) is not in cuda_archs.yaml"]


def test_non_monotonic_driver_fails(scratch: Path) -> None:
    _edit(
        scratch,
        "cuda_drivers.yaml",
        'release: "CUDA 12.8 GA", min_driver: "570.26"',
        'release: "CUDA 12.8 GA", min_driver: "470.26"',
    )
    msgs = [d.message for d in inv.driver_minimums_monotonic()]
    assert any("CUDA 12.8 GA needs 470.26" in m for m in msgs)


def test_minor_floor_must_be_ga_driver(scratch: Path) -> None:
    _edit(
        scratch,
        "cuda_drivers.yaml",
        'min_driver: "525.60.13"\n    below_driver: "580"',
        'min_driver: "525.85.12"\n    below_driver: "580"',
    )
    assert any("floor 525.85.12" in d.message for d in inv.driver_minimums_monotonic())


def test_unbuildable_torch_arch_fails(scratch: Path) -> None:
    _edit(scratch, "pytorch.yaml", '{cuda: "13.0", archs: ["7.5", "8.0"', '{cuda: "13.0", archs: ["6.0", "7.5", "8.0"')
    assert any("sm_60 is not buildable by CUDA 13.0" in d.message for d in inv.torch_archs_buildable())


def test_toolkit_silently_dropping_an_arch_fails(scratch: Path) -> None:
    _edit(
        scratch,
        "cuda_archs.yaml",
        "removed: [50, 52, 53, 60, 61, 62, 70, 72, 101]",
        "removed: [50, 52, 53, 60, 61, 62, 70, 101]",
    )
    assert any("sm_72 disappears" in d.message for d in inv.toolkit_ranges_consistent())


def test_double_pairing_fails(scratch: Path) -> None:
    _edit(scratch, "pytorch.yaml", 'torchvision: "0.23"', 'torchvision: "0.22"')
    assert any("torchvision 0.22 pairs with torch 2.7 and 2.8" in d.message for d in inv.torch_pairing_unique())


def test_unknown_distro_glibcxx_level_fails(scratch: Path) -> None:
    obj = read_matrix_obj(scratch / "distros.yaml")
    row = next(r for r in obj["rows"] if r.get("glibcxx"))
    text = (scratch / "distros.yaml").read_text(encoding="utf-8")
    (scratch / "distros.yaml").write_text(text.replace(f'glibcxx: "{row["glibcxx"]}"', 'glibcxx: "3.4.99"', 1), "utf-8")
    assert any("GLIBCXX_3.4.99 is not in abi.yaml" in d.message for d in inv.distro_gcc_levels_known())


def test_invalid_file_reports_mx101(scratch: Path) -> None:
    _edit(scratch, "gpus.yaml", "source: cuda-gpus}", "source: cuda-gpu}")
    diags = inv.check_all()
    assert [d.code for d in diags] == ["MX101"] and "unknown source" in diags[0].message


# --- JSON Schemas --------------------------------------------------------------------------------------------------


def test_exported_schemas_are_up_to_date() -> None:
    assert stale_schemas() == [], "run: python -m envresolve.matrices schema"


def test_stale_schema_is_detected(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    assert stale_schemas(tmp_path) == []
    (tmp_path / "gpus.schema.json").write_text("{}\n", encoding="utf-8")
    assert stale_schemas(tmp_path) == ["gpus.schema.json"]


@pytest.mark.parametrize("name", sorted(MATRIX_FILES))
def test_file_validates_against_exported_schema(name: str) -> None:
    schema = json.loads(render_schemas()[name.removesuffix(".yaml") + ".schema.json"])
    jsonschema.validate(read_matrix_obj(matrices_dir() / name), schema)


def test_image_release_without_distro_row_fails(scratch: Path) -> None:
    assert inv.image_releases_in_distro_table() == []
    _edit(scratch, "images.yaml", 'os_id: ubuntu, version_id: "22.04"', 'os_id: ubuntu, version_id: "22.10"')
    assert any("no glibc row for ubuntu 22.10" in d.message for d in inv.image_releases_in_distro_table())


def test_manylinux_ceiling_falling_fails(scratch: Path) -> None:
    _edit(
        scratch,
        "abi.yaml",
        'policy: "manylinux_2_28", aliases: [], arch: x86_64, glibc: "2.28", glibcxx: "3.4.24"',
        'policy: "manylinux_2_28", aliases: [], arch: x86_64, glibc: "2.28", glibcxx: "3.4.21"',
    )
    msgs = [d.message for d in inv.manylinux_ceilings_monotonic()]
    assert any("manylinux_2_28 x86_64: glibcxx ceiling 3.4.21 is below manylinux_2_27's 3.4.24" in m for m in msgs)
