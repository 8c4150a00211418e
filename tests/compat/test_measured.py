"""The measured-wheels table decides binary rules for wheels it knows, by sha256 or by file name."""

from __future__ import annotations

from envresolve.compat import check_kernels, check_libstdcxx, device_code, evaluate, glibc_need
from envresolve.compat.measured import measured_facts, package_sha256
from envresolve.diagnostics import Severity
from envresolve.lock.model import BinaryVerdict, LockedPipPackage
from envresolve.matrices.measured import measured_by_sha256
from tests.compat.helpers import env, node, pypi

# torch 2.8.0 cp311 manylinux_2_28_x86_64 from PyPI (CUDA 12.8 build), as measured in matrices/measured_wheels.yaml
TORCH_28 = "c12fa219f51a933d5f80eeb3a7a5d0cbe9168c0a14bbb4055f1979431660879b"
TORCH_28_FILE = "torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl"
PASCAL = (("NVIDIA GeForce GTX 1080 Ti", "6.1"),)
H100 = (("NVIDIA H100 80GB HBM3", "9.0"),)


def _locked(sha256: str | None) -> LockedPipPackage:
    return LockedPipPackage(
        name="torch",
        version="2.8.0",
        filename=TORCH_28_FILE,
        url=f"https://127.0.0.1/wheels/{TORCH_28_FILE}",
        sha256=sha256,
        verdict=BinaryVerdict(status="not-inspected", basis="none", reason="not inspected"),
    )


def test_the_row_is_the_measured_wheel() -> None:
    row = measured_by_sha256(TORCH_28)
    assert row is not None and row.file == TORCH_28_FILE
    main = row.main_device_lib()
    assert main is not None and main.path == "torch/lib/libtorch_cuda.so"
    assert "sm_61" not in main.sass and "sm_90" in main.sass


def test_measured_row_decides_cp110_by_sha256_on_pascal() -> None:
    pkg = _locked(TORCH_28).as_package()
    assert pkg.sha256 == TORCH_28
    found = [d for d in check_kernels(env(pkg), node(gpus=PASCAL)) if d.code == "CP110"]
    assert len(found) == 1
    diag = found[0]
    assert diag.severity is Severity.ERROR
    measured = [e for e in diag.evidence if "measured by envresolve inspect" in e.fact]
    assert measured and TORCH_28[:12] in measured[0].fact and "matched by sha256" in measured[0].fact
    assert measured[0].source is not None and "envresolve inspect" in measured[0].source
    assert not any(e.unsure for e in diag.evidence)


def test_the_same_wheel_runs_on_an_h100() -> None:
    pkg = _locked(TORCH_28).as_package()
    assert [d for d in check_kernels(env(pkg), node(gpus=H100)) if d.code in ("CP110", "CP111")] == []


def test_evaluate_cites_the_measured_row() -> None:
    diags = evaluate(env(_locked(TORCH_28).as_package()), node(gpus=PASCAL))
    cp110 = next(d for d in diags if d.code == "CP110")
    assert any("measured" in e.fact for e in cp110.evidence)


def test_an_unknown_hash_leaves_the_matrix_to_answer() -> None:
    pkg = _locked("0" * 64).as_package()
    assert measured_facts(pkg) is None
    code = device_code(pkg)
    assert code is not None and code.derived


def test_file_name_matches_only_without_a_hash() -> None:
    by_name = _locked(None).as_package()
    got = measured_facts(by_name)
    assert got is not None and got.matched_by.startswith("file name")
    other = pypi("torch", "2.8.0", url=f"https://127.0.0.1/wheels/{TORCH_28_FILE}#sha256={'1' * 64}")
    assert package_sha256(other) == "1" * 64
    assert measured_facts(other) is None


def test_measured_glibc_and_glibcxx_decide_cp120_cp121() -> None:
    pkg = _locked(TORCH_28).as_package()
    need = glibc_need(pkg)
    assert need is not None and need[0] == "2.28" and "measured" in need[1].fact
    old = node(gpus=H100, glibc="2.17", glibcxx="3.4.19", cxxabi="1.3.7")
    codes = {d.code: d for d in evaluate(env(pkg), old)}
    assert codes["CP120"].severity is Severity.ERROR
    cp121 = [d for d in check_libstdcxx(env(pkg), old) if d.code == "CP121"]
    assert cp121 and any("measured" in e.fact for e in cp121[0].evidence)


def test_conda_packages_are_not_looked_up() -> None:
    from tests.compat.helpers import conda

    assert measured_facts(conda("pytorch", "2.8.0", "py3.11_cuda12.8_cudnn9_0", sha256=TORCH_28)) is None


def test_the_pip_resolver_rejects_a_measured_candidate() -> None:
    """A candidate with no report of its own but a measured row is judged while it is chosen, so it is backtracked."""
    from envresolve.compat.model import Environment
    from envresolve.solve.pip.gpu import binary_facts_filter
    from envresolve.solve.pip.model import CandidateInfo

    info = CandidateInfo(
        name="torch", version="2.8.0", filename=TORCH_28_FILE, url=f"https://127.0.0.1/{TORCH_28_FILE}", sha256=TORCH_28
    )
    rejected = binary_facts_filter(info, node(gpus=PASCAL), Environment())
    assert [r.code for r in rejected] == ["CP110"]
    assert binary_facts_filter(info, node(gpus=H100), Environment()) == []
    unknown = info.model_copy(update={"sha256": "0" * 64})
    # without a measured row the published layer (pytorch.yaml: 2.8.0's PyPI build starts at sm_70) still decides
    assert [r.code for r in binary_facts_filter(unknown, node(gpus=PASCAL), Environment())] == ["CP110"]


# nvidia-cufft-cu12 11.2.1.3 (torch 2.5's pin), as measured: libcufft.so.11's fatbinary is one 320-byte sm_52 entry
CUFFT_112 = "f083fc24912aa410be21fa16d157fed2055dab1cc4b6934a0e03cba69eb242b9"
CUFFT_112_FILE = "nvidia_cufft_cu12-11.2.1.3-py3-none-manylinux2014_x86_64.whl"


def test_an_nvidia_cuda_library_is_not_judged_by_its_fatbinary() -> None:
    """cuFFT runs on a Pascal GPU (CUDA 12.4 supports sm_60) although its fatbinary names sm_52 alone: NVIDIA's
    CUDA libraries reach the GPU by more than their fatbinaries, so their device code gives no CP110."""
    row = measured_by_sha256(CUFFT_112)
    assert row is not None and row.file == CUFFT_112_FILE
    assert {t for lib in row.device_code for t in lib.sass} == {"sm_52"}
    pkg = pypi("nvidia-cufft-cu12", "11.2.1.3", url=f"https://127.0.0.1/w/{CUFFT_112_FILE}#sha256={CUFFT_112}")
    assert measured_facts(pkg) is not None and device_code(pkg) is None
    assert [d for d in check_kernels(env(pkg), node(gpus=PASCAL)) if d.code in ("CP110", "CP111")] == []
