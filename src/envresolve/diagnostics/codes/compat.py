"""CP: compatibility rules (node facts + environment packages + binary facts -> verdicts)."""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

_UNSURE = (
    " When the verdict rests on a matrix row marked unsure, the finding is lowered to a warning, its message "
    "says 'unsure' and the evidence is flagged unsure."
)

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="CP101",
        name="driver-too-old-for-cuda",
        category=Category.DRIVER,
        severity=ERROR,
        summary="The node's NVIDIA driver is older than the CUDA runtime in the environment allows, even under "
        "minor-version compatibility.",
        explanation=(
            "Each CUDA toolkit release needs a minimum driver (CUDA Toolkit release notes, 'CUDA Toolkit and "
            "Corresponding Driver Versions'). Inside one CUDA major, minor-version compatibility lets a newer "
            "runtime run on an older driver down to the major's floor (CUDA 12.x: 525.60.13, 13.x: 580.65.06). "
            "Below that floor the runtime cannot initialise: cudaErrorInsufficientDriver. The CUDA version comes "
            "from the environment's runtime packages (nvidia-cuda-runtime-cuXX, cuda-version, cudatoolkit, "
            "pytorch-cuda), a torch local tag such as +cu128, or the binaries' libcudart soname." + _UNSURE
        ),
        example=(
            "node: driver 535.104.05 (CUDA 12.2); env: torch 2.9.1+cu130\n"
            "error[CP101 driver-too-old-for-cuda] torch: torch 2.9.1+cu130 needs CUDA 13.0: driver >= 580.65.06; "
            "the node has 535.104.05\n"
            "  evidence: CUDA 13.0 GA needs driver >= 580.65.06 (source: NVIDIA CUDA Toolkit 13.2 Update 2 Release "
            "Notes, Table 3 ...)\n"
            "  hint: upgrade the driver to >= 580.65.06"
        ),
    ),
    CodeInfo(
        code="CP102",
        name="driver-minor-version-compat",
        category=Category.DRIVER,
        severity=WARNING,
        summary="The CUDA runtime is newer than the driver; it runs only under minor-version compatibility, "
        "with its limits.",
        explanation=(
            "The driver is below the CUDA release's own minimum but at or above the major's minor-version-"
            "compatibility floor. The application starts, but: PTX produced by the newer toolkit cannot be JIT-"
            "compiled by the older driver (cudaErrorUnsupportedPtxVersion), and APIs newer than the driver return "
            "cudaErrorCallRequiresNewerDriver. Kernels must therefore exist as SASS for every GPU." + _UNSURE
        ),
        example=(
            "node: driver 550.54.15 (CUDA 12.4); env: nvidia-cuda-runtime-cu12 12.8.90\n"
            "warning[CP102 driver-minor-version-compat] nvidia-cuda-runtime-cu12: nvidia-cuda-runtime-cu12 12.8.90 "
            "needs CUDA 12.8 (driver >= 570.26); driver 550.54.15 runs it only under minor-version compatibility "
            "(floor 525.60.13): no JIT of PTX newer than the driver, no APIs newer than the driver's CUDA version\n"
            "  hint: upgrade the driver to >= 570.26 to lift these limits"
        ),
    ),
    CodeInfo(
        code="CP103",
        name="no-driver-for-cuda",
        category=Category.DRIVER,
        severity=ERROR,
        summary="The environment needs a CUDA driver but the node has GPUs and no NVIDIA driver was found.",
        explanation=(
            "The node facts list GPUs but no driver version, so libcuda.so.1 will not load and every CUDA "
            "runtime in the environment fails to initialise."
        ),
        example=(
            "node: 1 GPU, no driver; env: torch 2.8.0\n"
            "error[CP103 no-driver-for-cuda] torch: no NVIDIA driver on the node, but torch 2.8.0 needs CUDA 12.8\n"
            "  hint: install the NVIDIA driver (and check that the container runtime exposes it)"
        ),
    ),
    CodeInfo(
        code="CP110",
        name="no-kernel-for-gpu",
        category=Category.COMPUTE_CAPABILITY,
        severity=ERROR,
        summary="A package has neither SASS nor usable PTX for one of the node's GPUs.",
        explanation=(
            "Device code runs on a GPU only if the fatbinary has SASS for the same major compute capability with "
            "a minor not above the device's (Tegra parts need an exact match; 'a' targets run on their exact "
            "compute capability only), or PTX for a compute capability not above the device's that the driver can "
            "JIT. Otherwise kernels fail with 'no kernel image is available for execution on the device'. The "
            "arch list comes from the package's binary facts, or, without them, from the matrix (for example the "
            "TORCH_CUDA_ARCH_LIST of the torch variant); the evidence says which. On a node with several GPU "
            "models every GPU is checked and the message names the failing one." + _UNSURE
        ),
        example=(
            "node: GPU 0 NVIDIA A100-SXM4-80GB (8.0), GPU 1 Tesla P100-PCIE-16GB (6.0); env: torch 2.8.0+cu128\n"
            "error[CP110 no-kernel-for-gpu] torch: torch 2.8.0+cu128 has no kernel for GPU 1 (Tesla "
            "P100-PCIE-16GB, compute capability 6.0): no SASS for sm_60 and no usable PTX\n"
            "  evidence: torch 2.8.0+cu128 (cu128) ships SASS sm_70, ..., sm_120 and PTX none (derived from the "
            "matrix: no binary facts)\n"
            "  hint: torch 2.8.0 cu126 still ships sm_60 kernels"
        ),
    ),
    CodeInfo(
        code="CP111",
        name="ptx-only-for-gpu",
        category=Category.COMPUTE_CAPABILITY,
        severity=WARNING,
        summary="A package reaches a GPU only through PTX: the driver JIT-compiles it at first launch.",
        explanation=(
            "There is no SASS for the GPU but PTX for a lower compute capability is present. The driver compiles "
            "it on first launch (slow start, cached afterwards) and only if it knows the PTX ISA version, i.e. if "
            "the driver's CUDA version is at least the producing toolkit's. Performance may be below native SASS."
            + _UNSURE
        ),
        example=(
            "node: GPU 0 Jetson T5000 (11.0); env: cupy-cuda12x 14.2.0 (SASS sm_50..sm_120, PTX compute_100)\n"
            "warning[CP111 ptx-only-for-gpu] cupy-cuda12x: unsure: cupy-cuda12x 14.2.0 runs on GPU 0 (Jetson "
            "T5000, compute capability 11.0) only by JIT-compiling compute_100 PTX at first launch\n"
            "  hint: expect a slow first launch; a build with SASS for this GPU avoids it"
        ),
    ),
    CodeInfo(
        code="CP120",
        name="glibc-too-old",
        category=Category.GLIBC,
        severity=ERROR,
        summary="A binary needs a newer glibc than the node has.",
        explanation=(
            "ELF objects record the glibc symbol versions they need (GLIBC_2.28, ...). If the node's glibc is "
            "older the dynamic loader refuses the library ('version GLIBC_2.28 not found'). The need comes from "
            "the binary facts (highest GLIBC_ version needed) or, without them, from the wheel's manylinux tag or "
            "the matrix row of the package; wheel tags can understate the real need." + _UNSURE
        ),
        example=(
            "node: glibc 2.17; env: torch 2.13.0\n"
            "error[CP120 glibc-too-old] torch: torch 2.13.0 needs glibc >= 2.28, the node has 2.17\n"
            "  hint: use a node (or container base image) with glibc >= 2.28, or an older build of torch"
        ),
    ),
    CodeInfo(
        code="CP121",
        name="glibcxx-too-old",
        category=Category.LIBSTDCXX,
        severity=ERROR,
        summary="A binary needs a GLIBCXX_ version the libstdc++ that will load does not define.",
        explanation=(
            "C++ libraries record the GLIBCXX_ versions they need. The libstdc++ that loads is the environment's "
            "own (conda libstdcxx / libstdcxx-ng, whose GCC version maps to a GLIBCXX_ level through the GCC ABI "
            "table) if it ships one, else the node's system libstdc++." + _UNSURE
        ),
        example=(
            "node: libstdc++ GLIBCXX_3.4.19; env: torch 2.13.0\n"
            "error[CP121 glibcxx-too-old] torch: torch 2.13.0 needs GLIBCXX_3.4.22, the libstdc++ that will load "
            "provides up to GLIBCXX_3.4.19\n"
            "  hint: add libstdcxx-ng >= 6.1.0 (GCC 6.1.0 defines GLIBCXX_3.4.22) to the environment, or use a node "
            "image with a newer libstdc++"
        ),
    ),
    CodeInfo(
        code="CP122",
        name="cxxabi-too-old",
        category=Category.LIBSTDCXX,
        severity=ERROR,
        summary="A binary needs a CXXABI_ version the libstdc++ that will load does not define.",
        explanation=("Same as CP121 for the CXXABI_ version namespace (C++ runtime ABI: exceptions, RTTI)." + _UNSURE),
        example=(
            "node: libstdc++ CXXABI_1.3.7; env: torch 2.13.0\n"
            "error[CP122 cxxabi-too-old] torch: torch 2.13.0 needs CXXABI_1.3.11, the libstdc++ that will load "
            "provides up to CXXABI_1.3.7\n"
            "  hint: add libstdcxx-ng >= 7.1.0 (GCC 7.1.0 defines CXXABI_1.3.11) to the environment, or use a node "
            "image with a newer libstdc++"
        ),
    ),
    CodeInfo(
        code="CP130",
        name="needed-library-missing",
        category=Category.MISSING_LIBRARY,
        severity=ERROR,
        summary="A DT_NEEDED library is provided by nothing in the environment or on the node.",
        explanation=(
            "Every DT_NEEDED entry must be found by the loader: inside the environment (a package's ELF files or "
            "a package the matrices know ships it, such as nvidia-cuda-runtime-cu12 for libcudart.so.12), or on "
            "the node (glibc's own libraries, libstdc++/libgcc_s, and the libraries the NVIDIA driver installs, "
            "such as libcuda.so.1 and libnvidia-ml.so.1, which are never reported). A CUDA library missing from "
            "the environment is an error (the classic case: a wheel built for CUDA 11 needing libcudart.so.11.0 "
            "next to CUDA 12 packages). Other libraries are reported as warnings, because envresolve does not "
            "inventory the node's system libraries."
        ),
        example=(
            "env: bitsandbytes 0.50.2 (libbitsandbytes_cuda126.so needs libcudart.so.12, libcublas.so.12), "
            "nvidia-cuda-runtime-cu12\n"
            "error[CP130 needed-library-missing] bitsandbytes: libcublas.so.12 needed by "
            "libbitsandbytes_cuda126.so of bitsandbytes 0.50.2 is provided by nothing in the environment or on the "
            "node\n"
            "  hint: add nvidia-cublas-cu12 to the environment"
        ),
    ),
    CodeInfo(
        code="CP140",
        name="cxx11-abi-mismatch",
        category=Category.CXX_ABI,
        severity=ERROR,
        summary="An extension package was built with a different _GLIBCXX_USE_CXX11_ABI than torch.",
        explanation=(
            "libtorch's C++ API passes std::string and std::list across library boundaries, so an extension "
            "built with the other libstdc++ string ABI fails to load with undefined symbols. PyTorch's pip wheels "
            "use the cxx11 ABI from 2.7 on (2.6: only the cu126 variant), earlier ones the pre-cxx11 ABI. The "
            "extension's ABI comes from its binary facts; torch's from its binary facts or the matrix." + _UNSURE
        ),
        example=(
            "env: torch 2.7.1, myext 1.0 (built with _GLIBCXX_USE_CXX11_ABI=0)\n"
            "error[CP140 cxx11-abi-mismatch] myext: myext 1.0 uses the pre-cxx11 ABI, torch 2.7.1 the cxx11 ABI: "
            "it will fail to load with undefined C++ symbols\n"
            "  hint: install a build of myext made with _GLIBCXX_USE_CXX11_ABI=1 (often tagged cxx11abiTRUE), or "
            "rebuild it against this torch"
        ),
    ),
    CodeInfo(
        code="CP150",
        name="torch-companion-mismatch",
        category=Category.COMPANION,
        severity=ERROR,
        summary="torchvision or torchaudio does not pair with the torch release in the environment.",
        explanation=(
            "torchvision and torchaudio are built against one torch release (torchvision 0.22 with torch 2.7, "
            "torchaudio 2.7 with torch 2.7); a different torch fails at import with undefined symbols. Their CUDA "
            "variants must match torch's too." + _UNSURE
        ),
        example=(
            "env: torch 2.8.0, torchvision 0.22.1\n"
            "error[CP150 torch-companion-mismatch] torchvision: torchvision 0.22.1 pairs with torch 2.7, the "
            "environment has torch 2.8.0\n"
            "  hint: use torchvision 0.23 with torch 2.8"
        ),
    ),
    CodeInfo(
        code="CP160",
        name="mixed-cuda-majors",
        category=Category.DRIVER,
        severity=ERROR,
        summary="The environment holds CUDA runtimes of different majors.",
        explanation=(
            "Packages built for CUDA 12 and CUDA 13 cannot share one process reliably: each needs its own "
            "libcudart/libcublas sonames, cuDNN and NCCL builds, and one side usually loses. Typical cause: a "
            "torch from PyPI (CUDA 13 by default since 2.11) next to nvidia-*-cu12 wheels or a cu12 extension."
            + _UNSURE
        ),
        example=(
            "env: torch 2.13.0 (PyPI default: CUDA 13.0), nvidia-cudnn-cu12 9.10.2.21\n"
            "error[CP160 mixed-cuda-majors] the environment mixes CUDA 12 (nvidia-cudnn-cu12) and CUDA 13 (torch)\n"
            "  hint: pick one CUDA major for every package: e.g. move everything to CUDA 13 (as torch) or pin the "
            "CUDA 12 builds throughout"
        ),
    ),
    CodeInfo(
        code="CP170",
        name="cudnn-cuda-mismatch",
        category=Category.CUDNN,
        severity=ERROR,
        summary="The cuDNN build does not support the environment's CUDA version or the node's driver.",
        explanation=(
            "Each cuDNN release is built per CUDA major and supports a list of CUDA minors and a driver floor "
            "(cuDNN Support Matrix)." + _UNSURE
        ),
        example=(
            "env: nvidia-cuda-runtime 13.0.48, nvidia-cudnn-cu12 9.10.2.21\n"
            "error[CP170 cudnn-cuda-mismatch] nvidia-cudnn-cu12: nvidia-cudnn-cu12 9.10.2.21 (cuDNN 9.10 for CUDA "
            "12) does not support the environment's CUDA 13.0\n"
            "  hint: use nvidia-cudnn-cu13 (a cuDNN build for CUDA 13.0)"
        ),
    ),
    CodeInfo(
        code="CP171",
        name="nccl-cuda-mismatch",
        category=Category.NCCL,
        severity=ERROR,
        summary="The NCCL build is for a different CUDA major than the environment's CUDA runtime.",
        explanation=(
            "NCCL wheels are built per CUDA major (nvidia-nccl-cu12, nvidia-nccl-cu13) and conda nccl pins "
            "cuda-version; a build for another major needs that major's runtime." + _UNSURE
        ),
        example=(
            "env: torch 2.13.0, nvidia-nccl-cu12 2.27.5\n"
            "error[CP171 nccl-cuda-mismatch] nvidia-nccl-cu12: nvidia-nccl-cu12 2.27.5 is built for CUDA 12, the "
            "environment's CUDA runtime is 13.0\n"
            "  hint: use nvidia-nccl-cu13"
        ),
    ),
    CodeInfo(
        code="CP180",
        name="python-version-unsupported",
        category=Category.PYTHON,
        severity=ERROR,
        summary="The environment's Python is not one the package release supports.",
        explanation=(
            "PyTorch releases publish wheels for a fixed set of Python versions (PyPI classifiers and wheel "
            "tags); JAX plugins and TensorFlow state Requires-Python. Another interpreter finds no wheel or an "
            "incompatible one." + _UNSURE
        ),
        example=(
            "env: python 3.9.19, torch 2.9.1\n"
            "error[CP180 python-version-unsupported] torch: torch 2.9 supports Python 3.10, 3.11, 3.12, 3.13, "
            "3.14; the environment has 3.9.19\n"
            "  hint: use Python 3.10-3.14, or torch 2.8.0 for Python 3.9"
        ),
    ),
    # --- extensions built against torch, judged from their names (envresolve.compat.extensions) ---------------
    CodeInfo(
        code="CP200",
        name="extension-abi-by-name",
        category=Category.CXX_ABI,
        severity=ERROR,
        summary="An extension's name says it was built with the other _GLIBCXX_USE_CXX11_ABI than torch uses.",
        explanation=(
            "Extension wheels built against torch state their C++ ABI in the name (flash-attn: "
            "`+cu12torch2.6cxx11abiTRUE`). libtorch passes std::string across its API, so a build with the other "
            "libstdc++ string ABI fails to load with undefined symbols such as _ZN3c105ErrorC2...cxx11... . "
            "The extension's ABI is a fact encoded in its name (matrices/names.yaml); torch's comes from its "
            "binary facts or the matrix (PyPI torch wheels are pre-cxx11 before 2.7, 2.6's cu126 variant aside). "
            "When the extension's own binary facts are known, CP140 judges instead." + _UNSURE
        ),
        example=(
            "env: torch 2.3.1, flash-attn 2.5.8+cu122torch2.3cxx11abiTRUE\n"
            "error[CP200 extension-abi-by-name] flash-attn: flash-attn 2.5.8+cu122torch2.3cxx11abitrue was built "
            "with the cxx11 ABI (its name says so), torch 2.3.1 uses the pre-cxx11 ABI: it will fail to load with "
            "undefined C++ symbols\n"
            "  hint: use the cxx11abiFALSE build of flash-attn for this torch, or rebuild it against this torch"
        ),
    ),
    CodeInfo(
        code="CP201",
        name="extension-torch-minor-by-name",
        category=Category.COMPANION,
        severity=ERROR,
        summary="An extension's name says it was built for another torch minor release than the environment has.",
        explanation=(
            "flash-attn, xformers and the PyG extensions compile against torch's C++ API, which changes between "
            "minor releases; a build for torch 2.3 fails to load under torch 2.4 with undefined symbols. The torch "
            "release the build targets is encoded in its name (flash-attn `torch2.3`, PyG `+pt23cu121`); which "
            "packages bind to one torch minor is sourced data (matrices/names.yaml `bindings`). A package whose "
            "binding is not confirmed gets a warning." + _UNSURE
        ),
        example=(
            "env: torch 2.4.1, flash-attn 2.6.3+cu123torch2.3cxx11abiFALSE\n"
            "error[CP201 extension-torch-minor-by-name] flash-attn: flash-attn 2.6.3+cu123torch2.3cxx11abifalse "
            "was built for torch 2.3, the environment has torch 2.4.1: it will fail to load with undefined symbols\n"
            "  hint: use the flash-attn build for torch 2.4, or torch 2.3"
        ),
    ),
    CodeInfo(
        code="CP202",
        name="extension-cuda-major-by-name",
        category=Category.COMPANION,
        severity=WARNING,
        summary="An extension's name says it was built for another CUDA major than torch's CUDA variant.",
        explanation=(
            "An extension built against torch for CUDA 12 (`+cu12...`, `+cu121`, `+pt21cu121`) next to a torch "
            "built for CUDA 11 (or the reverse) mixes two CUDA runtimes in one process; whether it loads depends "
            "on how the extension links the runtime, so this is a warning. Both CUDA versions are facts encoded "
            "in names (or the matrix's PyPI default variant for an unlabelled torch)."
        ),
        example=(
            "env: torch 2.1.2+cu118, torch-scatter 2.1.2+pt21cu121\n"
            "warning[CP202 extension-cuda-major-by-name] torch-scatter: torch-scatter 2.1.2+pt21cu121 was built for "
            "CUDA 12, torch 2.1.2+cu118 for CUDA 11\n"
            "  hint: use the torch-scatter build for CUDA 11"
        ),
    ),
)
