"""Check an installed environment (a conda prefix or a venv, possibly mounted read-only) against one node.

One streaming pass over the prefix: metadata first (`conda-meta/*.json`, `*.dist-info/METADATA` + `RECORD`) to
attribute files to packages, then every shared object, one at a time. For each object the loader emulation
(`envresolve.preflight.loader`) resolves its DT_NEEDED entries; extension modules get their undefined symbols looked
up in the libraries they load, through those libraries' own hash tables (the symbol-lookup view of
`envresolve.binary.elf`). Symbol tables are never held in memory, so a prefix of 100,000 files is checked in bounded
memory.

Nothing is ever written: files are opened read-only (and memory-mapped read-only).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from envresolve._input import (
    LimitError,
    SpecialFileError,
    loads_json,
    open_fd,
    read_limited_text,
    refuse_special,
)
from envresolve.binary.elf import DynInfo, DynObject, ElfFormatError, read_elf_file
from envresolve.binary.model import ArtifactReport, ElfFacts, max_version
from envresolve.binary.report import build_report
from envresolve.binary.wheel import Findings
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, Evidence, Location, Severity, make
from envresolve.errors import InputError
from envresolve.limits import MAX_METADATA_BYTES
from envresolve.preflight.loader import GLIBC_SONAMES, LIBSTDCXX, Loader, LoaderConfig, Resolved, SystemLibraries

if TYPE_CHECKING:
    from envresolve.node.facts import NodeFacts

__all__ = ["PrefixScan", "prefix_kind", "scan_prefix"]

#: a shared libpython the importing interpreter has already loaded (the loader matches it by soname)
_LIBPYTHON = re.compile(r"^libpython3\.[0-9]+\.so")
_SO = re.compile(r"\.so(\.[0-9A-Za-z_]+)*$")
_SKIP_DIRS = {"__pycache__", "conda-meta", "pkgs", ".git", "include", "man", "locale", "terminfo"}
_MAX_SYMBOLS_SHOWN = 8


@dataclass
class PrefixScan:
    """What a prefix scan found: the environment model for the rules, and the installed-only findings."""

    prefix: str
    kind: Literal["conda", "venv", "prefix"]
    environment: Environment
    diagnostics: list[Diagnostic]
    objects: int = 0
    files: int = 0


def prefix_kind(prefix: Path) -> Literal["conda", "venv", "prefix"]:
    """`conda`, `venv` or `prefix`; raises InputError (CK107) when `prefix` is not an environment."""
    if not prefix.is_dir():
        raise InputError(make("CK107", f"not a directory: {prefix}", subject=str(prefix)))
    if (prefix / "conda-meta").is_dir():
        return "conda"
    if (prefix / "pyvenv.cfg").is_file():
        return "venv"
    if any(prefix.glob("lib/python3*/site-packages")):
        return "prefix"
    raise InputError(
        make(
            "CK107",
            f"neither a conda environment nor a venv: {prefix}",
            subject=str(prefix),
            hint="point --prefix at the directory holding conda-meta/ or pyvenv.cfg",
        )
    )


@dataclass
class _Owner:
    package: Package
    elf: list[ElfFacts] = field(default_factory=list)


@dataclass
class _CxxNeed:
    rel: str
    glibcxx: str | None
    cxxabi: str | None
    target: str  # key of the libstdc++ copy it resolves to


class _OpenObjects:
    """A small LRU of memory-mapped libraries used for symbol lookups."""

    def __init__(self, maxsize: int = 32) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, DynObject | None] = OrderedDict()

    def get(self, path: str) -> DynObject | None:
        if path in self._data:
            self._data.move_to_end(path)
            return self._data[path]
        try:
            obj: DynObject | None = DynObject(path)
        except (OSError, ElfFormatError, ValueError):
            obj = None
        self._data[path] = obj
        while len(self._data) > self.maxsize:
            _, old = self._data.popitem(last=False)
            if old is not None:
                old.close()
        return obj

    def close(self) -> None:
        for obj in self._data.values():
            if obj is not None:
                obj.close()
        self._data.clear()


class _Unread(Exception):
    """A metadata file that could not be read; its diagnostic is already recorded."""


class _Scanner:
    def __init__(self, prefix: Path, node: NodeFacts | None, system: SystemLibraries, config: LoaderConfig) -> None:
        self.root = Path(os.path.realpath(prefix))
        self.kind = prefix_kind(self.root)
        self.node = node
        self.system = system
        self.loader = Loader(self.root, system, config)
        self.diags: list[Diagnostic] = Findings()  # each code listed at most MAX_FINDINGS_PER_CODE times
        self.owners: list[_Owner] = []
        self.owner_of: dict[str, int] = {}  # relative path of an ELF candidate -> index in owners
        self.python: str | None = None
        self.cxx_needs: list[_CxxNeed] = []
        self.cxx_copies: dict[str, tuple[str | None, str | None, str]] = {}  # key -> (glibcxx, cxxabi, label)
        self.libs = _OpenObjects()
        self.objects = 0
        self.files = 0
        self.chain: tuple[DynInfo, ...] = ()
        self.interpreters: list[str] = []
        self._globals: dict[tuple[int, str], list[str]] = {}
        self.unowned_index: int | None = None
        self.so_names: dict[str, str] = {}  # basename -> first relative path seen (for "it is elsewhere" hints)
        self.missing: list[tuple[str, str, Resolved]] = []

    # -- helpers -----------------------------------------------------------------------------------------
    def rel(self, path: str | Path) -> str:
        p = str(path)
        root = str(self.root)
        return p[len(root) + 1 :] if p.startswith(root + "/") else p

    def _diag(self, code: str, message: str, rel: str, **kw: object) -> None:
        self.diags.append(make(code, message, location=Location(file=rel), **kw))  # type: ignore[arg-type]

    def _special(self, rel: str, mode: int) -> None:
        diag = refuse_special(rel, mode, severity=Severity.WARNING)
        self.diags.append(diag.model_copy(update={"location": Location(file=rel)}))

    def _read(self, path: Path) -> bytes:
        """A metadata file's bytes through the bounded reader; a problem is reported here and raises `_Unread`.

        Special files (a FIFO, a symlink to /dev/zero) are GN106 and oversized ones GN107, as warnings: the
        check goes on without that file.
        """
        rel = self.rel(path)
        try:
            fd, _st = open_fd(path)
        except SpecialFileError as exc:
            self._special(rel, exc.mode)
            raise _Unread from None
        except PermissionError as exc:
            self._diag("CK106", f"cannot read: {exc.strerror}", rel)
            raise _Unread from None
        except OSError as exc:
            self._diag("CK108", f"cannot read: {exc.strerror or exc}", rel)
            raise _Unread from None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_METADATA_BYTES + 1)
        if len(data) > MAX_METADATA_BYTES:
            self._diag(
                "GN107",
                f"larger than the {MAX_METADATA_BYTES} byte limit for a metadata file; not read",
                rel,
                severity=Severity.WARNING,
            )
            raise _Unread
        return data

    # -- metadata ----------------------------------------------------------------------------------------
    def read_metadata(self) -> None:
        meta = self.root / "conda-meta"
        if meta.is_dir():
            for path in sorted(meta.glob("*.json")):
                self._read_conda_record(path)
        for sp in sorted(self.root.glob("lib/python3*/site-packages")):
            for dist in sorted(sp.glob("*.dist-info")):
                self._read_dist_info(sp, dist)
        self.python = self.python or self._python_version()

    def _add_owner(self, pkg: Package, files: Iterator[str]) -> None:
        idx = len(self.owners)
        self.owners.append(_Owner(pkg))
        for f in files:
            if _SO.search(f) or f.startswith("bin/"):
                self.owner_of.setdefault(os.path.normpath(f), idx)

    def _read_conda_record(self, path: Path) -> None:
        rel = self.rel(path)
        try:
            obj = loads_json(self._read(path))
            pkg = Package(
                name=str(obj["name"]),
                version=str(obj["version"]),
                ecosystem="conda",
                build=str(obj.get("build")) if obj.get("build") is not None else None,
                channel=str(obj.get("channel")) if obj.get("channel") else None,
                subdir=str(obj.get("subdir")) if obj.get("subdir") else None,
                depends=tuple(str(d) for d in obj.get("depends", ())),
            )
            files = [str(f) for f in obj.get("files", ())]
        except _Unread:
            return
        except LimitError as exc:
            self.diags.append(exc.diagnostic(rel, severity=Severity.WARNING))
            return
        except (ValueError, KeyError, TypeError) as exc:
            self._diag("CK108", f"cannot parse conda record: {type(exc).__name__}: {exc}", rel)
            return
        if pkg.name == "python":
            self.python = pkg.version
        self._add_owner(pkg, iter(files))

    def _read_dist_info(self, sp: Path, dist: Path) -> None:
        rel = self.rel(dist / "METADATA")
        name = version = None
        try:
            text = self._read(dist / "METADATA").decode("utf-8", "replace")
        except _Unread:
            return
        for line in text.splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if key == "Name":
                name = value.strip()
            elif key == "Version":
                version = value.strip()
        if not name or not version:
            self._diag("CK108", "METADATA has no Name or Version", rel)
            return
        from packaging.utils import canonicalize_name

        pkg = Package(name=str(canonicalize_name(name)), version=version, ecosystem="pypi")
        sp_rel = self.rel(sp)
        files: list[str] = []
        if not os.path.lexists(dist / "RECORD"):
            self._diag("CK108", "no RECORD: files cannot be attributed to the package", self.rel(dist))
            self._add_owner(pkg, iter(files))
            return
        try:
            record = self._read(dist / "RECORD").decode("utf-8", "replace")
            for row in csv.reader(io.StringIO(record, newline="")):
                if row:
                    files.append(os.path.normpath(os.path.join(sp_rel, row[0])))
        except _Unread:
            pass
        except csv.Error as exc:
            self._diag("CK108", f"cannot parse RECORD: {exc}", self.rel(dist / "RECORD"))
        self._add_owner(pkg, iter(files))

    def _python_version(self) -> str | None:
        cfg = self.root / "pyvenv.cfg"
        try:
            for line in read_limited_text(cfg, limit=MAX_METADATA_BYTES, errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() in ("version", "version_info"):
                    return value.strip()
        except InputError:
            pass
        dirs = sorted(self.root.glob("lib/python3*"))
        return dirs[0].name.removeprefix("python") if dirs else None

    # -- the walk ----------------------------------------------------------------------------------------
    def candidates(self) -> Iterator[str]:
        def onerror(exc: OSError) -> None:
            self._diag("CK106", f"cannot list directory: {exc.strerror}", self.rel(exc.filename or "?"))

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=onerror):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            in_bin = dirpath == str(self.root / "bin")
            for name in sorted(filenames):
                self.files += 1
                if _SO.search(name) or (in_bin and name.startswith("python")):
                    path = os.path.join(dirpath, name)
                    self.so_names.setdefault(name, self.rel(path))
                    if not os.path.islink(path):
                        yield path

    def find_interpreters(self) -> None:
        """The interpreter objects of a conda prefix (bin/python3.X, lib/libpython3*.so*): their symbols and RPATH."""
        for pattern in ("bin/python3*", "lib/libpython3*.so*"):
            for p in sorted(self.root.glob(pattern)):
                if p.is_symlink() or not p.is_file():
                    continue
                try:
                    with DynObject(p) as obj:
                        info = obj.info()
                except (OSError, ElfFormatError):
                    continue
                self.interpreters.append(str(p))
                if p.parent.name == "bin" and not self.chain:
                    self.chain = (info,)  # the executable's RPATH applies to what it dlopens (PIE: ET_DYN too)

    def scan(self) -> None:
        self.read_metadata()
        self.find_interpreters()
        for path in self.candidates():
            self.check_object(path)
        self.libs.close()
        for rel, name, r in self.missing:
            self._missing(rel, name, r)
        self.check_libstdcxx()

    def check_object(self, path: str) -> None:
        rel = self.rel(path)
        try:
            obj = DynObject(path)
        except SpecialFileError as exc:
            self._special(rel, exc.mode)
            return
        except PermissionError as exc:
            self._diag("CK106", f"cannot read: {exc.strerror}", rel, hint="run the check as a user who can read it")
            return
        except ElfFormatError as exc:
            if str(exc) != "not an ELF file":
                self._diag("CK111", str(exc), rel)
            return
        except (OSError, ValueError):
            return  # empty files (mmap of length 0) and the like: not objects
        with obj:
            try:
                self._check_open_object(obj, rel, path)
            except ElfFormatError as exc:  # this object, or a library it loads, is malformed
                self._diag("CK111", str(exc), rel)

    def _check_open_object(self, obj: DynObject, rel: str, path: str) -> None:
        info = obj.info()
        self.objects += 1
        arch = self.node.cpu.arch if self.node else None
        if arch and info.machine != arch:
            # an extension module or executable is loaded directly: foreign, it cannot run at all
            direct = rel.startswith("bin/") or (info.kind == "dyn" and _is_extension(obj, path))
            severity = Severity.ERROR if direct else None
            self._diag("CK110", f"built for {info.machine}, node is {arch}", rel, severity=severity)
            return
        self._record_facts(rel, path, info)
        resolved = self.check_needed(rel, info)
        self._record_cxx(rel, info, resolved)
        if info.kind == "dyn" and _is_extension(obj, path):
            self.check_symbols(rel, obj, info, resolved)

    def _record_facts(self, rel: str, path: str, info: DynInfo) -> None:
        idx = self.owner_of.get(rel)
        if idx is None:
            idx = self._unowned()
        self.owners[idx].elf.append(_elf_facts(path, rel, info))

    def _unowned(self) -> int:
        if self.unowned_index is not None:
            return self.unowned_index
        eco: Literal["conda", "pypi"] = "conda" if self.kind == "conda" else "pypi"
        pkg = Package(
            name="unowned-files",
            version="0",
            ecosystem=eco,
            binary_note="shared objects no installed metadata lists",
        )
        self.owners.append(_Owner(pkg))
        self.unowned_index = len(self.owners) - 1
        return self.unowned_index

    def check_needed(self, rel: str, info: DynInfo) -> dict[str, Resolved]:
        out: dict[str, Resolved] = {}
        chain = self.chain if self.chain and self.chain[0].path != info.path else ()
        for name in info.needed:
            r = self.loader.resolve(name, info, chain)
            out[name] = r
            if not r.found:
                if not _LIBPYTHON.match(name):
                    self.missing.append((rel, name, r))
                continue
            self._check_versions(rel, info, name, r)
        return out

    def _missing(self, rel: str, name: str, r: Resolved) -> None:
        evidence = [Evidence(fact=f"searched {s}") for s in r.searched[:12]]
        elsewhere = self.so_names.get(name)
        hint = "install the package that provides it, or set RUNPATH so the loader finds it"
        if elsewhere is not None:
            hint = (
                f"the environment has it at {elsewhere}, which is not on this object's search path: "
                "fix the RUNPATH, or run with LD_LIBRARY_PATH including that directory"
            )
        unsure = not self.system.exhaustive
        if unsure:
            evidence.append(
                Evidence(fact="the node's libraries are known only from its facts", source="node facts", unsure=True)
            )
        self._diag("CK101", f"{name} is not found", rel, evidence=evidence, hint=hint)

    def _check_versions(self, rel: str, info: DynInfo, name: str, r: Resolved) -> None:
        needs = info.version_needs.get(name)
        if not needs or name in GLIBC_SONAMES or name == LIBSTDCXX or r.path is None:
            return
        target = self.loader.headers.get(r.path)
        if not isinstance(target, DynInfo):
            return
        defined = set(target.version_defs)
        missing = [v for v in needs if v not in defined and v not in info.weak_version_needs]
        if missing:
            self._diag(
                "CK103",
                f"needs {', '.join(missing)} from {name}; the copy the loader picks does not define it",
                rel,
                evidence=[Evidence(fact=f"{name} resolves to {self.rel(r.path)} ({r.how})")],
                hint="install the library version the object was built against",
            )

    # -- libstdc++ ---------------------------------------------------------------------------------------
    def _record_cxx(self, rel: str, info: DynInfo, resolved: dict[str, Resolved]) -> None:
        r = resolved.get(LIBSTDCXX)
        if r is None or not r.found:
            return
        key = r.path if r.path is not None else "node"
        if key not in self.cxx_copies:
            self.cxx_copies[key] = self._cxx_level(r)
        needs = info.version_needs.get(LIBSTDCXX, ())
        glibcxx, cxxabi = max_version(list(needs), "GLIBCXX"), max_version(list(needs), "CXXABI")
        if glibcxx or cxxabi:
            self.cxx_needs.append(_CxxNeed(rel, glibcxx, cxxabi, key))

    def _cxx_level(self, r: Resolved) -> tuple[str | None, str | None, str]:
        if r.path is None:
            facts = self.node.libstdcxx if self.node else None
            label = f"node libstdc++{f' ({facts.path})' if facts and facts.path else ''}"
            return (facts.glibcxx if facts else None, facts.cxxabi if facts else None, label)
        info = self.loader.headers.get(r.path)
        label = self.rel(r.path) if r.path.startswith(str(self.root) + "/") else f"node {r.path}"
        if isinstance(info, DynInfo):
            defs = list(info.version_defs)
            return (max_version(defs, "GLIBCXX"), max_version(defs, "CXXABI"), label)
        return (None, None, label)

    def check_libstdcxx(self) -> None:
        copies = self.cxx_copies
        if len(copies) > 1:
            desc = [f"{label} (GLIBCXX_{g or '?'})" for g, _c, label in copies.values()]
            self.diags.append(
                make(
                    "CK105",
                    f"{len(copies)} copies of libstdc++.so.6 compete: {', '.join(sorted(desc))}",
                    subject=LIBSTDCXX,
                    evidence=[
                        Evidence(fact=f"{n} object(s) resolve it to {copies[k][2]}")
                        for k, n in sorted(_count(self.cxx_needs).items())
                    ],
                    hint="make every object resolve the environment's copy (RUNPATH), or drop the extra copy",
                )
            )
        if not copies:
            return
        known = [(g, c, label) for g, c, label in copies.values() if g is not None or c is not None]
        if not known:
            return
        from packaging.version import Version

        def low(idx: int) -> tuple[str | None, str]:
            vals = [(v[idx], v[2]) for v in known if v[idx] is not None]
            if not vals:
                return None, ""
            best = min(vals, key=lambda t: Version(str(t[0])))
            return best[0], best[1]

        low_g, label_g = low(0)
        low_c, label_c = low(1)
        race = len(copies) > 1
        for need in self.cxx_needs:
            # the copy that can win is the lowest of all copies reached in this process
            short: list[str] = []
            evidence: list[Evidence] = []
            for prefix_, want, have, label in (
                ("GLIBCXX", need.glibcxx, low_g, label_g),
                ("CXXABI", need.cxxabi, low_c, label_c),
            ):
                if want is None or have is None or Version(want) <= Version(have):
                    continue
                short.append(f"{prefix_}_{want} (have {prefix_}_{have})")
                evidence.append(Evidence(fact=f"{label} defines up to {prefix_}_{have}"))
            if not short:
                continue
            evidence.append(Evidence(fact=f"this object resolves libstdc++.so.6 to {copies[need.target][2]}"))
            which = "the lowest competing libstdc++ copy" if race else "the libstdc++ that loads"
            self._diag(
                "CK104",
                f"needs {', '.join(short)}: above {which}",
                need.rel,
                evidence=evidence,
                hint=(
                    "ship a newer libstdc++ with the environment and make every object resolve it "
                    "(conda: libstdcxx-ng), or rebuild the object with an older toolchain"
                ),
            )

    # -- symbols -----------------------------------------------------------------------------------------
    def _scope(self, info: DynInfo, resolved: dict[str, Resolved]) -> tuple[list[tuple[str, Resolved]], bool]:
        """The module's load scope, breadth first: (name, resolution) pairs, and whether all of it is readable."""
        scope: list[tuple[str, Resolved]] = []
        seen: set[str] = set()
        queue: list[tuple[str, Resolved, tuple[DynInfo, ...]]] = [(n, r, (info,)) for n, r in resolved.items()]
        complete = True
        while queue and len(scope) < 512:
            name, r, chain = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            scope.append((name, r))
            if not r.found or r.path is None:
                complete = False
                continue
            dep = self.loader.headers.get(r.path)
            if not isinstance(dep, DynInfo):
                complete = False
                continue
            for n in dep.needed:
                if n not in seen:
                    queue.append((n, self.loader.resolve(n, dep, chain), (dep, *chain)))
        return scope, complete

    def _global_scope(self, info: DynInfo) -> list[str]:
        """Objects in the process before any extension module loads: the interpreter, what it needs (breadth
        first), and the C library and libm, which every CPython loads. Extension modules bind to these without
        naming them (mypyc modules call `sin` without DT_NEEDED libm)."""
        key = (info.elf_class, info.machine)
        cached = self._globals.get(key)
        if cached is not None:
            return cached
        paths: list[str] = []
        for exe in self.interpreters:
            head = self.loader.headers.get(exe)
            if not isinstance(head, DynInfo) or (head.elf_class, head.machine) != key:
                continue
            paths.append(exe)
            scope, _complete = self._scope(head, {n: self.loader.resolve(n, head) for n in head.needed})
            paths += [r.path for _n, r in scope if r.path is not None]
        for name in ("libc.so.6", "libm.so.6"):
            r = self.loader.resolve(name, info)
            if r.path is not None:
                paths.append(r.path)
        out = list(dict.fromkeys(paths))
        self._globals[key] = out
        return out

    def _provided(self, paths: list[str], name: str, version: str | None) -> bool:
        # look each object up at the time of use: the LRU may have closed one fetched earlier
        for path in paths:
            lib = self.libs.get(path)
            if lib is not None and lib.exports(name, version):
                return True
        return False

    def check_symbols(self, rel: str, obj: DynObject, info: DynInfo, resolved: dict[str, Resolved]) -> None:
        scope, complete = self._scope(info, resolved)
        by_name = dict(scope)
        # the loader searches the global scope first, then the module's own dependencies, breadth first;
        # a versioned reference binds to whichever object defines that symbol version, not only the file named
        # in its version need (glibc >= 2.34 moved libpthread's GLIBC_2.2.5 symbols into libc.so.6)
        providers = list(dict.fromkeys([*self._global_scope(info), *(r.path for _n, r in scope if r.path is not None)]))
        interp_known = bool(self.interpreters)
        missing: list[str] = []
        for u in obj.undefined_symbols():
            if u.weak:
                continue
            if u.version and u.file:
                target = by_name.get(u.file)
                lib = self.libs.get(target.path) if target is not None and target.path else None
                if lib is not None and u.version not in lib.info().version_defs:
                    continue  # the whole version is missing: CK103 says so once for the object
                if self._provided(providers, u.name, u.version):
                    continue
                if lib is not None or complete:
                    missing.append(f"{u.name}@{u.version} (from {u.file})")
                continue
            if self._provided(providers, u.name, None):
                continue
            if not interp_known and u.name.startswith(("Py", "_Py")):
                continue  # provided by the interpreter that imports the module
            if complete or _third_party_cxx(u.name):
                missing.append(u.name)
        if not missing:
            return
        shown = ", ".join(missing[:_MAX_SYMBOLS_SHOWN]) + (
            f" and {len(missing) - _MAX_SYMBOLS_SHOWN} more" if len(missing) > _MAX_SYMBOLS_SHOWN else ""
        )
        evidence = [
            Evidence(fact=f"{n} -> {self.rel(r.path) if r.path else r.how or 'not found'}") for n, r in scope[:12]
        ]
        if not complete:
            evidence.append(
                Evidence(
                    fact="some libraries in scope are the node's and were not read; only C++ symbols outside std "
                    "are reported for those",
                    unsure=True,
                )
            )
        self._diag(
            "CK102",
            f"{len(missing)} undefined symbol(s) no library it loads exports: {shown}",
            rel,
            evidence=evidence,
            hint="the module was built against another version of a library it needs: install matching versions",
        )


