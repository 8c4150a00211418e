"""Every rule: a failing and a passing case built from real matrix rows; each test names the row's source
(the `src_...` part of the test name) and asserts the finding cites it."""

from __future__ import annotations

from envresolve.binary.model import FatbinEntry
from envresolve.compat import (
    Package,
    candidate_verdict,
    check_companions,
    check_cudnn,
    check_cxx11_abi,
    check_driver,
    check_glibc,
    check_kernels,
    check_libstdcxx,
    check_mixed_majors,
    check_nccl,
    check_needed,
    check_python,
    evaluate,
    libstdcxx_provider,
)
from envresolve.diagnostics import Severity
from envresolve.matrices import (
    abi_matrix,
    cuda_archs_matrix,
    cuda_drivers_matrix,
    cuda_packages_matrix,
    cudnn_nccl_matrix,
    frameworks_matrix,
    pytorch_matrix,
)
from tests.compat.helpers import cite, codes, conda, elf, env, fatbin, node, pypi, report, sources

# --- CP101 / CP102 / CP103: driver vs CUDA runtime -------------------------------------------------------------


def test_cp101_src_rn_13_2u2_cuda13_on_r535_fails() -> None:
    row, citation = cite(cuda_drivers_matrix(), lambda r: r.release == "CUDA 13.0 GA")
    assert row.source == "rn-13.2u2"
    _, floor_cite = cite(cuda_drivers_matrix(), lambda r: r.major == 13, rows="minor_version_compat")
    diags = check_driver(env(pypi("nvidia-cuda-runtime", "13.0.48")), node(driver="535.104.05", cuda="12.2"))
    assert codes(diags) == ["CP101"]
    d = diags[0]
    assert d.severity is Severity.ERROR
    assert "driver >= 580.65.06" in d.message and "535.104.05" in d.message
    assert d.hint == "upgrade the driver to >= 580.65.06"
    assert citation in sources(d) and floor_cite in sources(d)


def test_cp101_src_rn_13_2u2_cuda13_on_r580_passes() -> None:
    assert check_driver(env(pypi("nvidia-cuda-runtime", "13.0.48")), node(driver="580.65.06")) == []


def test_cp102_src_rn_13_4_and_compat_guide_cuda128_on_r550_warns_with_limits() -> None:
    _, ga_cite = cite(cuda_drivers_matrix(), lambda r: r.release == "CUDA 12.8 GA")
    _, limit_cite = cite(
        cuda_drivers_matrix(), lambda r: r.id == "no-newer-ptx-jit", rows="minor_version_compat_limits"
    )
    diags = check_driver(env(pypi("nvidia-cuda-runtime-cu12", "12.8.90")), node(driver="550.54.15", cuda="12.4"))
    assert codes(diags) == ["CP102"]
    d = diags[0]
    assert d.severity is Severity.WARNING
    assert "minor-version compatibility" in d.message and "no JIT of PTX newer than the driver" in d.message
    assert d.hint == "upgrade the driver to >= 570.26 to lift these limits"
    assert ga_cite in sources(d) and limit_cite in sources(d)


def test_cp102_src_rn_13_4_cuda128_on_r570_passes() -> None:
    assert check_driver(env(pypi("nvidia-cuda-runtime-cu12", "12.8.90")), node(driver="570.26", cuda="12.8")) == []


def test_cp101_src_compat_guide_below_cuda12_floor_fails() -> None:
    _, floor_cite = cite(cuda_drivers_matrix(), lambda r: r.major == 12, rows="minor_version_compat")
    diags = check_driver(env(pypi("torch", "2.9.1+cu128")), node(driver="520.61.05", cuda="11.8"))
    assert codes(diags) == ["CP101"] and floor_cite in sources(diags[0])
    assert diags[0].hint == "upgrade the driver to >= 570.26"


def test_cp103_src_torch_meta_gpus_without_driver_fails_and_cpu_node_passes() -> None:
    e = env(pypi("nvidia-cuda-runtime-cu12", "12.8.90"))
    _, citation = cite(cuda_packages_matrix(), lambda r: r.source == "torch-meta", rows="pypi")
    diags = check_driver(e, node(driver=None, cuda=None))
    assert codes(diags) == ["CP103"] and citation in sources(diags[0])
    assert check_driver(e, node(driver=None, cuda=None, gpus=())) == []


