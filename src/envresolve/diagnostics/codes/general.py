"""GN: files, arguments and internal errors."""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

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
    CodeInfo(
        code="GN106",
        name="not-a-regular-file",
        category=Category.SECURITY,
        severity=ERROR,
        summary="An input is a FIFO, a device, a socket or (inside a prefix) a symlink to one: refused unread.",
        explanation=(
            "Every file envresolve reads (spec files and their `-r`/`-c` includes, `--node`/`--nodes` files, "
            "`inspect` paths, wheels and conda packages, lockfiles, and the METADATA, RECORD, `conda-meta/*.json` "
            "and `lib*.so` files of a prefix) must be a regular file. The file is opened without blocking and its "
            "type is checked on the open descriptor, so a FIFO cannot hang the command and `/dev/zero` cannot "
            "fill memory (a device reports a size of 0 and never ends). As a command's own input this is an "
            "input error (exit status 2); inside a prefix it is a warning for that one file and the check goes "
            "on without it."
        ),
        example="envresolve probe --node /dev/zero",
    ),
    CodeInfo(
        code="GN107",
        name="input-too-large",
        category=Category.SECURITY,
        severity=ERROR,
        summary="An input file is larger than the size limit for its kind; it was not read.",
        explanation=(
            "envresolve reads at most a fixed number of bytes of each kind of input: node files 16 MiB, a "
            "prefix's metadata files and lockfiles 64 MiB (spec files have their own code, SP101). The limits "
            "are in `envresolve.limits`; they are far above real inputs and bound memory on hostile ones. "
            "Nothing past the limit is read (exit status 2)."
        ),
        example="envresolve probe --node huge-node.json",
    ),
    CodeInfo(
        code="GN108",
        name="nesting-too-deep",
        category=Category.SECURITY,
        severity=ERROR,
        summary="JSON or TOML input nests arrays/objects deeper than the limit (64 levels); it was not parsed.",
        explanation=(
            "Node JSON files, conda `info/index.json`, `conda-meta/*.json` records, lockfiles and pixi TOML "
            "manifests may nest at most `envresolve.limits.MAX_NESTING_DEPTH` levels. TOML is scanned before "
            "it is parsed (Python's TOML parser recurses); JSON is decoded by the C decoder, whose recursion stop "
            "is turned into this code, and the decoded value is then walked for the limit. Either way a file of "
            "100,000 nested brackets is refused with this code instead of an internal error. Real files nest "
            "fewer than 10 levels."
        ),
        example="[[[[[[[[ ... 100000 levels ... ]]]]]]]] as a node file",
    ),
    CodeInfo(
        code="GN109",
        name="number-too-long",
        category=Category.SECURITY,
        severity=ERROR,
        summary="A number has more digits than the limit (100 in JSON, 64 in a version); it was not converted.",
        explanation=(
            "Python refuses to convert integers of more than 4300 digits (a ValueError) and converting long ones "
            "is slow. envresolve refuses them earlier, with this code: an integer of more than "
            "`envresolve.limits.MAX_INT_DIGITS` digits in a JSON input (node files, index.json, conda-meta "
            "records, lockfiles), or a run of more than `MAX_VERSION_DIGITS` digits in a requirement's version "
            "(`idna==999...`)."
        ),
        example='{"schema_version": 1, "driver": {"cuda": 1000...0}}  (5,000 digits)',
    ),
)