def _count(needs: list[_CxxNeed]) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in needs:
        out[n.target] = out.get(n.target, 0) + 1
    return out


_NESTED = re.compile(r"^_Z(?:T[VIS])?N?[KVr]*([0-9]+)")


def _third_party_cxx(name: str) -> bool:
    """A mangled C++ name in a named namespace other than the standard library's: no system library defines it.

    `_ZN4tiny3fooEv` is; `_ZNSt...` (std), `_Znwm` (operator new), `_ZTIi` (typeinfo of int) are not.
    """
    m = _NESTED.match(name)
    if m is None:
        return False
    length = int(m.group(1))
    ident = name[m.end() : m.end() + length]
    return len(ident) == length and ident not in {"__gnu_cxx", "__cxxabiv1", "__cxx11", "__gnu_debug"}


def _is_extension(obj: DynObject, path: str) -> bool:
    stem = os.path.basename(path).split(".", 1)[0]
    return bool(stem) and obj.exports(f"PyInit_{stem}")


def _elf_facts(path: str, rel: str, info: DynInfo) -> ElfFacts:
    """The artifact facts the rules read, from `envresolve.binary.elf` (fatbin, C++ ABI, CUDA runtime).

    When that reader gives nothing (it reports its own problems; this scan reports CK111 for the loader's),
    the loader facts stand in, so the rules still see needs and versions.
    """
    try:
        facts, _diags = read_elf_file(path)
    except Exception:  # a reader failure must not stop the check; the loader facts remain
        facts = None
    if facts is not None:
        return facts.model_copy(update={"path": rel})
    return ElfFacts(
        path=rel,
        elf_class=32 if info.elf_class == 32 else 64,
        machine=info.machine,
        soname=info.soname,
        needed=info.needed,
        rpath=info.rpath,
        runpath=info.runpath,
        version_needs=dict(info.version_needs),
        version_defs=info.version_defs,
    )