def test_cp101_src_compat_guide_driver_level_only_node() -> None:
    diags = check_driver(env(pypi("torch", "2.13.0")), node(driver=None, cuda="12.4"))
    assert codes(diags) == ["CP101"] and "supports CUDA 12.4" in diags[0].message
    assert check_driver(env(pypi("torch", "2.13.0")), node(driver=None, cuda="13.0")) == []


# --- CP110 / CP111: SASS and PTX --------------------------------------------------------------------------------


MIXED = (("NVIDIA A100-SXM4-80GB", "8.0"), ("Tesla P100-PCIE-16GB", "6.0"))


def test_cp110_src_build_cuda_2x_mixed_node_names_failing_gpu() -> None:
    rel = next(r for r in pytorch_matrix().rows if r.version == "2.8")
    var = rel.variant("12.8")
    assert var is not None and var.source == "measured-wheels" and "6.0" not in var.archs
    diags = check_kernels(env(pypi("torch", "2.8.0+cu128")), node(gpus=MIXED))
    assert codes(diags) == ["CP110"]
    d = diags[0]
    assert "GPU 1 (Tesla P100-PCIE-16GB, compute capability 6.0)" in d.message and "GPU 0" not in d.message
    assert pytorch_matrix().cite(var) in sources(d)
    assert "derived from the matrix" in d.evidence[0].fact
    assert d.hint == "torch 2.8.0 cu126 still ships sm_60 kernels"


def test_cp110_src_build_cuda_2x_cu126_runs_on_both_gpus() -> None:
    assert check_kernels(env(pypi("torch", "2.8.0+cu126")), node(gpus=MIXED)) == []


def test_cp110_src_build_cuda_2x_cu130_drops_volta_hint_points_to_cu128() -> None:
    diags = check_kernels(env(pypi("torch", "2.9.1+cu130")), node(gpus=(("Tesla V100-SXM2-16GB", "7.0"),)))
    assert codes(diags) == ["CP110"] and diags[0].hint == "torch 2.9.1 cu128 still ships sm_70 kernels"


def test_cp111_src_prog_guide_ptx_only_on_thor_warns() -> None:
    _, jit_cite = cite(cuda_archs_matrix(), lambda r: r.id == "ptx-jit", rows="rules")
    _, tegra_cite = cite(cuda_archs_matrix(), lambda r: r.id == "sass-tegra", rows="rules")
    # cupy's CUB module (team corpus): SASS sm_50..sm_120, PTX compute_100
    cub = elf(
        "cupy/cuda/cub.so", fatbin=fatbin(sass=(50, 60, 70, 75, 80, 86, 89, 90, 100, 120), ptx=(100,), toolkit="12.8")
    )
    pkg = pypi("cupy-cuda12x", "14.2.0", binary=report("cupy_cuda12x-14.2.0.whl", cub))
    diags = check_kernels(env(pkg), node(gpus=(("Jetson T5000", "11.0"),), cuda="13.0"))
    assert codes(diags) == ["CP111"]
    d = diags[0]
    assert "GPU 0 (Jetson T5000, compute capability 11.0)" in d.message and "compute_100" in d.message
    assert jit_cite in sources(d) and tegra_cite in sources(d)
    # the Tegra rule row is unsure, so the finding says so
    assert d.message.startswith("unsure:") and d.severity is Severity.WARNING


def test_cp111_src_prog_guide_sass_present_passes() -> None:
    cub = elf("cupy/cuda/cub.so", fatbin=fatbin(sass=(80, 90, 100), ptx=(100,)))
    pkg = pypi("cupy-cuda12x", "14.2.0", binary=report("cupy.whl", cub))
    assert check_kernels(env(pkg), node(gpus=(("NVIDIA H100 80GB HBM3", "9.0"),))) == []


