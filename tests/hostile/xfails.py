"""The hostile cases that fail today because of work owned by other branches of issue 12 (the one list).

Each mark is strict: when that work lands the case passes, the test turns XPASS and fails, and the integrator
removes its line here (and adjusts the case's expected codes if the new work chose other ones).
`issue12-files`: local input handling; `issue12-net`: the network side.
"""

from __future__ import annotations

_FIFO = "issue12-files: a FIFO is opened and read, and blocks (regular files only)"
_DEVICE = "issue12-files: /dev/zero is read without a size bound (regular files only, bounded reader)"
_DEVICE_EXIT = "issue12-files: a device is refused with SP101 but exit 1 in lint; 2 for unreadable input everywhere"
_DIGITS = "issue12-files: a 5,000-digit integer trips Python's int limit (exit 4); digit limits"
_DEPTH = "issue12-files: deep nesting hits RecursionError (exit 4); explicit depth limits"
_EXCERPT = "issue12-files: the diagnostic quotes the whole 100 kB line; a short excerpt only"
_INCLUDE = "issue12-files: an include outside the spec's tree is read and echoed; refused by default"
_BUDGET = "issue12-files: a diamond of includes is read 2^30 times; visit once, with a budget"
_BN501 = "issue12-files: an unreadable archive is BN501 with exit 1; 2 for unreadable input everywhere"
_CHECK_EXIT = (
    "issue12-files: check exits 1 on a spec that cannot be loaded and quotes the whole 100 kB line; "
    "exit 2 for invalid input everywhere, a short excerpt only"
)

XFAIL: dict[str, str] = {
    # specs
    "spec-req-fifo-lint": _FIFO,
    "spec-env-fifo-lint": _FIFO,
    "spec-dataset-fifo-lock": _FIFO,
    "spec-pixi-fifo-lock": _FIFO,
    "spec-req-devzero-lint": _DEVICE_EXIT,
    "spec-env-devzero-lint": _DEVICE_EXIT,
    "spec-dataset-devzero-lint": _DEVICE_EXIT,
    "spec-pixi-devzero-lint": _DEVICE_EXIT,
    "spec-req-bigint-lock": _DIGITS,
    "spec-req-deep-lint": _EXCERPT,
    "spec-req-deep-lock": _EXCERPT,
    "spec-req-deep-check": _CHECK_EXIT,
    "spec-env-bigint-lint": _EXCERPT,
    "spec-env-bigint-lock": _EXCERPT,
    "spec-env-bigint-check": _CHECK_EXIT,
    "spec-dataset-bigint-lint": _EXCERPT,
    "spec-dataset-bigint-lock": _EXCERPT,
    "spec-dataset-bigint-check": _CHECK_EXIT,
    "spec-pixi-bigint-lint": _EXCERPT,
    "spec-pixi-bigint-lock": _EXCERPT,
    "spec-pixi-deep-lint": _DEPTH,
    "spec-pixi-deep-lock": _DEPTH,
    "spec-pixi-deep-check": _DEPTH,
    # requirements includes
    "include-abs-outside-lint": _INCLUDE,
    "include-abs-outside-lock": _INCLUDE,
    "include-rel-outside-lint": _INCLUDE,
    "include-rel-outside-lock": _INCLUDE,
    "include-constraint-outside-lint": _INCLUDE,
    "include-constraint-outside-lock": _INCLUDE,
    "include-outside-valid-lint": _INCLUDE,
    "include-outside-valid-lock": _INCLUDE,
    "include-etc-passwd-lint": _INCLUDE,
    "include-etc-passwd-lock": _INCLUDE,
    "include-diamond-30-lint": _BUDGET,
    "include-diamond-30-lock": _BUDGET,
    # node facts
    "node-json-bigint-probe": _DIGITS,
    "node-json-bigint-lint": _DIGITS,
    "node-json-bigint-check": _DIGITS,
    "node-json-bigint-cc-probe": _DIGITS,
    "node-k8s-bigint-label-probe": _DIGITS,
    "node-virtual-bigint-probe": _DIGITS,
    "node-fifo-probe": _FIFO,
    "node-fifo-lock": _FIFO,
    "node-devzero-probe": _DEVICE,
    "node-devzero-lock": _DEVICE,
    "node-devzero-direct-probe": _DEVICE,
    # archives, ELF, prefixes
    "wheel-garbage-inspect": _BN501,
    "wheel-empty-inspect": _BN501,
    "wheel-truncated-inspect": _BN501,
    "wheel-many-members-inspect": "issue12-files: 150k members take > 300 MB and print MBs; a member-count limit",
    "conda-garbage-inspect": _BN501,
    "conda-index-deep-inspect": _DEPTH,
    "conda-many-symlinks-inspect": "issue12-files: 100k symlinks print MBs of BN510; a symlink-count limit",
    "tarbz2-garbage-inspect": _BN501,
    "tarbz2-not-tar-inspect": _BN501,
    "tarbz2-truncated-inspect": _BN501,
    "elf-shoff-2-62-inspect": "issue12-files: e_shoff = 2^62 with e_shnum = 0xFFFF passes without a diagnostic",
    "prefix-meta-deep-check": _DEPTH,
    "prefix-meta-fifo-check": _FIFO,
    "prefix-so-fifo-check": _FIFO,
    "prefix-metadata-fifo-check": _FIFO,
    # locks
    "lock-deep-check": _DEPTH,
    # indexes
    "index-garbage-page-lock": "issue12-net: a garbage index page is reported as RS209 (no wheel), not RS206",
    "index-inline-credential-lock": "issue12-net: --index-url with inline credentials gets no LK105 warning",
    # library API
    "api-load_spec-fifo": _FIFO,
    "api-load_node-bigint": _DIGITS,
    "api-load_node-devzero": _DEVICE,
}
