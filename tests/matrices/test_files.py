"""Every matrix file validates; every row cites a known source; versions are quoted; the accessors answer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from envresolve.errors import InternalError
from envresolve.matrices import (
    MATRIX_FILES,
    Confidence,
    all_matrices,
    cuda_min_driver,
    cuda_of_build_string,
    cuda_of_package_name,
    gcc_levels,
    gpu_by_name,
    gpu_by_pci_id,
    manylinux_glibc,
    matrices_dir,
    minor_compat_floor,
    soname_providers,
    toolkit_archs,
    torch_release,
    torch_variant,
)
from envresolve.matrices.base import read_matrix_obj


@pytest.mark.parametrize("name", sorted(MATRIX_FILES))
def test_file_validates_and_every_row_is_sourced(name: str) -> None:
    matrix = all_matrices()[name]
    rows = matrix._all_rows()
    assert rows, f"{name} has no rows"
    for row in rows:
        assert row.source in matrix.sources, f"{name}: row cites unknown source {row.source!r}"
        assert row.confidence in (Confidence.CONFIRMED, Confidence.UNSURE)
        cite = matrix.cite(row)
        assert "(read 20" in cite


@pytest.mark.parametrize("name", sorted(MATRIX_FILES))
def test_every_source_is_used(name: str) -> None:
    matrix = all_matrices()[name]
    used = {r.source for r in matrix._all_rows()}
    used |= {getattr(r, f, None) for r in matrix._all_rows() for f in ("pci_source", "floor_source")} - {None}
    assert set(matrix.sources) <= used, f"{name}: unused sources {set(matrix.sources) - used}"


def _write(tmp_path: Path, name: str, obj: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(obj), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(MATRIX_FILES))
def test_row_without_source_fails(name: str) -> None:
    model = MATRIX_FILES[name]
    obj = read_matrix_obj(matrices_dir() / name)
    key = next(k for k in ("rows", "archs", "pypi", "manylinux", "cudnn") if k in obj)
    del obj[key][0]["source"]
    with pytest.raises(ValueError, match="source"):
        model.model_validate(obj)


@pytest.mark.parametrize("name", sorted(MATRIX_FILES))
def test_row_citing_unknown_source_fails(name: str) -> None:
    model = MATRIX_FILES[name]
    obj = read_matrix_obj(matrices_dir() / name)
    key = next(k for k in ("rows", "archs", "pypi", "manylinux", "cudnn") if k in obj)
    obj[key][-1]["source"] = "no-such-source"
    with pytest.raises(ValueError, match="unknown source"):
        model.model_validate(obj)


def test_unquoted_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (matrices_dir() / "cuda_drivers.yaml").read_text(encoding="utf-8")
    bad = text.replace('cuda: "12.8", update: 1', "cuda: 12.8, update: 1", 1)
    assert bad != text
    (tmp_path / "cuda_drivers.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match="quote versions"):
        read_matrix_obj(tmp_path / "cuda_drivers.yaml")


def test_invalid_file_is_an_internal_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from envresolve.matrices import base

    obj = read_matrix_obj(matrices_dir() / "gpus.yaml")
    obj["rows"][0]["compute_capability"] = "three"
    _write(tmp_path, "gpus.yaml", obj)
    monkeypatch.setattr(base, "matrices_dir", lambda: tmp_path)
    base.forget_loaded()
    try:
        with pytest.raises(InternalError):
            base.load_matrix("gpus.yaml", MATRIX_FILES["gpus.yaml"])
    finally:
        base.forget_loaded()


# --- accessors, against real rows -------------------------------------------------------------------------------


def test_cuda_min_driver_reads_ga_row() -> None:
    ans = cuda_min_driver("12.8")
    assert ans is not None
    assert ans.row.min_driver == "570.26" and ans.row.release == "CUDA 12.8 GA"
    assert "CUDA Toolkit 13.4 Update 1 Release Notes" in ans.citation
    assert cuda_min_driver("12.8.90") == ans  # a runtime library version reads as its major.minor
    assert cuda_min_driver("13.0").row.min_driver == "580.65.06"  # type: ignore[union-attr]
    assert cuda_min_driver("12.7") is None  # there is no CUDA 12.7


def test_minor_compat_floors() -> None:
    assert minor_compat_floor(12).row.min_driver == "525.60.13"  # type: ignore[union-attr]
    assert minor_compat_floor(11).row.min_driver == "450.80.02"  # type: ignore[union-attr]
    assert minor_compat_floor(13).row.below_driver is None  # type: ignore[union-attr]
    assert minor_compat_floor(14) is None


def test_gpu_lookup() -> None:
    t4 = gpu_by_name("Tesla T4")
    assert t4 is not None and t4.row.compute_capability == "7.5"
    assert gpu_by_name("NVIDIA GeForce RTX 4090").row.sm == 89  # type: ignore[union-attr]
    assert gpu_by_name("nvidia h100 80gb hbm3").row.compute_capability == "9.0"  # type: ignore[union-attr]
    assert [g.row.name for g in gpu_by_pci_id("1EB8")] == ["Tesla T4"]
    assert gpu_by_name("Voodoo 2") is None


def test_torch_variants() -> None:
    v = torch_variant("2.7.1+cu126")
    assert v is not None and "6.0" in v.row.archs and not v.derived
    d = torch_variant("2.13.0")
    assert d is not None and d.row.cuda == "13.0" and d.derived
    assert torch_variant("2.13.0+cpu") is None
    assert torch_variant("2.7.1+cu999") is None
    rel = torch_release("2.9.1")
    assert rel is not None and rel.row.torchvision == "0.24" and rel.row.cxx11_abi


def test_cuda_of_packages() -> None:
    assert cuda_of_package_name("nvidia-cuda-runtime-cu12", "12.8.90", "pypi")[0] == "12.8"  # type: ignore[index]
    assert cuda_of_package_name("nvidia_cublas_cu12", "12.8.4.1", "pypi")[0] == "12"  # type: ignore[index]
    assert cuda_of_package_name("nvidia-cuda-runtime", "13.0.48", "pypi")[0] == "13.0"  # type: ignore[index]
    assert cuda_of_package_name("cuda-toolkit", "13.0.3", "pypi")[0] == "13.0"  # type: ignore[index]
    assert cuda_of_package_name("cuda-version", "12.9", "conda")[0] == "12.9"  # type: ignore[index]
    assert cuda_of_package_name("numpy", "2.0", "pypi") is None
    assert cuda_of_build_string("py3.10_cuda12.1_cudnn8.9.2_0")[0] == "12.1"  # type: ignore[index]
    assert cuda_of_build_string("cuda129_mkl_py313_h7947483_302")[0] == "12.9"  # type: ignore[index]
    assert cuda_of_build_string("py3.10_cpu_0") is None


def test_abi_and_sonames() -> None:
    assert manylinux_glibc("manylinux2014_x86_64")[0] == "2.17"  # type: ignore[index]
    assert manylinux_glibc("manylinux_2_28_x86_64")[0] == "2.28"  # type: ignore[index]
    g = gcc_levels("13.2.0")
    assert g is not None and g.row.glibcxx == "3.4.32" and not g.derived
    assert gcc_levels("12.3.0").row.glibcxx == "3.4.30"  # type: ignore[union-attr]
    providers = {(p, m) for p, m, _ in soname_providers("libcudart.so.12")}
    assert ("nvidia-cuda-runtime-cu12", 12) in providers
    assert toolkit_archs("13.0").row.first == 75  # type: ignore[union-attr]
    assert toolkit_archs("12.4").derived  # type: ignore[union-attr]


def test_parsed_tree_is_kept_and_reread_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "measured_wheels.yaml"
    src.write_bytes((matrices_dir() / "measured_wheels.yaml").read_bytes())
    first = read_matrix_obj(src)
    kept = list((tmp_path / "cache" / "matrices").glob("measured_wheels.yaml.*.json"))
    assert len(kept) == 1
    assert first == yaml.load(src.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    assert read_matrix_obj(src) == first  # from the kept tree
    src.write_text(src.read_text(encoding="utf-8").replace("kind: measured-wheels", "kind: edited"), encoding="utf-8")
    assert read_matrix_obj(src)["kind"] == "edited"  # an edited file is parsed again, its old tree dropped
    assert [p.name for p in (tmp_path / "cache" / "matrices").iterdir()] != [kept[0].name]
    assert len(list((tmp_path / "cache" / "matrices").iterdir())) == 1


def test_unquoted_float_is_refused_even_with_a_kept_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "x.yaml"
    bad.write_text("rows: [{cuda: 12.8}]\n", encoding="utf-8")
    for _ in range(2):  # nothing is kept for a refused file
        with pytest.raises(ValueError, match="quote versions"):
            read_matrix_obj(bad)
    assert not list((tmp_path / "cache").rglob("*.json"))