def test_cp110_src_prog_guide_ptx_newer_than_driver_cannot_jit() -> None:
    _, jit_cite = cite(cuda_archs_matrix(), lambda r: r.id == "ptx-jit", rows="rules")
    lib = elf("lib/libk.so", fatbin=fatbin(sass=(80,), ptx=(80,), toolkit="12.8"))
    pkg = pypi("somekernels", "1.0", binary=report("somekernels.whl", lib))
    diags = check_kernels(env(pkg), node(driver="535.104.05", cuda="12.2", gpus=(("NVIDIA H100", "9.0"),)))
    assert codes(diags) == ["CP110"] and "cannot JIT" in diags[0].message and jit_cite in sources(diags[0])


def test_arch_specific_sass_is_not_forward_compatible() -> None:
    lib = elf("lib/libk.so", fatbin=(FatbinEntry(kind="sass", arch="sm_90a", sm=90, variant="a"),))
    pkg = pypi("hopperonly", "1.0", binary=report("h.whl", lib))
    assert check_kernels(env(pkg), node(gpus=(("NVIDIA H100", "9.0"),))) == []
    diags = check_kernels(env(pkg), node(gpus=(("NVIDIA B200", "10.0"),)))
    assert codes(diags) == ["CP110"]


# --- CP120: glibc -----------------------------------------------------------------------------------------------


def test_cp120_src_wheels_corpus_torch_213_on_glibc_217_fails() -> None:
    rel = next(r for r in pytorch_matrix().rows if r.version == "2.13")
    assert rel.source == "wheels-corpus" and rel.glibc == "2.28"
    diags = check_glibc(env(pypi("torch", "2.13.0")), node(glibc="2.17"))
    assert codes(diags) == ["CP120"] and pytorch_matrix().cite(rel) in sources(diags[0])
    assert "glibc >= 2.28" in diags[0].message


def test_cp120_src_wheels_corpus_torch_213_on_glibc_228_passes() -> None:
    assert check_glibc(env(pypi("torch", "2.13.0")), node(glibc="2.28")) == []


def test_cp120_binary_facts_beat_the_wheel_tag() -> None:
    # nvidia-cusparselt-cu12 0.8.1 (team corpus): tagged manylinux2014, libcusparseLt.so.0 needs GLIBC_2.27
    so = elf("nvidia/cusparselt/lib/libcusparseLt.so.0", version_needs={"libm.so.6": ("GLIBC_2.27",)})
    rep = report("nvidia_cusparselt_cu12-0.8.1.whl", so, max_glibc="2.27", platform_tag="manylinux2014_x86_64")
    diags = check_glibc(env(pypi("nvidia-cusparselt-cu12", "0.8.1", binary=rep)), node(glibc="2.17"))
    assert codes(diags) == ["CP120"] and "binary facts" in diags[0].evidence[0].fact


def test_cp120_src_pep600_wheel_tag_when_nothing_else() -> None:
    _, citation = cite(abi_matrix(), lambda r: r.tag == "manylinux_x_y", rows="manylinux")
    pkg = pypi("somewheel", "1.0", url="https://files.example/somewheel-1.0-cp311-cp311-manylinux_2_34_x86_64.whl")
    diags = check_glibc(env(pkg), node(glibc="2.31"))
    assert codes(diags) == ["CP120"] and citation in sources(diags[0])
    assert check_glibc(env(pkg), node(glibc="2.39")) == []


# --- CP121 / CP122: libstdc++ -----------------------------------------------------------------------------------


def test_cp121_src_wheels_corpus_torch_213_vs_old_node_libstdcxx_fails() -> None:
    rel = next(r for r in pytorch_matrix().rows if r.version == "2.13")
    diags = check_libstdcxx(env(pypi("torch", "2.13.0")), node(glibcxx="3.4.19", cxxabi="1.3.7"))
    assert codes(diags) == ["CP121", "CP122"]
    assert pytorch_matrix().cite(rel) in sources(diags[0])
    assert "GLIBCXX_3.4.22" in diags[0].message and "libstdcxx-ng >= 6.1.0" in (diags[0].hint or "")


def test_cp121_src_gcc_abi_env_libstdcxx_wins_over_node() -> None:
    row, citation = cite(abi_matrix(), lambda r: r.gcc == "14.1.0", rows="gcc")
    assert row.source == "gcc-abi"
    e = env(pypi("torch", "2.13.0"), conda("libstdcxx-ng", "14.1.0", "h4852527_1"))
    n = node(glibcxx="3.4.19", cxxabi="1.3.7")
    assert check_libstdcxx(e, n) == []
    provider = libstdcxx_provider(e, n)
    assert provider is not None and provider[0] == "3.4.33" and provider[2].source == citation


