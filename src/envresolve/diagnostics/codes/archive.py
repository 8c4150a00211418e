"""BN (archives): wheels, conda packages, directories, URLs and the report cache.

Numbering: BN5xx are container problems (zip, tar, prefix walking), BN6xx are findings about an
artifact as a whole (its tag against its contents), BN7xx are remote fetching. BN1xx-BN4xx are left
to the object-level readers (ELF, fatbin) in `codes/binary.py`.
"""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
BINARY, SECURITY, GLIBC = Category.BINARY, Category.SECURITY, Category.GLIBC

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="BN501",
        name="archive-corrupt",
        category=BINARY,
        severity=ERROR,
        summary="The archive as a whole cannot be read: no zip central directory, or a broken tar/zstd/bz2 stream.",
        explanation=(
            "A wheel is a zip file whose table of contents (the central directory) sits at its end; a truncated "
            "download loses it and nothing inside can be located. A conda package is a zip of zstd-compressed "
            "tarballs (`.conda`) or a bzip2-compressed tarball (`.tar.bz2`); a broken stream stops the reading "
            "there. Members read before the break are still reported. Download the artifact again and compare "
            "its sha256 with the index."
        ),
        example="envresolve inspect truncated-1.0-py3-none-manylinux2014_x86_64.whl",
    ),
    CodeInfo(
        code="BN502",
        name="archive-bomb",
        category=SECURITY,
        severity=ERROR,
        summary="A member inflates beyond the ratio limit or the absolute size limit; it was not read further.",
        explanation=(
            "A zip bomb is a small member that inflates to gigabytes. envresolve streams every member and stops "
            "when the uncompressed bytes exceed the ratio limit times the compressed bytes read so far, or the "
            "absolute per-member limit. The declared sizes are checked before inflating too. Real shared "
            "objects compress 2-10x, so a member that trips the limit is hostile or broken; nothing after the "
            "limit is inspected, and the other members are."
        ),
        example="envresolve inspect bomb-1.0-py3-none-any.whl",
    ),
    CodeInfo(
        code="BN503",
        name="archive-size-mismatch",
        category=SECURITY,
        severity=ERROR,
        summary="A member's real size differs from the size its header declares.",
        explanation=(
            "Zip headers declare each member's compressed and uncompressed size; tar headers declare the file "
            "size. An archive that lies about them is either corrupt or built to fool tools that trust the "
            "header (for example to hide a zip bomb or to smuggle bytes past a scanner). envresolve never "
            "reads past the declared size and reports the difference."
        ),
    ),
    CodeInfo(
        code="BN504",
        name="archive-unsafe-path",
        category=SECURITY,
        severity=ERROR,
        summary="A member has an absolute path or climbs out with `..`; it was skipped.",
        explanation=(
            "An installer that writes such a member would place a file outside the target directory "
            "(path traversal, 'zip slip'). No legitimate wheel or conda package has one. The member is not "
            "inspected."
        ),
        example="a wheel member named ../../etc/ld.so.preload",
    ),
    CodeInfo(
        code="BN505",
        name="not-elf-named-so",
        category=BINARY,
        severity=WARNING,
        summary="A file named like a shared object (`.so`, `.so.N`) is not an ELF file.",
        explanation=(
            "The dynamic loader cannot load it; importing the module or dlopen-ing the library will fail with "
            "'invalid ELF header'. Sometimes it is a linker script or a placeholder, more often a broken build "
            "or a truncated file."
        ),
    ),
    CodeInfo(
        code="BN506",
        name="archive-duplicate-member",
        category=SECURITY,
        severity=ERROR,
        summary="Two members of the archive have the same name; only the first was inspected.",
        explanation=(
            "Different tools pick different copies of a duplicated name (the first, or the last written), so "
            "what gets installed may not be what was inspected or signed. Legitimate build tools never write "
            "duplicates."
        ),
    ),
    CodeInfo(
        code="BN507",
        name="archive-encrypted-member",
        category=SECURITY,
        severity=ERROR,
        summary="A zip member is encrypted; it cannot be read or installed and was skipped.",
        explanation="Wheels never carry encrypted members (pip cannot install them). It is reported and skipped.",
    ),
    CodeInfo(
        code="BN508",
        name="archive-member-corrupt",
        category=BINARY,
        severity=ERROR,
        summary="One member cannot be read: bad local header, unsupported compression, or a broken data stream.",
        explanation=(
            "The archive's table of contents is readable but the member's data is not: its local header is "
            "missing or disagrees with the central directory, its compression method is not stored/deflate, "
            "its deflate stream is broken, or its data runs past the end of the file. The other members are "
            "still inspected."
        ),
    ),
    CodeInfo(
        code="BN509",
        name="archive-overlapping-members",
        category=SECURITY,
        severity=ERROR,
        summary="Two zip members share the same bytes (overlapping data ranges).",
        explanation=(
            "Overlapping members are the trick behind non-recursive zip bombs: many central directory entries "
            "point at one highly compressed stream. No legitimate wheel has them. The overlapping member is "
            "skipped."
        ),
    ),
    CodeInfo(
        code="BN510",
        name="package-symlink",
        category=BINARY,
        severity=INFO,
        summary="A conda package or prefix contains a symlink; it was recorded, not followed.",
        explanation=(
            "Conda packages commonly ship `libfoo.so -> libfoo.so.1.2` links. envresolve never follows a "
            "link while reading (the target is read as its own member), but a link name inside the package "
            "does satisfy a DT_NEEDED entry of another member."
        ),
    ),
    CodeInfo(
        code="BN511",
        name="link-escapes-root",
        category=SECURITY,
        severity=ERROR,
        summary="A symlink or hard link points outside the package or prefix (absolute target or `..`).",
        explanation=(
            "Installing such a link makes a path inside the environment resolve to an arbitrary file on the "
            "machine. It was not followed."
        ),
    ),
    CodeInfo(
        code="BN512",
        name="package-metadata-missing",
        category=BINARY,
        severity=WARNING,
        summary="A conda package has no readable `info/index.json`; name, version and subdir are unknown.",
        explanation=(
            "Every conda package carries `info/index.json` with its name, version, build string and subdir. "
            "Without it the package cannot be matched with repodata."
        ),
    ),
    CodeInfo(
        code="BN513",
        name="archive-special-member",
        category=SECURITY,
        severity=WARNING,
        summary="A tar member is a device, FIFO or other special file; it was skipped.",
        explanation="Packages ship regular files, directories and links only.",
    ),
    CodeInfo(
        code="BN514",
        name="file-unreadable-in-prefix",
        category=BINARY,
        severity=WARNING,
        summary="A file or directory in the prefix cannot be read (permissions, vanished); it was skipped.",
        explanation=(
            "The rest of the prefix is still inspected. Facts from the unreadable file are missing, so the "
            "report may understate what the environment needs."
        ),
    ),
    CodeInfo(
        code="BN515",
        name="unknown-artifact-kind",
        category=BINARY,
        severity=ERROR,
        summary="The input is neither a wheel, a conda package, an ELF file, a directory nor an http(s) URL.",
        explanation=(
            "`envresolve inspect` decides the kind from the name (`.whl`, `.conda`, `.tar.bz2`), from a "
            "directory, or from the ELF magic of a plain file."
        ),
        example="envresolve inspect notes.txt",
    ),
    CodeInfo(
        code="BN550",
        name="read-within-budget",
        category=BINARY,
        severity=INFO,
        summary="A wheel's binary facts were read within the per-artefact inspect budget (`--inspect-budget`).",
        explanation=(
            "`lock`, `check SPEC` and `lint` read each candidate wheel with compiled code by HTTP range requests: "
            "the zip table of contents, then each shared object smallest first, whole while it fits in the "
            "budget, else only its first bytes, where `.gnu.version_r` and `.dynstr` lie. Version needs read "
            "that way are proven record by record (each carries the ELF hash of its name), so GLIBC_/GLIBCXX_ "
            "verdicts are as certain as from the whole file. When some library was not read whole, its device "
            "code (SASS/PTX) is unknown: the fatbinary entries are dropped and the published matrix row (or a "
            "measured row) decides kernel verdicts, which say so. The note gives the bytes read."
        ),
        example="envresolve lock requirements.txt --node a100-driver535 --inspect-budget 64M",
    ),
    CodeInfo(
        code="BN551",
        name="facts-not-read",
        category=BINARY,
        severity=WARNING,
        summary="A candidate wheel's or conda package's binary facts could not be read; its verdicts rest on metadata.",
        explanation=(
            "The wheel could not be fetched by ranges (a network failure, a refused request, a server that "
            "ignores Range requests for a file larger than the budget), or the conda package could not be "
            "fetched or was not the file its repodata record names. Unknown facts never give errors, so the "
            "package is judged by its metadata and the matrices alone."
        ),
    ),
    CodeInfo(
        code="BN552",
        name="conda-package-beyond-budget",
        category=BINARY,
        severity=INFO,
        summary="Conda packages larger than the inspect budget were not read for their binary facts.",
        explanation=(
            "A conda package is a compressed tarball (`.conda`: zstd inside a zip; `.tar.bz2`), which can only "
            "be read from its start: `lock` and `check SPEC` fetch one whole, check its sha256 against the "
            "repodata and inspect it when it is no larger than `--inspect-budget`, and keep the facts by "
            "sha256. A larger one keeps the facts an earlier `envresolve inspect` cached, if any; otherwise its "
            "verdicts rest on its repodata record and the matrices. The note names the packages not read."
        ),
        example="envresolve lock environment.yml --node h100-driver580 --inspect-budget 256M",
    ),
    CodeInfo(
        code="BN601",
        name="tag-understates-glibc",
        category=GLIBC,
        severity=WARNING,
        summary="A wheel's platform tag promises an older glibc (or libstdc++) than its shared objects need.",
        explanation=(
            "manylinux tags state the oldest glibc a wheel runs on (manylinux2014 = glibc 2.17, "
            "manylinux_2_24 = 2.24). pip installs the wheel on any system with at least that glibc, but the "
            "dynamic loader refuses a library whose GLIBC_ version needs exceed the system's: "
            "`version 'GLIBC_2.27' not found`. Real PyPI wheels do this (nvidia-cuda-runtime-cu12 12.1.105 "
            "is tagged manylinux1 but needs GLIBC_2.17). Each manylinux policy also caps the GLIBCXX_ and "
            "CXXABI_ versions a wheel may need from the system libstdc++ (pypa's policy data, in "
            "`matrices/abi.yaml`: manylinux2014 allows GLIBCXX_3.4.19, manylinux_2_28 GLIBCXX_3.4.24); a wheel "
            "above its policy's cap fails with `version 'GLIBCXX_3.4.26' not found` on systems the tag admits. "
            "Use the needed versions, not the tag, when choosing a base image."
        ),
        example="envresolve inspect bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl",
    ),
    CodeInfo(
        code="BN602",
        name="tag-arch-mismatch",
        category=BINARY,
        severity=WARNING,
        summary="A shared object's machine differs from the architecture in the wheel's platform tag.",
        explanation=(
            "A wheel tagged x86_64 that carries aarch64 objects (or the reverse) installs fine and fails at "
            "import with 'wrong ELF class' or 'cannot open shared object file'."
        ),
    ),
    CodeInfo(
        code="BN701",
        name="remote-unreachable",
        category=BINARY,
        severity=ERROR,
        summary="A wheel URL could not be fetched: connection refused, timeout, DNS failure or HTTP error.",
        explanation=(
            "envresolve reads remote wheels with HTTP range requests (the zip table of contents from the tail, "
            "then only the members it needs) and falls back to one streamed download. The message names the "
            "URL (credentials masked) and the failure."
        ),
        example="envresolve inspect https://127.0.0.1:9/x-1.0-py3-none-any.whl",
    ),
    CodeInfo(
        code="BN702",
        name="remote-no-range-support",
        category=BINARY,
        severity=INFO,
        summary="The server ignores HTTP range requests; the whole wheel was downloaded.",
        explanation="Only a note: the result is the same, it just takes the time of a full download.",
    ),
    CodeInfo(
        code="BN516",
        name="too-many-members",
        category=SECURITY,
        severity=ERROR,
        summary="An archive holds more members than the limit (200,000); it was not read.",
        explanation=(
            "Each member costs memory while an archive is listed: a 40 MB wheel of 400,000 tiny members would "
            "take hundreds of MB. A zip whose central directory declares more than "
            "`envresolve.limits.MAX_ARCHIVE_MEMBERS` entries is refused before the directory is parsed; a tar "
            "stream (inside a `.conda` or a `.tar.bz2`) stops at that count. The largest real wheels have about "
            "12,000 members."
        ),
        example="a wheel with 400,000 empty members",
    ),
    CodeInfo(
        code="BN517",
        name="member-name-too-long",
        category=SECURITY,
        severity=ERROR,
        summary="An archive member's name (or a tar pax header) is longer than the limit; reading stopped there.",
        explanation=(
            "A tar member may carry its name in a GNU long-name record or a pax header of any declared size; "
            "a 7.8 MB `.conda` can declare a 600 MiB name. envresolve checks the declared size before it "
            "reads the record: names longer than `envresolve.limits.MAX_MEMBER_NAME_BYTES` (4096, the Linux "
            "path limit) and pax headers larger than `MAX_PAX_HEADER_BYTES` stop the read of that tar stream. "
            "In a zip, a member with a longer name is skipped."
        ),
        example="a .conda whose pkg tar holds a GNU long name of 600 MiB",
    ),
    CodeInfo(
        code="BN518",
        name="too-many-symlinks",
        category=SECURITY,
        severity=ERROR,
        summary="An archive holds more symlinks and hard links than the limit (20,000); reading stopped there.",
        explanation=(
            "Links are recorded (their names can satisfy DT_NEEDED entries) and each gets a note, so an archive "
            "of 200,000 symlinks would cost hundreds of MB and megabytes of output. Past "
            "`envresolve.limits.MAX_SYMLINKS` links the rest of the archive is not read; the report says so. "
            "Real conda packages have at most a few thousand links."
        ),
        example="a 533 KB .conda holding 200,000 symlinks",
    ),
    CodeInfo(
        code="BN519",
        name="member-path-too-deep",
        category=SECURITY,
        severity=ERROR,
        summary="An archive member's path has more directory levels than the limit (128); the member is skipped.",
        explanation=(
            "No real package nests more than a few dozen directories. A deeper path is a hostile archive "
            "(the limit is `envresolve.limits.MAX_MEMBER_PATH_DEPTH`); the member is not read."
        ),
        example="a wheel member named a/a/a/.../a.so with 1000 levels",
    ),
    CodeInfo(
        code="BN520",
        name="elf-section-table-outside-file",
        category=BINARY,
        severity=WARNING,
        summary="An ELF file's section header table (e_shoff, e_shnum) lies outside the file; it was not read.",
        explanation=(
            "The ELF header says where the section header table starts (`e_shoff`) and how many entries it has "
            "(`e_shnum`). When that range ends past the end of the file (a damaged or hostile file, such as "
            "`e_shoff = 2^62`), envresolve does not read it. The dynamic loader does not need section headers, "
            "so the object may still load; facts that come only from section names (which device code is "
            "relocatable) are then unknown."
        ),
        example="an ELF with e_shoff = 2**62 and e_shnum = 0xFFFF",
    ),
)
