"""RS2xx-RS4xx: pip resolution and the network layer (the conda solve's RS1xx codes live in their own module).

RS2xx: the pip resolution. RS3xx: pip against what conda installed. RS4xx: indexes and the network.
"""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="RS201",
        name="pip-unsatisfiable",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="No set of wheels satisfies the pip requirements on the target node(s).",
        explanation=(
            "The pip resolver tried every candidate the indexes offer and backtracked through them, and no "
            "combination satisfies all requirements together. The message names the requirements that "
            "conflict and who asked for them. When candidates were thrown out because the node cannot run "
            "them (driver too old, no kernels for the GPU, glibc too old), the blocking fact and the smallest "
            "change that would unblock the solve are given as evidence and hint: a newer driver, an older "
            "release, or another index."
        ),
        example="pip: torch>=2.9 with only CUDA 13 builds, on a node whose driver 535 supports CUDA 12.2",
    ),
    CodeInfo(
        code="RS202",
        name="pip-project-not-found",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="A required project is on none of the configured indexes or find-links locations.",
        explanation=(
            "Every index answered 404 (or listed no file) for this project name. Check the spelling, and "
            "whether the project lives on a private index that is not configured."
        ),
        example="pip: torchh==2.1.0",
    ),
    CodeInfo(
        code="RS203",
        name="pip-sdist-only",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="A project (or the versions allowed) has only source distributions for the target.",
        explanation=(
            "envresolve resolves wheels only: reading metadata from an sdist means running its build "
            "backend, which is slow, not reproducible and runs untrusted code. A project with no wheel for "
            "the node's Python, glibc and architecture cannot be locked: build a wheel for the target and "
            "serve it from a find-links directory or a private index, or pin a version that has wheels."
        ),
        example="pip: a project that publishes only .tar.gz files",
    ),
    CodeInfo(
        code="RS204",
        name="pip-candidate-rejected",
        category=Category.RESOLUTION,
        severity=INFO,
        summary="A candidate release was skipped because the target node cannot use it.",
        explanation=(
            "The resolver filters candidates before offering them: a wheel whose CUDA requirement is above "
            "what the node's driver supports, whose binaries have no SASS or usable PTX for the node's GPUs, "
            "whose glibc or GLIBCXX needs exceed the node, which does not pair with the chosen torch build, "
            "or which is yanked. Each skip is recorded with its reason; `envresolve lock --explain` prints "
            "them as 'why not' lines. This is information, not an error: the resolver moved on to an older "
            "candidate that works."
        ),
        example=(
            "why not torch 2.9.0: needs CUDA 13.0 (dependency nvidia-cuda-runtime==13.0.96); "
            "the driver 535.104.05 supports CUDA 12.2"
        ),
    ),
    CodeInfo(
        code="RS205",
        name="pip-metadata-unreadable",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="The metadata of a wheel could not be read or parsed.",
        explanation=(
            "Neither the index's PEP 658 metadata file, nor the `METADATA` member read through range "
            "requests, nor the downloaded wheel gave a parsable core metadata file. The wheel is broken or "
            "the index serves something that is not a wheel."
        ),
    ),
    CodeInfo(
        code="RS206",
        name="pip-index-page-invalid",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="An index answered with a page that is neither PEP 691 JSON nor PEP 503 HTML.",
        explanation=(
            "The project page could not be parsed (bad JSON, unknown API version, or an unexpected content "
            "type such as a login page). Check the index URL: it should end in `/simple/` or the index's "
            "equivalent."
        ),
    ),
    CodeInfo(
        code="RS207",
        name="pip-nodes-incompatible",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="The target nodes cannot share one pip resolution (different CPU architectures).",
        explanation=(
            "One lock holds one wheel per package. Nodes with different CPU architectures need different "
            "wheels, so lock them separately."
        ),
    ),
    CodeInfo(
        code="RS208",
        name="pip-resolution-too-deep",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="The pip resolver gave up after too many backtracking rounds.",
        explanation=(
            "The requirements leave the resolver too much room and it kept backtracking. Add upper or exact "
            "bounds to the packages named in the message."
        ),
    ),
    CodeInfo(
        code="RS209",
        name="pip-no-wheel-for-node",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="A project has wheels, but none whose tags the target node accepts.",
        explanation=(
            "The node's wheel tags come from its glibc (manylinux level), its CPU architecture and the "
            "environment's Python. Every wheel of the project (in the versions allowed) targets something else: "
            "a newer glibc, another Python or another architecture. The hint names the smallest change when "
            "there is one, e.g. the lowest glibc any matching wheel needs."
        ),
        example="pip: native==1.1 (only a manylinux_2_28 wheel) on a glibc 2.17 node",
    ),
    CodeInfo(
        code="RS301",
        name="pip-conflicts-with-conda",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="A pip requirement asks for a different version of a package conda already installs.",
        explanation=(
            "Packages from the conda solve count as installed: pip never silently replaces them, because the "
            "conda package's files and its dependants would be broken. Pin the conda package to a version "
            "that satisfies the pip requirement, relax the pip requirement, or drop the package from one "
            "side."
        ),
        example="conda: numpy=1.26; pip: numpy>=2",
    ),
    CodeInfo(
        code="RS401",
        name="index-unreachable",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="An index or file host could not be reached after bounded retries.",
        explanation=(
            "Connection refused, DNS failure or a timeout, on every attempt (with exponential backoff). "
            "envresolve does not hang: each request has a timeout and the number of retries is bounded."
        ),
        example="pip index http://127.0.0.1:9/simple/ (nothing listens)",
    ),
    CodeInfo(
        code="RS402",
        name="index-auth-failed",
        category=Category.SECURITY,
        severity=ERROR,
        summary="An index refused access (HTTP 401 or 403).",
        explanation=(
            "Either no credentials were found for the host, or the ones found were refused. Credentials are "
            "read from the URL, `ENVRESOLVE_INDEX_<HOST>_USERNAME`/`_PASSWORD` (or `ENVRESOLVE_INDEX_USERNAME`/"
            "`_PASSWORD` for the configured indexes), `~/.netrc`, or keyring when it is installed. They are "
            "never written to logs, caches or locks."
        ),
    ),
    CodeInfo(
        code="RS403",
        name="hash-mismatch",
        category=Category.SECURITY,
        severity=ERROR,
        summary="A file or a cached record does not have the sha256 (or the name and version) it was promised with.",
        explanation=(
            "A download whose sha256 differs from what the index (or the lock) announced, a PEP 658 metadata "
            "file that differs from its announced hash, or a verified cache record that shows the announced "
            "sha256 belongs to another file (one index listing a package under another file's hash). The file "
            "changed on the index, was corrupted in transit, or the index lies. Nothing is locked: the file is "
            "deleted and not used, and the cache is not changed."
        ),
    ),
    CodeInfo(
        code="RS404",
        name="index-http-error",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="An index answered with an HTTP error other than 401/403 (after retries for 5xx).",
        explanation="The message gives the status and the URL (credentials masked).",
    ),
    CodeInfo(
        code="RS410",
        name="network-deadline",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="A request, or the whole command (`--timeout`), ran past its deadline.",
        explanation=(
            "Every HTTP request has a total deadline covering connect, retries and the whole body: 600 s, plus "
            "one second for each MiB received (a large download at a fair rate finishes, a server that sends "
            "one byte a second cannot stall envresolve). `--timeout SECONDS` bounds the whole command, network "
            "and solver included. Nothing is written when it fires."
        ),
        example="envresolve lock spec.yaml --node h100-driver580 --timeout 60",
    ),
    CodeInfo(
        code="RS411",
        name="response-too-large",
        category=Category.SECURITY,
        severity=ERROR,
        summary="An index page, metadata file or download is larger than its size cap.",
        explanation=(
            "Bodies are read in chunks and counted: index pages, metadata and range answers are capped at "
            "64 MiB, downloads (streamed to disk, never held in memory) at 8 GiB. A larger answer is refused, "
            "not cached, and not fetched again in the same command."
        ),
    ),
    CodeInfo(
        code="RS412",
        name="redirect-loop",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="A URL redirected more than 10 times (a redirect loop).",
        explanation="The index or file host is misconfigured. The request is not retried.",
    ),
    CodeInfo(
        code="RS413",
        name="metadata-mismatch",
        category=Category.SECURITY,
        severity=ERROR,
        summary="A wheel's METADATA names another project or version than the file it was read for.",
        explanation=(
            "Metadata is used only for the name and version it describes. A wheel whose METADATA says "
            "`Name: other` or another version than its file name was built wrongly or is served under a false "
            "name; its dependencies would be another package's. pip refuses such wheels as well (inconsistent "
            "metadata). Nothing is locked."
        ),
    ),
    CodeInfo(
        code="RS406",
        name="offline-cache-miss",
        category=Category.RESOLUTION,
        severity=ERROR,
        summary="Offline mode was asked for, and a page or file needed is not in the cache.",
        explanation="Run once online with the same indexes to fill the cache, or drop the offline option.",
    ),
)