def test_cp121_src_gcc_abi_copy_old_env_libstdcxx_fails_even_on_new_node() -> None:
    _, citation = cite(abi_matrix(), lambda r: r.gcc == "4.9.0", rows="gcc")
    e = env(pypi("torch", "2.13.0"), conda("libstdcxx-ng", "4.9.0"))
    diags = check_libstdcxx(e, node(glibcxx="3.4.33", cxxabi="1.3.15"))
    assert codes(diags) == ["CP121", "CP122"] and citation in sources(diags[0])


def test_cp122_src_gcc_abi_binary_cxxabi_need() -> None:
    so = elf("torch/lib/libtorch_cpu.so", version_needs={"libstdc++.so.6": ("CXXABI_1.3.11", "GLIBCXX_3.4.22")})
    rep = report("torch-2.13.0+cpu.whl", so, max_glibcxx="3.4.22", max_cxxabi="1.3.11")
    e = env(pypi("torch", "2.13.0+cpu", binary=rep), conda("libstdcxx-ng", "6.1.0"))
    _, citation = cite(abi_matrix(), lambda r: r.gcc == "6.1.0", rows="gcc")
    diags = check_libstdcxx(e, node())
    assert codes(diags) == ["CP122"] and citation in sources(diags[0]) and "CXXABI_1.3.11" in diags[0].message
    e2 = env(pypi("torch", "2.13.0+cpu", binary=rep), conda("libstdcxx-ng", "7.1.0"))
    assert check_libstdcxx(e2, node()) == []


def test_unsure_row_lowers_cp121_to_warning() -> None:
    row, citation = cite(abi_matrix(), lambda r: r.gcc == "15.1.0", rows="gcc")
    assert row.confidence.value == "unsure"
    so = elf("lib/libfuture.so")
    rep = report("future.whl", so, max_glibcxx="3.4.35")
    diags = check_libstdcxx(env(pypi("future", "1.0", binary=rep), conda("libstdcxx-ng", "15.2.0")), node())
    assert codes(diags) == ["CP121"]
    d = diags[0]
    assert d.severity is Severity.WARNING and d.message.startswith("unsure:")
    assert any(e.unsure and e.source == citation for e in d.evidence)


# --- CP130: DT_NEEDED ---------------------------------------------------------------------------------------------


def _bnb(*needed: str) -> Package:
    so = elf("bitsandbytes/libbitsandbytes_cuda126.so", needed=needed)
    return pypi("bitsandbytes", "0.50.2", binary=report("bitsandbytes-0.50.2.whl", so))


def test_cp130_src_build_cuda_missing_cublas_fails() -> None:
    _, citation = cite(cuda_packages_matrix(), lambda r: r.soname == "libcublas.so.{major}", rows="sonames")
    e = env(
        _bnb("libcudart.so.12", "libcublas.so.12", "libcuda.so.1", "libc.so.6"),
        pypi("nvidia-cuda-runtime-cu12", "12.6.77"),
    )
    diags = check_needed(e, node())
    assert codes(diags) == ["CP130"]
    d = diags[0]
    assert d.severity is Severity.ERROR and "libcublas.so.12" in d.message
    assert citation in sources(d) and d.hint and "nvidia-cublas-cu12" in d.hint


def test_cp130_src_build_cuda_all_provided_passes() -> None:
    e = env(
        _bnb("libcudart.so.12", "libcublas.so.12", "libcuda.so.1", "libnvidia-ml.so.1", "libstdc++.so.6"),
        pypi("nvidia-cuda-runtime-cu12", "12.6.77"),
        pypi("nvidia-cublas-cu12", "12.6.4.1"),
    )
    assert check_needed(e, node()) == []


