"""The measured-wheels table: coverage of torch releases, agreement with pytorch.yaml, the cuDNN/NCCL pip table."""

from __future__ import annotations

import json
import urllib.request
import zipfile
from datetime import date
from pathlib import Path

import pytest
from packaging.version import Version

import envresolve
from envresolve.binary.measured import cuda_pins, measured_row, wheel_cxx11_flavour
from envresolve.matrices import pytorch_matrix, torch_variant
from envresolve.matrices.access import pip_lib_release, pip_libs_matrix
from envresolve.matrices.base import matrices_dir
from envresolve.matrices.measured import MeasuredWheel, measured_by_file, measured_wheels_matrix, wheel_key

ELF = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"


def _torch_x86() -> dict[str, MeasuredWheel]:
    return {r.version: r for r in measured_wheels_matrix().rows if r.name == "torch" and r.tag.endswith("x86_64")}


def _main_sass(row: MeasuredWheel) -> list[str]:
    main = row.main_device_lib()
    assert main is not None, row.file
    return sorted(main.sass)


def test_table_is_compact_and_keyed() -> None:
    assert (matrices_dir() / "measured_wheels.yaml").stat().st_size < 2 << 20
    rows = measured_wheels_matrix().rows
    assert len({r.sha256 for r in rows}) == len(rows)
    for r in rows:
        assert measured_by_file(r.file) == r


def test_every_torch_minor_from_1_7_is_measured() -> None:
    measured = _torch_x86()
    for rel in pytorch_matrix().rows:
        assert rel.latest_patch in measured, f"torch {rel.latest_patch} x86_64 is not measured"


def test_pytorch_matrix_agrees_with_the_measurements() -> None:
    """Measurement wins: the PyPI default variant's SASS, glibc and ABI in pytorch.yaml are what the wheel holds."""
    measured = _torch_x86()
    for rel in pytorch_matrix().rows:
        row = measured[rel.latest_patch]
        var = torch_variant(rel.latest_patch)
        assert var is not None
        want = sorted(f"sm_{a.replace('.', '')}" for a in var.row.archs)
        assert _main_sass(row) == want, f"torch {rel.latest_patch}: {_main_sass(row)} measured, {want} in pytorch.yaml"
        assert row.glibc == rel.glibc, f"torch {rel.latest_patch}: GLIBC_{row.glibc} measured"
        flag = rel.variant_cxx11(var.row)
        assert row.cxx11_abi == ("cxx11" if flag else "pre-cxx11"), rel.latest_patch


def test_every_pinned_cudnn_and_nccl_version_is_in_the_pip_table() -> None:
    pins: set[tuple[str, str]] = set()
    for rel in pytorch_matrix().rows:
        var = torch_variant(rel.version)
        major = var.row.cuda.split(".")[0] if var is not None else None
        if rel.cudnn and major:
            pins.add((f"nvidia-cudnn-cu{major}", rel.cudnn))
        if rel.nccl and major:
            pins.add((f"nvidia-nccl-cu{major}", rel.nccl))
    for row in measured_wheels_matrix().rows:
        pins |= {(k, v) for k, v in row.pins.items() if k.startswith(("nvidia-cudnn-", "nvidia-nccl-"))}
    assert pins
    missing = sorted(p for p in pins if pip_lib_release(*p) is None)
    assert missing == []


def test_pip_table_lookup_is_exact() -> None:
    assert pip_lib_release("nvidia-cudnn-cu12", "9.10.2.21") is not None
    assert pip_lib_release("nvidia-cudnn-cu12", "9.10.2.20") is None
    assert pip_lib_release("nvidia-cudnn-cu13", "9.10.2.21") is None
    for row in pip_libs_matrix().rows:
        assert row.release == ".".join(row.version.split(".")[:3])


def test_wheel_key_drops_the_build_tag() -> None:
    assert wheel_key("torch-2.10.0-3-cp311-cp311-manylinux_2_28_x86_64.whl") == (
        "torch",
        "2.10.0",
        "cp311-cp311-manylinux_2_28_x86_64",
    )
    assert wheel_key("not-a-wheel.tar.gz") is None


def test_cuda_pins_keep_exact_cuda_library_pins() -> None:
    lines = [
        'nvidia-cudnn-cu12==9.10.2.21; platform_system == "Linux"',
        "nvidia-nccl-cu12 (==2.27.3)",
        "cuda-toolkit[cublas,cudart]==13.0.2",
        "nvidia-cublas-cu12==12.8.4.1",
        "filelock",
        "nvidia-cudnn-cu13>=9",
        "not a requirement ===",
    ]
    assert cuda_pins(lines) == {
        "cuda-toolkit": "13.0.2",
        "nvidia-cudnn-cu12": "9.10.2.21",
        "nvidia-nccl-cu12": "2.27.3",
    }


def test_measured_row_of_a_real_wheel(tmp_path: Path) -> None:
    """A wheel holding a real CUDA ELF fixture (built by tests/fixtures/elf) summarizes into a valid row."""
    whl = tmp_path / "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ELF / "libcuda_mixed.so", "demo/libcuda_mixed.so")
        zf.write(ELF / "libcxx11.so", "demo/libcxx11.so")
        zf.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
        zf.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n")
        zf.writestr("demo-1.0.dist-info/RECORD", "")
    report = envresolve.inspect(whl, cache=False)
    row = measured_row(
        report, filename=whl.name, size=whl.stat().st_size, measured=date(2026, 12, 6), requires_dist=["x==1"]
    )
    assert row.sha256 == report.sha256 and row.tag == "cp311-cp311-manylinux_2_28_x86_64"
    libs = {lib.path: lib for lib in row.device_code}
    assert set(libs) == {"demo/libcuda_mixed.so"}
    assert set(libs["demo/libcuda_mixed.so"].sass) == {"sm_75", "sm_90"}
    assert row.cxx11_abi == wheel_cxx11_flavour(report.elf)
    assert row.pins == {}
    with pytest.raises(ValueError, match="not a wheel file name"):
        measured_row(report, filename="demo.tar.gz", size=1, measured=date(2026, 12, 6))


@pytest.mark.network
def test_table_matches_pypi() -> None:
    """Every torch release from 1.7 on PyPI has a measured x86_64 row, and a sample of rows' hashes is PyPI's."""
    req = urllib.request.Request(
        "https://pypi.org/simple/torch/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        page = json.load(resp)
    versions = {v for v in page["versions"] if Version(v) >= Version("1.7") and not Version(v).is_prerelease}
    assert versions - set(_torch_x86()) == set()
    hashes = {f["filename"]: f["hashes"]["sha256"] for f in page["files"]}
    rows = [r for r in measured_wheels_matrix().rows if r.name == "torch"]
    for row in rows[:: max(1, len(rows) // 8)]:
        assert hashes.get(row.file) == row.sha256, row.file