def _artifact(owner: _Owner) -> ArtifactReport | None:
    if not owner.elf:
        return None
    pkg = owner.package
    return build_report(
        artifact=f"{pkg.name}-{pkg.version} (installed)",
        kind="directory",
        elf=owner.elf,
        name=pkg.name,
        version=pkg.version,
        build=pkg.build,
        files=len(owner.elf),
    )


def scan_prefix(
    prefix: str | Path,
    node: NodeFacts | None,
    system: SystemLibraries,
    config: LoaderConfig | None = None,
) -> PrefixScan:
    """Scan an installed environment for one node: the `Environment` for the rules, plus installed-only findings.

    Raises `InputError` (CK107) when `prefix` is not an environment. Never writes anything.
    """
    scanner = _Scanner(Path(prefix), node, system, config or LoaderConfig(platform=node.cpu.arch if node else "x86_64"))
    try:
        scanner.scan()
    finally:
        scanner.libs.close()
    packages = tuple(o.package.model_copy(update={"binary": _artifact(o)}) for o in scanner.owners)
    env = Environment(packages=packages, python=scanner.python)
    return PrefixScan(
        prefix=str(scanner.root),
        kind=scanner.kind,
        environment=env,
        diagnostics=scanner.diags,
        objects=scanner.objects,
        files=scanner.files,
    )