def test_cp130_src_wheel_listing_libcudart_11_0_next_to_cuda12_fails() -> None:
    row, citation = cite(cuda_packages_matrix(), lambda r: r.soname == "libcudart.so.11.0", rows="sonames")
    assert row.source == "wheel-listing"
    so = elf("bitsandbytes/libbitsandbytes_cuda118.so", needed=("libcudart.so.11.0", "libcuda.so.1"))
    bnb = pypi("bitsandbytes", "0.50.2", binary=report("bitsandbytes-0.50.2.whl", so))
    diags = check_needed(env(bnb, pypi("nvidia-cuda-runtime-cu12", "12.6.77")), node())
    assert codes(diags) == ["CP130"] and citation in sources(diags[0])
    d = diags[0]
    assert d.severity is Severity.ERROR and "libcudart.so.11.0 needed by libbitsandbytes_cuda118.so" in d.message
    assert d.hint is not None and "nvidia-cuda-runtime-cu11" in d.hint and "CUDA 12" in d.hint


def test_cp130_src_wheel_listing_cuda11_runtime_present_passes() -> None:
    so = elf("bitsandbytes/libbitsandbytes_cuda118.so", needed=("libcudart.so.11.0",))
    bnb = pypi("bitsandbytes", "0.50.2", binary=report("bitsandbytes-0.50.2.whl", so))
    assert check_needed(env(bnb, pypi("nvidia-cuda-runtime-cu11", "11.8.89")), node()) == []
    assert check_needed(env(bnb, conda("cudatoolkit", "11.8.0")), node()) == []


def test_cp130_non_cuda_unknown_library_is_a_warning() -> None:
    diags = check_needed(env(_bnb("libz.so.1")), node())
    assert codes(diags) == ["CP130"] and diags[0].severity is Severity.WARNING


# --- CP140: cxx11 ABI -------------------------------------------------------------------------------------------


def _ext(abi: str) -> Package:
    so = elf("myext/_C.so", needed=("libtorch.so", "libc10.so"), cxx_abi=abi)
    return pypi("myext", "1.0", binary=report("myext-1.0.whl", so), depends=("torch",))


def test_cp140_src_pypi_meta_torch_27_cxx11_vs_pre_cxx11_extension_fails() -> None:
    rel = next(r for r in pytorch_matrix().rows if r.version == "2.7")
    assert rel.cxx11_abi and rel.source == "pypi-meta"
    diags = check_cxx11_abi(env(pypi("torch", "2.7.1"), _ext("pre-cxx11")), node())
    assert codes(diags) == ["CP140"] and pytorch_matrix().cite(rel) in sources(diags[0])
    assert "_GLIBCXX_USE_CXX11_ABI=1" in (diags[0].hint or "")


def test_cp140_src_pypi_meta_matching_abi_passes() -> None:
    assert check_cxx11_abi(env(pypi("torch", "2.7.1"), _ext("cxx11")), node()) == []
    # torch 2.5 PyPI wheels are pre-cxx11
    assert check_cxx11_abi(env(pypi("torch", "2.5.1"), _ext("pre-cxx11")), node()) == []


def test_cp140_src_rn_2_6_cu126_variant_is_cxx11() -> None:
    rel = next(r for r in pytorch_matrix().rows if r.version == "2.6")
    var = rel.variant("12.6")
    assert var is not None and var.source == "rn-2.6"
    diags = check_cxx11_abi(env(pypi("torch", "2.6.0+cu126"), _ext("pre-cxx11")), node())
    assert codes(diags) == ["CP140"] and pytorch_matrix().cite(var) in sources(diags[0])


# --- CP150: torch companions ------------------------------------------------------------------------------------


def test_cp150_src_pypi_meta_torchvision_022_with_torch_28_fails() -> None:
    rel27 = next(r for r in pytorch_matrix().rows if r.version == "2.7")
    diags = check_companions(env(pypi("torch", "2.8.0"), pypi("torchvision", "0.22.1")), node())
    assert codes(diags) == ["CP150"] and pytorch_matrix().cite(rel27) in sources(diags[0])
    assert diags[0].hint == "use torchvision 0.23 with torch 2.8"


def test_cp150_src_pypi_meta_pairs_pass() -> None:
    e = env(pypi("torch", "2.8.0"), pypi("torchvision", "0.23.0"), pypi("torchaudio", "2.8.0"))
    assert check_companions(e, node()) == []


