"""ND: node facts: probing the live machine and loading node descriptions.

ND1xx: probing the live machine. ND2xx: reading node descriptions (facts files, Kubernetes Node
manifests, conda virtual-package files, profiles, overrides). ND301-ND309: comparing two nodes.
ND310-ND329: reading saved Slurm `scontrol show node` output.
"""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
NODE, DRIVER, GLIBC, LIBSTDCXX = Category.NODE, Category.DRIVER, Category.GLIBC, Category.LIBSTDCXX

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="ND101",
        name="no-nvidia-driver",
        category=DRIVER,
        severity=INFO,
        summary="No NVIDIA driver or GPU was found: the node is described without GPUs.",
        explanation=(
            "The probe found neither a usable NVML library nor `/proc/driver/nvidia/version` nor a working "
            "`nvidia-smi`. That is normal on a CPU-only machine. The node facts list no GPUs and no driver, "
            "so checks treat it as CPU-only: CUDA packages will be reported as unusable there."
        ),
        example="envresolve probe   # on a machine without an NVIDIA driver",
    ),
    CodeInfo(
        code="ND102",
        name="nvml-unavailable",
        category=DRIVER,
        severity=INFO,
        summary="NVML could not be used; the probe fell back to /proc and nvidia-smi.",
        explanation=(
            "`nvidia-ml-py` could not load or initialise `libnvidia-ml.so.1` (the message names the NVML "
            "error). The probe then reads the driver version from `/proc/driver/nvidia/version` and the GPUs "
            "from `nvidia-smi --query-gpu`. Facts that only NVML reports (the driver's CUDA level on old "
            "drivers, MIG mode) may be missing."
        ),
    ),
    CodeInfo(
        code="ND103",
        name="gpu-fact-unreadable",
        category=NODE,
        severity=WARNING,
        summary="One query about the driver or a GPU failed; that fact is missing, the others are kept.",
        explanation=(
            "An NVML call (or an `nvidia-smi` field) failed for one GPU or one driver property, for example "
            "a GPU that fell off the bus or a query the driver does not support. The fact is left out of the "
            "node facts (or the GPU is skipped when even its compute capability is unknown) and every other "
            "fact is kept. Checks that need the missing fact cannot be exact for that GPU."
        ),
    ),
    CodeInfo(
        code="ND104",
        name="nvidia-smi-failed",
        category=DRIVER,
        severity=WARNING,
        summary="`nvidia-smi` failed, timed out or printed something that could not be parsed.",
        explanation=(
            "The fallback path runs `nvidia-smi --query-gpu=... --format=csv,noheader` with a timeout. It "
            "exited with an error, did not answer in time, or printed lines that do not have the expected "
            "fields. The driver version from `/proc/driver/nvidia/version` is still reported when present."
        ),
    ),
    CodeInfo(
        code="ND105",
        name="libstdcxx-not-found",
        category=LIBSTDCXX,
        severity=WARNING,
        summary="The loader would find no libstdc++.so.6 on this machine.",
        explanation=(
            "Neither the loader cache (`/etc/ld.so.cache`, or `ldconfig -p`) nor the standard library "
            "directories hold `libstdc++.so.6` for this architecture. C++ programs that do not bring their "
            "own libstdc++ (conda environments do) will not start here."
        ),
    ),
    CodeInfo(
        code="ND106",
        name="libstdcxx-unreadable",
        category=LIBSTDCXX,
        severity=WARNING,
        summary="The system libstdc++ was found but its ELF version definitions could not be read.",
        explanation=(
            "envresolve reads the highest `GLIBCXX_` and `CXXABI_` versions from the library's version "
            "definitions (`.gnu.version_d`), never from its file name. The file could not be opened or has "
            "no readable version definitions, so those levels are unknown."
        ),
    ),
    CodeInfo(
        code="ND107",
        name="glibc-unknown",
        category=GLIBC,
        severity=WARNING,
        summary="The C library is not GNU libc or did not report its version.",
        explanation=(
            "`os.confstr('CS_GNU_LIBC_VERSION')` and `gnu_get_libc_version()` both failed. That happens on "
            "musl-based systems such as Alpine. Packages and wheels built for glibc (`manylinux`, conda's "
            "`__glibc`) cannot be judged for this node."
        ),
    ),
    CodeInfo(
        code="ND108",
        name="os-release-unreadable",
        category=NODE,
        severity=INFO,
        summary="/etc/os-release (or /usr/lib/os-release) is missing or unreadable; the OS is unknown.",
        explanation=(
            "The probe reads `ID` and `VERSION_ID` from os-release. Without them the OS is unknown; other "
            "facts (glibc, libstdc++) are still probed directly."
        ),
    ),
    CodeInfo(
        code="ND109",
        name="unsupported-architecture",
        category=NODE,
        severity=ERROR,
        summary="This machine's CPU architecture is not one envresolve describes (x86_64, aarch64, ppc64le).",
        explanation=(
            "Node facts name the CPU architecture the way conda subdirs and wheel tags do; only x86_64, "
            "aarch64 and ppc64le have NVIDIA CUDA drivers on Linux. The probe stops (exit status 3) instead "
            "of describing the machine as something it is not. Describe the target node with a facts file or "
            "a profile instead."
        ),
    ),
    CodeInfo(
        code="ND201",
        name="facts-schema-too-new",
        category=NODE,
        severity=ERROR,
        summary="A node facts file was written by a newer envresolve with a schema this version cannot read.",
        explanation=(
            "Every facts file carries `schema_version`. This envresolve reads versions up to its own "
            "(`envresolve probe --format json` shows it). A newer number means fields may have changed "
            "meaning, so the file is refused rather than misread. Upgrade envresolve, or probe the node again "
            "with this version."
        ),
        example="envresolve probe --node node-from-the-future.json",
    ),
    CodeInfo(
        code="ND202",
        name="node-file-malformed",
        category=NODE,
        severity=ERROR,
        summary="A node description (facts file, Node manifest, virtual-packages file) is not valid.",
        explanation=(
            "The file is not valid JSON or YAML, or it parses but does not have the shape of its kind: a "
            "facts file with unknown or ill-typed fields, a Kubernetes Node whose `metadata.labels` is not a "
            "mapping, a `List` whose `items` is not a list, a virtual-packages file without "
            "`subdirs.<subdir>.packages`. The message names the place; nothing is guessed."
        ),
        example="envresolve probe --node broken-node.yaml",
    ),
    CodeInfo(
        code="ND203",
        name="unknown-node-format",
        category=NODE,
        severity=ERROR,
        summary="A file given as a node is none of the formats envresolve reads.",
        explanation=(
            "`--node` takes a node facts file (JSON or YAML from `envresolve probe --format json`), a "
            "Kubernetes `Node` or `List` of Nodes (`kubectl get node -o yaml`), a conda-lock style "
            "virtual-packages file (`subdirs: {linux-64: {packages: {...}}}`), or a bundled profile name. "
            "The file parsed but matched none of them."
        ),
    ),
    CodeInfo(
        code="ND204",
        name="unknown-node-profile",
        category=NODE,
        severity=ERROR,
        summary="No bundled node profile has that name, and no file has that path.",
        explanation=(
            "The `--node` value is neither an existing file nor the name of a bundled profile. The message "
            "lists the closest profile names; `envresolve probe --list-profiles` lists all of them."
        ),
        example="envresolve probe --node h100-driver999",
    ),
    CodeInfo(
        code="ND205",
        name="node-label-invalid",
        category=NODE,
        severity=WARNING,
        summary="A Kubernetes node label has a value that cannot be used; the fact it carries is left out.",
        explanation=(
            "A GPU Feature Discovery or Node Feature Discovery label was present but its value is not of the "
            "documented form (for example `nvidia.com/gpu.compute.major: x`), or the current and deprecated "
            "forms of a label disagree. The fact is left out (or the current form wins) and the rest of the "
            "node is loaded."
        ),
    ),
    CodeInfo(
        code="ND206",
        name="distro-not-in-table",
        category=GLIBC,
        severity=WARNING,
        summary="glibc and libstdc++ could not be inferred: the OS release is not in the distro table.",
        explanation=(
            "Node Feature Discovery publishes the OS release but no glibc label. envresolve infers glibc and "
            "the default libstdc++ from `matrices/distros.yaml`; this OS ID and VERSION_ID have no row, so "
            "both stay unknown. Declare them in a facts file, or add a sourced row to the table."
        ),
    ),
    CodeInfo(
        code="ND207",
        name="fact-inferred",
        category=NODE,
        severity=INFO,
        summary="A fact was inferred from the OS release through the sourced distro table.",
        explanation=(
            "The node description did not state glibc or libstdc++, so they were taken from the row of "
            "`matrices/distros.yaml` for the node's OS release, and marked `inferred` in the facts' "
            "provenance. The evidence names the row's source; an `[unsure]` row lowers confidence in checks "
            "that rest on it. A node that updated its C++ runtime beyond the distro default will have a "
            "newer libstdc++ than inferred."
        ),
    ),
    CodeInfo(
        code="ND208",
        name="mig-devices-counted",
        category=NODE,
        severity=WARNING,
        summary="GPU Feature Discovery's MIG 'single' strategy counts MIG devices, not physical GPUs.",
        explanation=(
            "With `nvidia.com/mig.strategy=single`, `nvidia.com/gpu.count` and `nvidia.com/gpu.memory` describe "
            "MIG devices and `nvidia.com/gpu.product` carries a `-MIG-<profile>` suffix. The node is loaded "
            "with one GPU entry per MIG device, MIG mode on, memory unknown. Compute capability (what "
            "compatibility depends on) is exact; the GPU count is not the physical one."
        ),
    ),
    CodeInfo(
        code="ND209",
        name="conda-override-invalid",
        category=NODE,
        severity=WARNING,
        summary="A CONDA_OVERRIDE_* variable has a value that is not a version; it is ignored.",
        explanation=(
            "`CONDA_OVERRIDE_CUDA` and `CONDA_OVERRIDE_GLIBC` take a version such as `12.8` or `2.28`, "
            "`CONDA_OVERRIDE_CUDA_ARCH` a compute capability such as `8.0`; an empty value removes the "
            "virtual package (conda's meaning). Any other value is ignored, as conda does, and this warning "
            "says so."
        ),
        example="CONDA_OVERRIDE_CUDA=twelve envresolve probe",
    ),
    CodeInfo(
        code="ND210",
        name="conda-override-applied",
        category=NODE,
        severity=INFO,
        summary="A CONDA_OVERRIDE_* variable replaced or removed a node fact.",
        explanation=(
            "conda's overrides are honoured as conda honours them: `CONDA_OVERRIDE_CUDA=12.8` sets the "
            "driver's CUDA level, `CONDA_OVERRIDE_CUDA=` (empty) removes CUDA (no driver, no GPUs), "
            "`CONDA_OVERRIDE_GLIBC` sets or removes glibc, `CONDA_OVERRIDE_CUDA_ARCH` sets or removes the "
            "lowest compute capability. The fact is marked `declared`."
        ),
    ),
    CodeInfo(
        code="ND230",
        name="gpus-without-driver-fact",
        category=NODE,
        severity=INFO,
        summary="A node description lists GPUs but does not state the driver: a driver of unknown version is assumed.",
        explanation=(
            "GPUs are only ever listed by something that talks to the NVIDIA driver (NVML, nvidia-smi, GPU "
            "Feature Discovery), so a node that lists GPUs has a driver. When the description does not state it "
            "(a facts file without a `driver` key, GFD labels without the driver labels, nvidia-smi without a "
            "driver version), the driver is present with its version and CUDA level unknown: driver rules do "
            "not run and nothing claims the driver is missing. A facts file states `driver: null` to mean that "
            "the node has no driver."
        ),
        example='{"schema_version": 1, "gpus": [{"index": 0, "name": "NVIDIA H100", "compute_capability": "9.0"}]}',
    ),
    CodeInfo(
        code="ND330",
        name="image-facts-inferred",
        category=GLIBC,
        severity=INFO,
        summary="A container image's OS release, glibc, libstdc++ (and CUDA of nvidia/cuda tags) from the image table.",
        explanation=(
            "An environment that runs inside a container image loads the image's glibc and libstdc++, whatever "
            "the host has; the host contributes only the kernel, the driver and the GPUs. The image reference is "
            "looked up in `matrices/images.yaml` (repository + tag -> OS release; nvidia/cuda and pytorch/pytorch "
            "tags also name their CUDA toolkit and cuDNN), and glibc and libstdc++ come from the OS release's rows "
            "of `matrices/distros.yaml`. The facts are marked `inferred`; the evidence cites both rows."
        ),
        example="envresolve lint requirements.txt --image nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04 --node h100",
    ),
    CodeInfo(
        code="ND331",
        name="image-not-in-table",
        category=GLIBC,
        severity=INFO,
        summary="A container image is not in the image table: its glibc and libstdc++ stay unknown.",
        explanation=(
            "The image's repository and tag match no row of `matrices/images.yaml` (a private base image, an "
            "alpine/musl image, a tag built from a variable). Its C libraries are unknown, and checks that need "
            "them are skipped rather than guessed; the host's glibc is never used in its place. Add a sourced "
            "row, or probe inside the image (`envresolve probe --format json` in the container) and pass that "
            "facts file as the node."
        ),
    ),
    CodeInfo(
        code="ND301",
        name="node-fact-differs",
        category=NODE,
        severity=WARNING,
        summary="A fact of this node differs from the node it is compared with (`probe --against`).",
        explanation=(
            "`envresolve probe --against PROFILE` compares each fact of the probed (or `--node`) node with "
            "the reference node: OS, kernel, arch, microarchitecture level, glibc, libstdc++ levels, driver, "
            "CUDA level, GPU models and compute capabilities. Each difference is one finding; the subject "
            "names the fact. An environment locked for the reference node may not run here. "
            "`--fail-on-difference` turns the exit status to 1."
        ),
        example="envresolve probe --against h100-driver580",
    ),
    CodeInfo(
        code="ND302",
        name="node-fact-unknown",
        category=NODE,
        severity=INFO,
        summary="A fact is known for only one of the two compared nodes.",
        explanation=(
            "One side of a `probe --against` comparison does not know this fact (for example the kernel "
            "release, which profiles do not state), so it cannot be compared. A driver or GPUs present on "
            "one side only is a difference (ND301), not an unknown."
        ),
    ),
    CodeInfo(
        code="ND310",
        name="slurm-node-text-invalid",
        category=NODE,
        severity=ERROR,
        summary="The file starts like `scontrol show node` output but cannot be read as such.",
        explanation=(
            "A file whose first word is `NodeName=` is read as saved `scontrol show node` (or `scontrol -o show "
            "node`) output: every line is `Key=Value` pairs, and each `NodeName=` starts a node. A line that is "
            "not `Key=Value` text (an edited or truncated capture, a shell prompt, `[...]`), a `NodeName` without "
            "a value, a node listed twice, or more than 100,000 nodes stop the load; the message names the line."
        ),
        example="envresolve probe --node nodes.txt   # nodes.txt: scontrol show node output with a stray line",
    ),
    CodeInfo(
        code="ND311",
        name="slurm-gpu-type-read",
        category=NODE,
        severity=INFO,
        summary="A Slurm Gres type was read as a GPU model through the GPU table; its compute capability follows.",
        explanation=(
            "`Gres=gpu:TYPE:COUNT` names the GPUs with a type the Slurm admin chose (`a100`, `h100`, or with "
            "`AutoDetect=nvml` a name such as `nvidia_a100-sxm4-80gb`). When the type matches a model or alias "
            "of `matrices/gpus.yaml` (vendor words, memory size and form factor ignored), the node lists COUNT "
            "GPUs of that model with its compute capability, marked `inferred`; the evidence cites the table row. "
            "A type matching models of different compute capabilities, or none, is not guessed (ND312)."
        ),
    ),
    CodeInfo(
        code="ND312",
        name="slurm-gpu-model-unknown",
        category=NODE,
        severity=WARNING,
        summary="Slurm names GPUs without a model envresolve can look up: their count is known, their model is not.",
        explanation=(
            "An untyped gres (`gpu:2`), or a type the GPU table does not know (`gpu:a800:8`, `gpu:tesla:2`), says "
            "how many GPUs the node has but not what they are. Without a compute capability these GPUs are not "
            "listed in the node facts (the count is kept in the `slurm/gpus` label), so no kernel-image check "
            "covers them and nothing is judged about them. Typed gres, or facts measured with `envresolve "
            "probe` on the node, close the gap."
        ),
    ),
    CodeInfo(
        code="ND313",
        name="slurm-driver-unknown",
        category=DRIVER,
        severity=INFO,
        summary="Slurm does not report the NVIDIA driver: a GPU node's driver version and CUDA level are unknown.",
        explanation=(
            "`scontrol show node` names GPUs (Gres) but not the driver that runs them. A node with GPU gres gets a "
            "driver of unknown version and CUDA level (provenance `inferred`): driver checks do not run for it, "
            "and no check reports the driver as missing. Measured facts (`srun envresolve probe --format json` on "
            "each node, docs/slurm.md) carry the driver."
        ),
    ),
    CodeInfo(
        code="ND314",
        name="slurm-field-unreadable",
        category=NODE,
        severity=WARNING,
        summary="A field of `scontrol show node` output has a value envresolve cannot read; that fact is left out.",
        explanation=(
            "`Gres` entries end in a count (`gpu:a100:4`), `Arch` is x86_64, aarch64 or ppc64le, and `OS` reads "
            "`Linux <kernel release> ...`. Another value leaves that fact unknown and the rest of the node is "
            "loaded."
        ),
    ),
    CodeInfo(
        code="ND315",
        name="slurm-glibc-unknown",
        category=GLIBC,
        severity=INFO,
        summary="Slurm gives only the kernel release, which does not name the distribution: glibc stays unknown.",
        explanation=(
            "`OS=` in `scontrol show node` is the kernel (`uname -srv`), not the OS release. RHEL-family kernels "
            "name their release (`.el8_8.`), so glibc and libstdc++ are inferred for them (ND207); other kernels "
            "(`5.15.0-91-generic`, `6.1.0-18-amd64`) do not, and glibc and libstdc++ stay unknown rather than "
            "guessed: checks that need them do not run."
        ),
    ),
)
