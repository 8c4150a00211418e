"""GN: files, arguments and internal errors."""

from __future__ import annotations

from envresolve.diagnostics.model import Category, Severity
from envresolve.diagnostics.registry import CodeInfo

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES = (
    CodeInfo(
        code="GN101",
        name="file-unreadable",
        category=Category.SPEC,
        severity=ERROR,
        summary="An input file does not exist or cannot be read.",
        explanation=(
            "envresolve was given a path it cannot open: it does not exist, is a directory where a file "
            "was expected, or the permissions forbid reading it. Nothing was written."
        ),
        example="envresolve probe --node /no/such/node.json",
    ),
    CodeInfo(
        code="GN102",
        name="unknown-diagnostic-code",
        category=Category.SPEC,
        severity=ERROR,
        summary="`envresolve explain` was asked about a code that does not exist.",
        explanation="The code or name is not in the registry. `envresolve explain --list` lists every code.",
        example="envresolve explain XX999",
    ),
    CodeInfo(
        code="GN103",
        name="internal-error",
        category=Category.SPEC,
        severity=ERROR,
        summary="A bug in envresolve: an unexpected exception.",
        explanation=(
            "Something that should not happen did. The message names the exception. Please report it "
            "with the command line and inputs that caused it."
        ),
    ),
    CodeInfo(
        code="GN104",
        name="bad-argument",
        category=Category.SPEC,
        severity=ERROR,
        summary="A command-line argument or API argument has a value that cannot be used.",
        explanation="The message names the argument and the value. Check `envresolve COMMAND --help`.",
        example="envresolve probe --format xml",
    ),
    CodeInfo(
        code="GN105",
        name="write-failed",
        category=Category.SPEC,
        severity=ERROR,
        summary="An output file could not be written.",
        explanation=(
            "envresolve writes every output atomically: it writes a temporary file beside the target and "
            "renames it. When that fails (no space, no permission) the target is left untouched."
        ),
    ),
)