def test_cp150_variant_mismatch_fails() -> None:
    e = env(pypi("torch", "2.8.0+cu128"), pypi("torchvision", "0.23.0+cu126"))
    diags = check_companions(e, node())
    assert codes(diags) == ["CP150"] and "+cu126" in diags[0].message


# --- CP160: mixed CUDA majors -----------------------------------------------------------------------------------


def test_cp160_src_release_md_torch_213_default_cuda13_with_cu12_wheels_fails() -> None:
    rel = next(r for r in pytorch_matrix().rows if r.version == "2.13")
    var = rel.default_variant
    assert var.source == "measured-wheels" and var.cuda == "13.0" and var.confidence.value == "confirmed"
    diags = check_mixed_majors(env(pypi("torch", "2.13.0"), pypi("nvidia-cudnn-cu12", "9.10.2.21")), node())
    assert codes(diags) == ["CP160"] and diags[0].severity is Severity.ERROR
    assert pytorch_matrix().cite(var) in sources(diags[0])
    assert "CUDA 12 (nvidia-cudnn-cu12)" in diags[0].message and "CUDA 13 (torch)" in diags[0].message


def test_cp160_src_release_md_one_major_passes() -> None:
    assert check_mixed_majors(env(pypi("torch", "2.13.0"), pypi("nvidia-cudnn-cu13", "9.20.0.48")), node()) == []


# --- CP170 / CP171: cuDNN and NCCL ------------------------------------------------------------------------------


def test_cp170_src_cudnn_9_10_2_cu12_cudnn_with_cuda13_runtime_fails() -> None:
    row, citation = cite(cudnn_nccl_matrix(), lambda r: r.cudnn == "9.10" and r.cuda_major == 12, rows="cudnn")
    assert row.source == "cudnn-9.10.2"
    e = env(pypi("nvidia-cuda-runtime", "13.0.48"), pypi("nvidia-cudnn-cu12", "9.10.2.21"))
    diags = check_cudnn(e, node())
    assert codes(diags) == ["CP170"] and citation in sources(diags[0])
    assert diags[0].hint == "use nvidia-cudnn-cu13 (a cuDNN build for CUDA 13.0)"


def test_cp170_src_cudnn_9_10_2_matching_cuda_passes() -> None:
    e = env(pypi("nvidia-cuda-runtime-cu12", "12.8.90"), pypi("nvidia-cudnn-cu12", "9.10.2.21"))
    assert check_cudnn(e, node(driver="570.26", cuda="12.8")) == []


def test_cp170_src_cudnn_8_9_6_driver_below_cudnn_floor_fails() -> None:
    _, citation = cite(cudnn_nccl_matrix(), lambda r: r.cudnn == "8.9" and r.cuda_major == 12, rows="cudnn")
    e = env(pypi("nvidia-cuda-runtime-cu12", "12.1.105"), pypi("nvidia-cudnn-cu12", "8.9.2.26"))
    diags = check_cudnn(e, node(driver="520.61.05", cuda="11.8"))
    assert codes(diags) == ["CP170"] and "driver >= 525.60.13" in diags[0].message and citation in sources(diags[0])


def test_cp171_src_pypi_names_nccl_cu12_with_cuda13_fails_and_cu13_passes() -> None:
    _, citation = cite(cudnn_nccl_matrix(), lambda r: r.cuda_from == "suffix", rows="nccl")
    bad = env(pypi("torch", "2.13.0"), pypi("nvidia-nccl-cu12", "2.27.5"))
    diags = check_nccl(bad, node())
    assert codes(diags) == ["CP171"] and citation in sources(diags[0]) and diags[0].hint == "use nvidia-nccl-cu13"
    assert check_nccl(env(pypi("torch", "2.13.0"), pypi("nvidia-nccl-cu13", "2.29.7")), node()) == []


def test_cp171_src_repodata_cf_conda_nccl_pins_cuda_version() -> None:
    _, citation = cite(cudnn_nccl_matrix(), lambda r: r.cuda_from == "depends", rows="nccl")
    nccl = conda("nccl", "2.28.9.1", "h4d09622_0", depends=("__glibc >=2.28,<3.0.a0", "cuda-version >=12.2a.0,<13.0a0"))
    diags = check_nccl(env(nccl, conda("cuda-version", "13.0")), node())
    assert codes(diags) == ["CP171"] and citation in sources(diags[0])
    assert check_nccl(env(nccl, conda("cuda-version", "12.9")), node()) == []


