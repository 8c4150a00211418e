"""Every bound envresolve puts on the untrusted input it reads, in one place, with the code each refusal carries.

Readers import their bound from here; `envresolve explain CODE` describes each refusal. The values are far
above what real inputs need (the comment on each says what real inputs look like) and far below what would
exhaust memory or time. Bounds of the ELF reader (section, symbol and table counts) stay beside the format in
`envresolve.binary.elf`; the YAML bounds (depth, alias expansion) in `envresolve._yaml`.
"""

from __future__ import annotations

import os

__all__ = [
    "EXCERPT_CHARS",
    "MAX_ARCHIVE_MEMBERS",
    "MAX_FINDINGS_PER_CODE",
    "MAX_INCLUDE_BYTES",
    "MAX_INCLUDE_DEPTH",
    "MAX_INCLUDE_FILES",
    "MAX_INT_DIGITS",
    "MAX_LOCK_BYTES",
    "MAX_MEMBER_NAME_BYTES",
    "MAX_MEMBER_PATH_DEPTH",
    "MAX_METADATA_BYTES",
    "MAX_NESTING_DEPTH",
    "MAX_NODE_FILE_BYTES",
    "MAX_PAX_HEADER_BYTES",
    "MAX_SPEC_BYTES",
    "MAX_SYMLINKS",
    "MAX_VERSION_DIGITS",
]

# -- file sizes (refusal: GN107, SP101 for spec files) ----------------------------------------------------------
#: a spec file (Dataset manifest, environment.yml, requirements, pixi); real ones are kilobytes. SP101.
MAX_SPEC_BYTES = int(os.environ.get("ENVRESOLVE_MAX_SPEC_BYTES", str(4 * 1024 * 1024)))
#: a node description (facts file, Kubernetes Node or List, virtual packages); real ones are kilobytes. GN107.
MAX_NODE_FILE_BYTES = 16 * 1024 * 1024
#: one metadata file of an installed prefix (conda-meta/*.json, METADATA, RECORD, pyvenv.cfg). GN107.
#: The largest conda-meta record of a CUDA toolkit environment is a few MB (its file list).
MAX_METADATA_BYTES = 64 * 1024 * 1024
#: a lockfile read back by `check`. GN107.
MAX_LOCK_BYTES = 64 * 1024 * 1024

# -- structured text (refusals: GN108 depth, GN109 digits) ----------------------------------------------------
#: nesting of JSON arrays/objects and TOML arrays/inline tables; node JSON and conda index.json are < 10 deep
MAX_NESTING_DEPTH = 64
#: digits of one integer in JSON; Python itself refuses past 4300 digits with a ValueError
MAX_INT_DIGITS = 100
#: digits of one number in a requirement's version (release segments are years at most: 8 digits)
MAX_VERSION_DIGITS = 64

# -- archives: wheels, .conda, .tar.bz2 (refusals: BN516 to BN519) --------------------------------------------
#: members of one archive (zip central directory entries, tar members); torch's wheel has 12,248. BN516.
MAX_ARCHIVE_MEMBERS = 200_000
#: bytes of one member name (a GNU long name or a pax path); Linux paths are at most 4096. BN517.
MAX_MEMBER_NAME_BYTES = 4096
#: bytes of one pax extended header (path, linkpath, times, a few attributes). BN517.
MAX_PAX_HEADER_BYTES = 64 * 1024
#: symlinks and hard links in one archive; the largest real conda packages have a few thousand. BN518.
MAX_SYMLINKS = 20_000
#: directory levels of one member path. BN519.
MAX_MEMBER_PATH_DEPTH = 128

# -- requirements includes (`-r`/`-c`) (refusals: SP160 outside the tree, SP161 budget, SP125 depth) -----------
#: distinct files one top-level spec may include in all. SP161.
MAX_INCLUDE_FILES = 256
#: bytes of all included files together. SP161.
MAX_INCLUDE_BYTES = 32 * 1024 * 1024
#: include chain length (a -r b -r c ...). SP125.
MAX_INCLUDE_DEPTH = 32

# -- diagnostics ------------------------------------------------------------------------------------------------
#: characters of a line reproduced in a diagnostic about a file that does not parse as a spec
EXCERPT_CHARS = 40
#: findings of one code listed per archive or prefix; past it one more finding of that code says the rest is
#: not listed (200,000 members named `lib*.so` that are not ELF would otherwise be 200,000 BN505 findings)
MAX_FINDINGS_PER_CODE = 100
