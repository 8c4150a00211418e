"""RS1xx: the conda side of resolution (py-rattler solves). The pip side's RS codes live in `resolve.py`."""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="RS101",
        name="conda-unsatisfiable",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="The conda dependencies have no solution in the given channels for this node.",
        explanation=(
            "py-rattler's solver found no set of conda packages that satisfies every conda dependency of the "
            "spec together with the node's virtual packages. The message carries the solver's own explanation "
            "(which package needs what, and why no candidate fits). Typical causes: a version that is not in "
            "the channels (for example python 3.11 in a channel that only has 3.12), two pins that contradict "
            "each other, or a channel missing from the spec."
        ),
        example="conda: python 3.11.* with a channel that has only python 3.12 builds",
    ),
    CodeInfo(
        code="RS102",
        name="conda-needs-newer-driver",
        category=Category.DRIVER,
        severity=ERROR,
        summary="The conda solve fails because of the node's CUDA driver level (`__cuda`).",
        explanation=(
            "Every candidate of some conda package needs the `__cuda` virtual package at a level the node's "
            "driver does not offer (or the node has no NVIDIA driver at all). envresolve re-solves with higher "
            "`__cuda` levels to find the smallest one that works, and names the driver that provides it. "
            "Alternatives: pin an older CUDA build (`cuda-version`), or use a CPU build."
        ),
        example="cuda-version 12.* needs __cuda >=12 on a node whose driver 470 offers CUDA 11.4",
    ),
    CodeInfo(
        code="RS103",
        name="conda-needs-newer-glibc",
        category=Category.GLIBC,
        severity=ERROR,
        summary="The conda solve fails because of the node's glibc (`__glibc`).",
        explanation=(
            "Every candidate of some conda package needs the `__glibc` virtual package at a version above the "
            "node's glibc. envresolve re-solves with newer glibc versions to find the smallest one that works. "
            "Alternatives: an older release of the package built for the older glibc, or a newer OS image."
        ),
        example="pytorch 2.4.0 (conda-forge) needs __glibc >=2.17 on a node with glibc 2.12",
    ),
    CodeInfo(
        code="RS104",
        name="conda-needs-virtual-package",
        category=Category.NODE,
        severity=ERROR,
        summary="The conda solve fails because of a node virtual package other than `__cuda` and `__glibc`.",
        explanation=(
            "Some conda package depends on a virtual package (`__linux`, `__archspec`, `__cuda_arch`, ...) that "
            "the node does not provide at the needed version. The message names the virtual package and the "
            "node's value."
        ),
        example="cuda-arch sm100 needs __cuda_arch >=10 on an H100 (compute capability 9.0)",
    ),
    CodeInfo(
        code="RS105",
        name="conda-channel-unavailable",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="The repodata of a conda channel could not be read (network, offline without a cache, bad path).",
        explanation=(
            "envresolve fetches each channel's repodata through py-rattler's gateway (sharded repodata where the "
            "channel offers it) and caches it. In offline mode only the cache is used, so a channel never fetched "
            "before cannot be read. A `file://` channel must be a directory with `<subdir>/repodata.json`. "
            "Check the channel name, the mirror/alias setting, or run once without `--offline`."
        ),
        example="envresolve lock spec.yaml --offline   # with an empty repodata cache",
    ),
    CodeInfo(
        code="RS106",
        name="conda-bad-matchspec",
        category=Category.SPEC,
        severity=ERROR,
        summary="A conda dependency is not a valid MatchSpec, even after translating conda's exact-pin form.",
        explanation=(
            "conda accepts `name 1.2.3` and `name=1.2.3=build` as exact pins; envresolve translates them to the "
            "form py-rattler parses (`name ==1.2.3`). This dependency still cannot be parsed; the message quotes "
            "the parser's error."
        ),
        example="dependencies: [numpy >>1.0]",
    ),
    CodeInfo(
        code="RS107",
        name="conda-exact-pin-translated",
        category=Category.SPEC,
        severity=INFO,
        summary="A conda exact pin written as `name 1.2.3` was read as `name ==1.2.3`.",
        explanation=(
            "conda reads a bare version after a space as an exact pin. py-rattler's strict parser rejects that "
            "form, so envresolve rewrote it explicitly before solving. Nothing to fix; writing `==` makes the "
            "spec portable to every tool."
        ),
        example="dependencies: [pytorch 2.3.0]",
    ),
    CodeInfo(
        code="RS108",
        name="conda-solver-timeout",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="The conda solver did not finish within the time limit.",
        explanation=(
            "py-rattler's solver stopped after the configured timeout. Narrow the specs (pin versions, drop "
            "unneeded channels) or raise the limit."
        ),
    ),
    CodeInfo(
        code="RS109",
        name="no-common-lock",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="No single lock works on every target node; the message names the node that prevents it.",
        explanation=(
            "With several `--node` targets envresolve first solves for the weakest combination of their facts "
            "(lowest driver CUDA level, lowest glibc), which gives a lock valid everywhere. When that fails it "
            "solves per node and reports which node blocks the common lock and which of its facts does."
        ),
        example="envresolve lock spec.yaml --node h100-driver-580 --node k80-driver-470",
    ),
    CodeInfo(
        code="RS130",
        name="needs-glibc-unknown-on-node",
        category=Category.GLIBC,
        severity=WARNING,
        summary="The environment needs a glibc floor on a node whose glibc is unknown.",
        explanation=(
            "The node facts do not state glibc (Slurm facts of a kernel that does not name a RHEL-family "
            "release, a facts file without `glibc`). Unknown is never an error: the conda solve is given a "
            "`__glibc` that admits every record and the pip resolver accepts every manylinux tag, so nothing is "
            "held against a package for a fact nobody knows. What the chosen packages need is still known: the "
            "highest `__glibc >=` among the conda records, and each wheel's glibc need (binary facts, the torch "
            "matrix row, or its manylinux tag). This warning names that floor and the package that sets it."
        ),
        example="envresolve lock spec.yaml --node scontrol-ubuntu-node.txt   # needs glibc >= 2.28 on the node",
    ),
    CodeInfo(
        code="RS131",
        name="needs-libstdcxx-unknown-on-node",
        category=Category.LIBSTDCXX,
        severity=WARNING,
        summary="The environment needs a libstdc++ level on a node whose libstdc++ is unknown.",
        explanation=(
            "No conda libstdc++ is in the environment, and the node facts do not state the libstdc++ the loader "
            "picks, so `GLIBCXX_` needs cannot be judged. The warning names the highest `GLIBCXX_` a package "
            "needs (binary facts or the torch matrix row). Add `libstdcxx-ng` to the conda dependencies, or "
            "state the node's libstdc++ in its facts."
        ),
        example="torch 2.8.0 wheels (GLIBCXX_3.4.30) for a node whose libstdc++ is unknown",
    ),
    CodeInfo(
        code="RS132",
        name="needs-driver-unknown-on-node",
        category=Category.DRIVER,
        severity=WARNING,
        summary="The environment needs a CUDA driver level on a node whose driver version is unknown.",
        explanation=(
            "The node has an NVIDIA driver (it lists GPUs) but neither its version nor its CUDA level is known "
            "(Slurm facts, a facts file with GPUs and no `driver`). Unknown is never an error: the conda solve "
            "is given a `__cuda` that admits every record and pip candidates are not judged on the driver. The "
            "warning names the highest CUDA the packages bring (a conda record's `__cuda >=`, a CUDA runtime, a "
            "torch variant) and the driver that version needs, from the sourced driver table."
        ),
        example="cuda-version 12.* on a Slurm node: needs a driver supporting CUDA >= 12.0 (driver >= 525.60.13)",
    ),
    CodeInfo(
        code="RS133",
        name="needs-kernel-unknown-on-node",
        category=Category.NODE,
        severity=WARNING,
        summary="The environment needs a Linux kernel floor on a node whose kernel release is unknown.",
        explanation=(
            "The node facts do not state the kernel release, so its `__linux` virtual package is unknown. The "
            "conda solve is given a `__linux` that admits every record instead of refusing every package that "
            "asks for `__linux >=X` (unknown is never an error), and this warning names the highest `__linux >=` "
            "among the chosen records."
        ),
        example="a record depending on __linux >=4.18 locked for a facts file without os.kernel",
    ),
    CodeInfo(
        code="RS110",
        name="conda-record-kept-out",
        category=Category.RESOLUTION,
        severity=INFO,
        summary="The judge rejected a conda record for every target node, and the solve was repeated without it.",
        explanation=(
            "After a conda solve, each chosen record is judged with the rules lock and check use (its recorded "
            "binary facts where an `envresolve inspect` report is cached, the matrices otherwise). A version the "
            "judge rejects on every node is kept out (`name !=version`) and conda solves again, so the lock holds "
            "a build that runs. The finding names the record and the reason. When no solution remains without "
            "it, the first solution stays and the judge's errors on it are reported."
        ),
        example="cuda-cudart 12.9.79 needs glibc >= 2.99 (cached report): solved again with cuda-cudart !=12.9.79",
    ),
    CodeInfo(
        code="RS111",
        name="conda-keep-out-unsat",
        category=Category.RESOLUTION,
        severity=WARNING,
        summary="A conda record the judge rejects on every node cannot be kept out: without it the spec has no "
        "solution.",
        explanation=(
            "The conda solve was repeated without the record (RS110 explains the mechanism) and conda found no "
            "solution: something in the spec requires that very version. The lock keeps the solution that has "
            "it, so the judge's error on it is reported and no lock is written. The finding names the record, the "
            "rule that rejects it and what conda said without it; relax the spec that requires it, or target a "
            "node that runs it."
        ),
        example="cuda-cudart 12.4.99 needs glibc >= 2.99; without it: nothing provides cuda-cudart",
    ),
)