# --- CP180: Python ------------------------------------------------------------------------------------------------


def test_cp180_src_pypi_meta_torch_29_on_python_39_fails() -> None:
    rel = next(r for r in pytorch_matrix().rows if r.version == "2.9")
    diags = check_python(env(pypi("torch", "2.9.1"), python="3.9.19"), node())
    assert codes(diags) == ["CP180"] and pytorch_matrix().cite(rel) in sources(diags[0])
    assert diags[0].hint == "use Python 3.10-3.14, or torch 2.8.0 for Python 3.9"
    assert check_python(env(pypi("torch", "2.9.1"), python="3.12.3"), node()) == []


def test_cp180_src_jax_meta_jax_plugin_needs_python_311() -> None:
    _, citation = cite(frameworks_matrix(), lambda r: r.package == "jax-cuda13-plugin")
    diags = check_python(env(pypi("jax-cuda13-plugin", "0.10.2"), python="3.10.14"), node())
    assert codes(diags) == ["CP180"] and citation in sources(diags[0])
    assert check_python(env(pypi("jax-cuda13-plugin", "0.10.2"), python="3.11.9"), node()) == []


# --- engine -----------------------------------------------------------------------------------------------------


def test_evaluate_runs_every_rule_and_sorts_worst_first() -> None:
    e = env(pypi("torch", "2.8.0"), pypi("torchvision", "0.22.1"), python="3.12.1")
    diags = evaluate(e, node(driver="550.54.15", cuda="12.4", gpus=MIXED, glibc="2.17"))
    got = codes(diags)
    assert {"CP110", "CP120", "CP150", "CP102"} <= set(got)
    ranks = [d.severity.rank for d in diags]
    assert ranks == sorted(ranks)


def test_candidate_verdict_rejects_cuda13_torch_next_to_cu12_runtime() -> None:
    chosen = env(pypi("nvidia-cuda-runtime-cu12", "12.8.90"), pypi("nvidia-cudnn-cu12", "9.10.2.21"))
    n = node(driver="570.26", cuda="12.8")
    bad = candidate_verdict(pypi("torch", "2.13.0"), n, chosen)
    assert "CP160" in codes(bad) and any(d.severity is Severity.ERROR for d in bad)
    good = candidate_verdict(pypi("torch", "2.9.1+cu128"), n, chosen)
    assert [d for d in good if d.severity is Severity.ERROR] == []


def test_candidate_verdict_only_reports_what_the_candidate_introduces() -> None:
    chosen = env(pypi("torch", "2.8.0"), pypi("torchvision", "0.22.1"))
    n = node(driver="570.26", cuda="12.8")
    assert codes(candidate_verdict(pypi("numpy", "2.1.0"), n, chosen)) == []
    fixed = candidate_verdict(pypi("torchvision", "0.23.0"), n, chosen)
    assert "CP150" not in codes(fixed)


def test_cp130_src_repodata_cf_conda_cuda_libraries_count_as_providers() -> None:
    _, citation = cite(cuda_packages_matrix(), lambda r: r.package == "libcublas", rows="sonames")
    so = elf("ext/_C.so", needed=("libcublas.so.12",))
    ext = pypi("ext", "1.0", binary=report("ext-1.0.whl", so))
    assert check_needed(env(ext, conda("libcublas", "12.9.1.4", "h676940d_1")), node()) == []
    diags = check_needed(env(ext), node())
    assert codes(diags) == ["CP130"] and diags[0].hint == "add nvidia-cublas-cu12 to the environment"
    assert citation not in sources(diags[0])  # a PyPI package is pointed at PyPI providers


def test_cp102_src_rn_13_4_cuda_minor_without_row() -> None:
    # conda cuda-version 12.7 has no CUDA release row: newer drivers than every 12.x release pass
    e = env(conda("cuda-version", "12.7"))
    assert check_driver(e, node(driver="580.65.06")) == []
    diags = check_driver(e, node(driver="560.35.05", cuda="12.6"))
    assert codes(diags) == ["CP102"] and "no row in the driver matrix" in diags[0].message


