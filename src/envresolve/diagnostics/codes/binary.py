"""BN (objects): ELF shared objects and CUDA fatbinaries.

Range: BN101-BN149 are ELF reading, BN150-BN199 are CUDA fatbinaries. Archive-level codes (wheels,
conda packages, directories, URLs, cache) live in `archive.py` from BN200 on.
"""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

_B = Category.BINARY

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="BN101",
        name="not-an-elf",
        category=_B,
        severity=WARNING,
        summary="A file that should be a shared object is not an ELF file.",
        explanation=(
            "The file is named like a shared object (`*.so`, `*.so.N`) or was handed to the ELF reader, but it "
            "does not start with the ELF magic `\\x7fELF`, or its class/byte order is not one envresolve reads "
            "(32/64-bit little or big endian). It is skipped; nothing about its needs is known. Linker scripts "
            "named `libfoo.so` (plain text) are the common harmless case."
        ),
        example="a text linker script `libc.so` inside a conda package",
    ),
    CodeInfo(
        code="BN102",
        name="truncated-elf",
        category=_B,
        severity=ERROR,
        summary="The ELF file ends before a structure it declares.",
        explanation=(
            "The stream ended before the ELF header, the program header table, the dynamic section or a table "
            "the dynamic section points at was complete. The file was cut short (a broken download, a partial "
            "copy) or its header declares sizes it does not have. Facts read before the cut are kept; the rest "
            "are unknown."
        ),
        example="the first 40 bytes of a shared object",
    ),
    CodeInfo(
        code="BN103",
        name="elf-offset-out-of-range",
        category=_B,
        severity=ERROR,
        summary="An ELF header or dynamic entry points outside the file.",
        explanation=(
            "A file offset (program header table, PT_DYNAMIC) or a virtual address (DT_STRTAB, DT_VERNEED, "
            "DT_SYMTAB, ...) does not map to bytes of the file through its PT_LOAD segments, or a string index "
            "lies past the end of the string table. The loader would refuse or crash on this file; envresolve "
            "reports the field and ignores it."
        ),
        example="e_phoff = 0xffffffff in a 4 kB file",
    ),
    CodeInfo(
        code="BN104",
        name="elf-count-too-large",
        category=_B,
        severity=ERROR,
        summary="An ELF table declares more entries than envresolve will read.",
        explanation=(
            "A count in the file (program headers, dynamic entries, symbols, version records, string table "
            "size) is larger than any real shared object has, e.g. in the billions. envresolve bounds its work "
            "and memory, reads up to its limit, and reports the rest as unknown. A real object this large would "
            "be a bug in the reader's limits: please report it."
        ),
        example="e_phnum = 65535 with e_phentsize = 56, or DT_VERNEEDNUM = 4000000000",
    ),
    CodeInfo(
        code="BN105",
        name="elf-table-loop",
        category=_B,
        severity=ERROR,
        summary="A linked ELF table refers back to itself.",
        explanation=(
            "The version-need and version-definition tables are linked lists (`vn_next`, `vna_next`, `vd_next`, "
            "`vda_next` are byte offsets to the next record). An offset of 0 before the declared count is "
            "reached, or one that returns to a record already read, would make a naive reader loop forever. "
            "envresolve stops at the repeat and keeps the records read so far."
        ),
        example="a verneed record whose vn_next points at itself",
    ),
    CodeInfo(
        code="BN106",
        name="elf-string-unterminated",
        category=_B,
        severity=ERROR,
        summary="A string in the dynamic string table has no terminating NUL.",
        explanation=(
            "Every string referenced from the dynamic section or the version tables must end with a NUL byte "
            "inside DT_STRSZ bytes of DT_STRTAB. This one runs to the end of the table (or past the length "
            "envresolve accepts for a name); the name is dropped."
        ),
        example="DT_NEEDED pointing at the last byte of .dynstr, which is not NUL",
    ),
    CodeInfo(
        code="BN107",
        name="elf-no-dynamic",
        category=_B,
        severity=INFO,
        summary="An ELF file has no dynamic section: it is static or not a loadable shared object.",
        explanation=(
            "The file has no PT_DYNAMIC program header, so it needs no libraries and no symbol versions at load "
            "time. This is normal for static executables, relocatable objects (`.o`) and debug-only files; "
            "envresolve reports its class and machine only."
        ),
        example="a `.o` file or a statically linked executable named like a library",
    ),
    CodeInfo(
        code="BN108",
        name="elf-dynamic-unresolved",
        category=_B,
        severity=WARNING,
        summary="Dynamic metadata lies in bytes the streaming pass did not keep, and no second pass was possible.",
        explanation=(
            "envresolve reads each ELF file in one streaming pass and keeps only the regions that usually hold "
            "the dynamic string and version tables. When a file places them elsewhere (for instance after the "
            "retained window but before `.dynamic`) the reader needs a second pass over the file. The caller "
            "could not provide one (a stream that cannot be reopened), so the affected facts (library names, "
            "version needs) are unknown."
        ),
        example="a 500 MB library whose .dynstr lies 40 MB into the file, read from a one-shot stream",
    ),
    CodeInfo(
        code="BN109",
        name="elf-bad-header",
        category=_B,
        severity=ERROR,
        summary="The ELF header has inconsistent fields.",
        explanation=(
            "The ELF identification is valid but header fields contradict each other or the format: a program "
            "header entry size that is not the standard size for the class, an ELF version other than 1, or a "
            "dynamic section whose size is not a multiple of its entry size. The file is skipped or read only "
            "as far as the fields make sense."
        ),
        example="e_phentsize = 3 in a 64-bit ELF",
    ),
    CodeInfo(
        code="BN110",
        name="elf-work-limit",
        category=_B,
        severity=WARNING,
        summary="Reading an ELF file hit a work limit; some facts are incomplete.",
        explanation=(
            "To stay fast and bounded on hostile input, envresolve limits how many fatbinary containers it "
            "collects per file, how many bytes it retains for a second look and how many names it returns. "
            "This file reached one of those limits; the message names which. The facts reported are correct "
            "but may be incomplete."
        ),
        example="a file with more than 100000 fatbinary entries",
    ),
    CodeInfo(
        code="BN111",
        name="no-section-headers-for-fatbin",
        category=_B,
        severity=INFO,
        summary="Device code was found but the section headers that say which kind it is could not be read.",
        explanation=(
            "nvcc puts device code the driver loads in the `.nv_fatbin` section and, with `-rdc=true`, "
            "relocatable device code for a later device link in `__nv_relfatbin`; the driver never loads the "
            "latter, so its SASS and PTX do not count toward the GPUs the object runs on. Only the section "
            "header table (and its `.shstrtab` names) tells the two apart. This object has fatbinary containers "
            "but no readable section headers (removed by a tool such as `sstrip`, an extended section count, "
            "or a damaged table), so every container is counted as loadable: the SASS/PTX archs reported may "
            "include device-link-only code."
        ),
        example="an -rdc=true library whose section headers were stripped: its relocatable PTX is listed as PTX",
    ),
    CodeInfo(
        code="BN150",
        name="fatbin-truncated",
        category=_B,
        severity=ERROR,
        summary="A CUDA fatbinary container ends before the size its header declares.",
        explanation=(
            "A fatbinary container starts with the magic 0xBA55ED50 and a header stating the size of what "
            "follows. The entries inside it ran past that size, or past the end of the file. The header lies "
            "(a corrupted or hand-crafted file) or the file was cut. Entries read before the cut are kept."
        ),
        example="fat size 0x7fffffff in a 2 kB .nv_fatbin section",
    ),
    CodeInfo(
        code="BN151",
        name="fatbin-bad-entry",
        category=_B,
        severity=ERROR,
        summary="A CUDA fatbinary entry header is malformed.",
        explanation=(
            "An entry inside a fatbinary container has an unknown kind (known: 1 = PTX, 2 = ELF/SASS), a header "
            "size too small to hold the entry fields, a payload size that runs past its container, or a "
            "compressed size larger than the payload. The rest of that container is skipped."
        ),
        example="an entry with kind 7 and header size 4",
    ),
    CodeInfo(
        code="BN152",
        name="fatbin-unknown-version",
        category=_B,
        severity=WARNING,
        summary="A CUDA fatbinary container has a header version or size envresolve does not know.",
        explanation=(
            "Known containers have version 1 and a 16-byte header. A different value is either a new format "
            "from a future toolkit or a false match of the magic number; the container is skipped and no device "
            "code is reported from it."
        ),
        example="magic 0xBA55ED50 followed by version 9",
    ),
)
