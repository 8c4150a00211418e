"""LK: lockfile."""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="LK101",
        name="lock-stale",
        category=Category.LOCKFILE,
        severity=WARNING,
        summary="The lock was made from another spec or for other node facts than the ones given now.",
        explanation=(
            "A lock records a digest of its input spec and a fingerprint of every target node's facts. When "
            "either differs from what is given now, the lock may no longer be valid: lock again with "
            "`envresolve lock`."
        ),
        example="envresolve check envresolve.lock --node h100-driver-580   # after editing the spec",
    ),
    CodeInfo(
        code="LK102",
        name="lock-unreadable",
        category=Category.LOCKFILE,
        severity=ERROR,
        summary="A lock file cannot be parsed, or was written by an incompatible envresolve.",
        explanation=(
            "The file is not JSON, does not match the lockfile schema (docs/lockfile.md), or carries a "
            "`lock-version` this envresolve does not read. Lock again with `envresolve lock`."
        ),
        example="envresolve check broken.lock",
    ),
    CodeInfo(
        code="LK103",
        name="export-invalid",
        category=Category.LOCKFILE,
        severity=ERROR,
        summary="An export (pylock.toml, pixi lock) failed the validation of the tool that reads it.",
        explanation=(
            "Every export is checked by the reader of its format before it is written: `packaging.pylock` for "
            "pylock.toml, py-rattler's `LockFile.from_path` for the pixi lock. This is a bug in envresolve "
            "or a package record the format cannot express; the message quotes the validator."
        ),
    ),
    CodeInfo(
        code="LK104",
        name="binary-not-inspected",
        category=Category.LOCKFILE,
        severity=INFO,
        summary="A locked package's binaries were not inspected; its verdict rests on metadata only.",
        explanation=(
            "The lock records, for every package, the binary verdict of `envresolve inspect` when the artefact's "
            "facts were known (cached or inspected), and otherwise why they are not (not downloaded, offline). "
            "Metadata-only verdicts miss what wheel tags understate (for example a manylinux2014 wheel that "
            "really needs GLIBC_2.27). Run `envresolve check` on the built prefix to close the gap."
        ),
    ),
    CodeInfo(
        code="LK105",
        name="credentials-removed",
        category=Category.SECURITY,
        severity=WARNING,
        summary="A URL with credentials was recorded in the lock without them.",
        explanation=(
            "Locks are shared and committed, so envresolve never writes user names, passwords or token query "
            "parameters into them. Installers must get the credentials from netrc, a keyring or the environment."
        ),
        example="--index-url https://user:token@pypi.example/simple",
    ),
    CodeInfo(
        code="LK106",
        name="export-lossy",
        category=Category.LOCKFILE,
        severity=WARNING,
        summary="An export format cannot express everything the lock holds; the message says what was left out.",
        explanation=(
            "A conda explicit file holds only conda packages, requirements.txt and pylock.toml only pip packages. "
            "Use the pixi export, or both a conda and a pip export, to install the whole environment."
        ),
        example="envresolve lock spec.yaml --export explicit   # the pip packages are not in it",
    ),
    CodeInfo(
        code="LK107",
        name="metadata-unverified",
        category=Category.SECURITY,
        severity=INFO,
        summary="Some pip packages' dependencies were read from byte ranges, not checked against the wheel's sha256.",
        explanation=(
            "Reading only a wheel's METADATA through HTTP range requests saves downloading it, but nothing ties "
            "those bytes to the sha256 the index announced. Such packages are marked `metadata_check: "
            "unverified` in the lock; an installer still checks each wheel's sha256 when it downloads it. "
            "Records verified by a whole download (`sha256`) are preferred whenever one is cached."
        ),
    ),
    CodeInfo(
        code="LK108",
        name="output-set-mixed",
        category=Category.LOCKFILE,
        severity=WARNING,
        summary="A lock and an export beside it come from different runs (their output-set ids differ).",
        explanation=(
            "`envresolve lock` writes the lock and its exports as one set: all are written to a temporary "
            "directory beside the target and published together under a directory lock, the lock last, and "
            "each names the set's id. An export whose id is not the lock's was left by another run (or a run "
            "that was killed while publishing). Lock again."
        ),
    ),
)