def test_cp101_src_compat_fwd_forward_compat_package_on_datacenter_gpu() -> None:
    _, citation = cite(cuda_drivers_matrix(), lambda r: r.id == "cuda-compat-package", rows="forward_compat")
    e = env(pypi("torch", "2.13.0"), conda("cuda-compat-impl", "580.65.06"))
    h100 = node(driver="535.104.05", cuda="12.2", gpus=(("NVIDIA H100 80GB HBM3", "9.0"),))
    assert check_driver(env(pypi("torch", "2.13.0")), h100) != []
    assert check_driver(e, h100) == []
    from envresolve.compat.driver import _forward_compat

    applied = _forward_compat(e, h100)
    assert applied is not None and applied[0] == "580.65.06" and applied[1].source == citation
    # a GeForce card cannot use the forward-compatibility package
    rtx = node(driver="535.104.05", cuda="12.2", gpus=(("NVIDIA GeForce RTX 4090", "8.9"),))
    diags = check_driver(e, rtx)
    assert codes(diags) == ["CP101"]
    assert citation not in sources(diags[0])


def test_cp130_candidate_dependencies_count_as_providers() -> None:
    # torch's libtorch_cuda.so needs libcudart.so.12, which its Requires-Dist nvidia-cuda-runtime-cu12 brings:
    # a resolver asking about the torch candidate before choosing its dependencies must not see CP130
    so = elf("torch/lib/libtorch_cuda.so", needed=("libcudart.so.12", "libcudnn.so.9", "libc10.so"))
    c10 = elf("torch/lib/libc10.so", soname="libc10.so")
    torch = pypi(
        "torch",
        "2.8.0",
        binary=report("torch-2.8.0.whl", so, c10),
        depends=('nvidia-cuda-runtime-cu12==12.8.90; platform_system == "Linux"', "nvidia-cudnn-cu12==9.10.2.21"),
    )
    assert [d for d in candidate_verdict(torch, node(), env()) if d.code == "CP130"] == []
    bare = torch.model_copy(update={"depends": ()})
    assert codes([d for d in candidate_verdict(bare, node(), env()) if d.code == "CP130"]) == ["CP130", "CP130"]


def test_cp180_src_tf_meta_tensorflow_221_needs_python_310() -> None:
    _, citation = cite(frameworks_matrix(), lambda r: r.versions == ">=2.21,<2.22")
    diags = check_python(env(pypi("tensorflow", "2.21.0"), python="3.9.19"), node())
    assert codes(diags) == ["CP180"] and citation in sources(diags[0])
    assert check_python(env(pypi("tensorflow", "2.20.0"), python="3.9.19"), node()) == []


def test_cp101_from_a_cuda_runtime_bundled_under_a_hashed_name() -> None:
    """torch 1.x-style wheels ship libcudart under a hashed name (libcudart-80664282.so.10.2): its CUDA version is
    read from the name (names.yaml, bundled-runtime) into the binary facts, and the driver is judged against it."""
    from envresolve.binary.report import build_report

    rep = build_report(artifact="fastcv-1.0.whl", kind="wheel", elf=[], provided=["libcudart-80664282.so.10.2"])
    assert rep.cuda_runtime_bundled == "10.2" and rep.cuda_runtime_majors == ()
    assert (
        build_report(
            artifact="x.whl", kind="wheel", elf=[], provided=["libcudart-e409450e.so.11.0"]
        ).cuda_runtime_bundled
        == "11"
    )
    assert (
        build_report(artifact="x.whl", kind="wheel", elf=[], provided=["libcudart.so.12"]).cuda_runtime_bundled is None
    )
    pkg = pypi("fastcv", "1.0", binary=rep)
    diags = check_driver(env(pkg), node(driver="418.87.01", cuda="10.1"))
    assert codes(diags) == ["CP101"] and "hashed name" in str(diags[0].model_dump())
    assert check_driver(env(pkg), node(driver="440.33.01", cuda="10.2")) == []
    assert check_driver(env(pypi("fastcv", "1.0")), node(driver="418.87.01", cuda="10.1")) == []  # nothing known
