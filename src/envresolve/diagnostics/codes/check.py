"""CK: preflight check."""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="CK101",
        name="library-not-found",
        category=Category.MISSING_LIBRARY,
        severity=ERROR,
        summary="A DT_NEEDED library will not be found by the dynamic loader on this node.",
        explanation=(
            "envresolve emulates the Linux dynamic loader for every shared object of the environment: "
            "DT_RPATH (only when the object has no DT_RUNPATH), LD_LIBRARY_PATH as given, DT_RUNPATH, with "
            "`$ORIGIN`, `$LIB` and `$PLATFORM` expanded, then the environment's `lib` directory, then the node's "
            "ldconfig cache and default directories. A library found nowhere makes the import fail with "
            "`cannot open shared object file`. With recorded node facts, the node's own libraries are known "
            "only by the system libraries its facts imply (glibc, libgcc, libstdc++, the driver's libcuda), so "
            "the finding is marked unsure there."
        ),
        example=(
            "error[CK101 library-not-found] site-packages/foo/_ext.so: libbar.so.2 is not found\n"
            "  evidence: searched RUNPATH $ORIGIN/../lib -> /env/lib/python3.11/site-packages/lib"
        ),
    ),
    CodeInfo(
        code="CK102",
        name="undefined-symbol",
        category=Category.CXX_ABI,
        severity=ERROR,
        summary="An extension module needs a symbol that none of the libraries it loads exports.",
        explanation=(
            "The module's undefined dynamic symbols are looked up, as the loader does, in the objects of its "
            "load scope (itself and its DT_NEEDED libraries, breadth first), honouring symbol versions and "
            "ignoring weak references. A strong reference that nothing defines fails at import with "
            "`undefined symbol: ...`: the module was built against another version of the library it needs "
            "(the classic `_ZN3c10...` mismatch between an extension and the installed torch). Symbols of the "
            "Python interpreter (`Py*`, `_Py*`) are taken as provided."
        ),
        example="error[CK102 undefined-symbol] ext/_C.so: _ZN3c104impl3fooEv is not exported by libc10.so",
    ),
    CodeInfo(
        code="CK103",
        name="symbol-version-missing",
        category=Category.MISSING_LIBRARY,
        severity=ERROR,
        summary="A library needs a symbol version that the library the loader picks does not define.",
        explanation=(
            "A DT_VERNEED entry names a version (e.g. `LIBFOO_2.0` in `libfoo.so.1`) and the object the loader "
            "resolves for that file defines no such version: the load fails with `version ... not found`. "
            "GLIBCXX and CXXABI versions have their own code (CK104)."
        ),
        example="error[CK103 symbol-version-missing] lib/libuses.so: needs LIBFOO_2.0 from libfoo.so.1",
    ),
    CodeInfo(
        code="CK104",
        name="glibcxx-above-loaded-libstdcxx",
        category=Category.LIBSTDCXX,
        severity=ERROR,
        summary="An object needs a GLIBCXX_/CXXABI_ version above the libstdc++ that will really be loaded.",
        explanation=(
            "Only one `libstdc++.so.6` can live in a process: the first one loaded wins for every later object. "
            "envresolve finds which copy each object resolves to (the environment's own, or the node's), and "
            "compares every GLIBCXX_/CXXABI_ need with the lowest copy that can win. A need above it fails with "
            "`version GLIBCXX_3.4.xx not found`."
        ),
        example=(
            "error[CK104 glibcxx-above-loaded-libstdcxx] lib/libnew.so: needs GLIBCXX_3.4.30, node libstdc++ "
            "provides GLIBCXX_3.4.19"
        ),
    ),
    CodeInfo(
        code="CK105",
        name="competing-libstdcxx",
        category=Category.LIBSTDCXX,
        severity=WARNING,
        summary="Objects of the environment resolve libstdc++ to different copies.",
        explanation=(
            "Two copies of `libstdc++.so.6` compete: the environment ships its own and some objects reach the "
            "node's (or two copies live inside the environment). Whichever is loaded first serves every object, "
            "so behaviour depends on import order; objects built for the newer copy fail when the older one "
            "wins. Make every object resolve the same copy (RUNPATH to the environment's lib directory), or "
            "remove the extra copy."
        ),
        example="warning[CK105 competing-libstdcxx] libstdc++.so.6: 2 copies compete: /env/lib (3.4.33), node (3.4.30)",
    ),
    CodeInfo(
        code="CK106",
        name="prefix-file-unreadable",
        category=Category.BINARY,
        severity=WARNING,
        summary="A file of the environment could not be read (permissions or I/O), so it was not checked.",
        explanation=(
            "The check goes on without that file. Anything that depends on it (libraries it would provide, "
            "symbols it exports) is reported as unsure. Run the check as a user that can read the whole "
            "environment for a complete answer."
        ),
        example="warning[CK106 prefix-file-unreadable] lib/libsecret.so: permission denied",
    ),
    CodeInfo(
        code="CK107",
        name="prefix-not-an-environment",
        category=Category.SPEC,
        severity=ERROR,
        summary="The `--prefix` directory does not exist or is neither a conda environment nor a venv.",
        explanation=(
            "A prefix is recognised by `conda-meta/` (conda), `pyvenv.cfg` (venv) or a `lib/python3.*/"
            "site-packages` directory. Point `--prefix` at the environment's root directory."
        ),
        example="envresolve check --prefix /nonexistent",
    ),
    CodeInfo(
        code="CK108",
        name="installed-metadata-malformed",
        category=Category.BINARY,
        severity=WARNING,
        summary="A `conda-meta/*.json` record or a `*.dist-info` METADATA/RECORD cannot be parsed.",
        explanation=(
            "The package is still checked through its files where they can be attributed, but its name and "
            "version may be missing from the report."
        ),
        example="warning[CK108 installed-metadata-malformed] conda-meta/zlib-1.3-h0.json: not JSON",
    ),
    CodeInfo(
        code="CK109",
        name="lock-package-without-binary-facts",
        category=Category.LOCKFILE,
        severity=INFO,
        summary="Locked compiled packages carry no recorded binary facts, so only their metadata was re-verified.",
        explanation=(
            "The lockfile records binary facts (glibc, GLIBCXX, CUDA runtime, SASS/PTX targets) for the "
            "artifacts it could inspect at lock time. For this package it recorded none (with the reason, "
            "when known), so `check` could not verify its binaries against the node without downloading it."
        ),
        example=(
            "info[CK109 lock-package-without-binary-facts] 2 compiled package(s) carry no recorded binary facts, "
            "only their metadata was re-verified: numpy, bzip2"
        ),
    ),
    CodeInfo(
        code="CK110",
        name="wrong-elf-architecture",
        category=Category.BINARY,
        severity=WARNING,
        summary="A shared object in the environment is built for another architecture than the node's.",
        explanation=(
            "The loader skips objects of the wrong ELF class or machine: whatever needs this one will not find "
            "it (and gets CK101). A few stray foreign objects (test data, firmware) are harmless; many mean the "
            "environment was built for another platform (for example aarch64 on an x86_64 node)."
        ),
        example="warning[CK110 wrong-elf-architecture] lib/libfoo.so: aarch64, node is x86_64",
    ),
    CodeInfo(
        code="CK111",
        name="elf-malformed",
        category=Category.BINARY,
        severity=WARNING,
        summary="A file that starts like an ELF object cannot be parsed by the loader emulation.",
        explanation=(
            "The file's headers or dynamic section are truncated or inconsistent. The dynamic loader would "
            "refuse it too; it was skipped."
        ),
        example="warning[CK111 elf-malformed] lib/libtrunc.so: section headers beyond end of file",
    ),
    CodeInfo(
        code="CK112",
        name="no-node-given",
        category=Category.NODE,
        severity=ERROR,
        summary="A lock or spec check needs at least one node, and none could be loaded.",
        explanation=(
            "`--nodes FILE_OR_DIR` held no Node manifests or facts files. Give `--node SOURCE` (a facts file or "
            "bundled profile) or omit both to probe this machine."
        ),
        example="envresolve check env.lock --nodes empty-dir/",
    ),
    CodeInfo(
        code="CK113",
        name="lock-platform-mismatch",
        category=Category.NODE,
        severity=ERROR,
        summary="The lockfile was made for another platform (conda subdir) than the node's architecture.",
        explanation=(
            "A lock holds one environment for one conda subdir (`linux-64`, `linux-aarch64`, `linux-ppc64le`). "
            "Its packages cannot be installed on a node of another architecture; lock again for that platform."
        ),
        example="error[CK113 lock-platform-mismatch] [node grace-1] the lock is for linux-64, the node is aarch64",
    ),
)
