"""Emulate the Linux dynamic loader's library search for the objects of an environment.

Search order, as `ld.so(8)` documents it for a DT_NEEDED name without a slash:

1. DT_RPATH of the object, then of the objects that loaded it (only while the object has no DT_RUNPATH);
2. LD_LIBRARY_PATH (an argument here, never read from `os.environ`);
3. DT_RUNPATH of the object itself;
4. the environment's `lib` directory, only when the caller says it is on the path (`env_lib_on_path`);
5. the node's ldconfig cache, then its default directories.

`$ORIGIN`, `$LIB` and `$PLATFORM` are expanded. Candidates of the wrong ELF class or machine are skipped, as
the loader skips them. The node side is a `SystemLibraries`: recorded facts (`RecordedSystem`) or the live
machine's cache and directories (`LiveSystem`, built at the edge by `live_system()`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envresolve.binary.elf import DynInfo, ElfFormatError, read_dyninfo

if TYPE_CHECKING:
    from envresolve.node.facts import NodeFacts

__all__ = [
    "GLIBC_SONAMES",
    "HeaderCache",
    "LiveSystem",
    "Loader",
    "RecordedSystem",
    "Resolved",
    "SystemLib",
    "SystemLibraries",
    "live_system",
]

#: sonames glibc itself provides: any glibc-based node has them
GLIBC_SONAMES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libanl.so.1",
        "libnsl.so.1",
        "libmvec.so.1",
        "libBrokenLocale.so.1",
        "libcrypt.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "ld64.so.2",
        "ld-linux.so.2",
    }
)
_GCC_RUNTIME = frozenset({"libgcc_s.so.1"})
_DRIVER_SONAMES = frozenset(
    {"libcuda.so.1", "libcuda.so", "libnvidia-ml.so.1", "libnvidia-ptxjitcompiler.so.1", "libnvidia-nvvm.so.4"}
)
LIBSTDCXX = "libstdc++.so.6"


@dataclass(frozen=True)
class SystemLib:
    """A library the node provides. `path` is None when only known from recorded facts (not readable here)."""

    soname: str
    path: str | None
    how: str  # "ld.so.cache", "default-dir", "node-facts"


class SystemLibraries:
    """The node side of the search: its ldconfig cache and default directories."""

    #: True when the answer is authoritative (read off the node); False for recorded facts
    exhaustive: bool = False

    def find(self, soname: str, elf_class: int, machine: str) -> SystemLib | None:
        raise NotImplementedError

    def lib_dir_name(self) -> str:
        """What `$LIB` expands to."""
        return "lib64"


class RecordedSystem(SystemLibraries):
    """The libraries recorded node facts imply: glibc's, the GCC runtime, libstdc++ and the driver's."""

    exhaustive = False

    def __init__(self, node: NodeFacts) -> None:
        self.node = node
        # libstdc++ is part of every glibc distribution's base system; its level is known only from the facts
        names = set(GLIBC_SONAMES | _GCC_RUNTIME | {LIBSTDCXX})
        if node.driver is not None:
            names |= _DRIVER_SONAMES
        self._names = frozenset(names)

    def find(self, soname: str, elf_class: int, machine: str) -> SystemLib | None:
        if soname in self._names:
            path = self.node.libstdcxx.path if soname == LIBSTDCXX and self.node.libstdcxx else None
            return SystemLib(soname, None, f"node facts ({path})" if path else "node facts")
        return None

    def lib_dir_name(self) -> str:
        return _lib_dir_name(self.node.os.id, self.node.cpu.arch)


class LiveSystem(SystemLibraries):
    """This machine's ldconfig cache and default directories.

    The cache is parsed with NODE's reader (`envresolve.node.libstdcxx.parse_ld_so_cache`), which keeps only the
    entries for this architecture; the default directories are its `STANDARD_DIRS`.
    """

    exhaustive = True

    def __init__(self, cache: bytes, arch: str, default_dirs: tuple[str, ...], lib_dir: str = "lib64") -> None:
        self.cache = cache
        self.arch = arch
        self.default_dirs = default_dirs
        self._lib_dir = lib_dir
        self.headers = HeaderCache()
        self._paths: dict[str, list[str]] = {}

    def cached(self, soname: str) -> list[str]:
        """The paths the ldconfig cache maps `soname` to, in cache order."""
        if soname not in self._paths:
            from envresolve.node.libstdcxx import parse_ld_so_cache

            self._paths[soname] = parse_ld_so_cache(self.cache, soname, self.arch)
        return self._paths[soname]

    def find(self, soname: str, elf_class: int, machine: str) -> SystemLib | None:
        for path in self.cached(soname):
            if self.headers.compatible(path, elf_class, machine):
                return SystemLib(soname, path, "ld.so.cache")
        for d in self.default_dirs:
            path = os.path.join(d, soname)
            if self.headers.compatible(path, elf_class, machine):
                return SystemLib(soname, path, "default-dir")
        return None

    def lib_dir_name(self) -> str:
        return self._lib_dir


def _lib_dir_name(os_id: str | None, arch: str) -> str:
    if os_id in {"debian", "ubuntu"}:
        return f"lib/{arch}-linux-gnu"
    return "lib64"


def live_system(root: str = "/", *, machine: str | None = None) -> LiveSystem:
    """Read this machine's loader configuration. This is probing: only the CLI/API edge calls it."""
    import platform

    from envresolve.node.libstdcxx import STANDARD_DIRS

    arch = machine or platform.machine()
    try:
        cache = Path(root, "etc/ld.so.cache").read_bytes()
    except OSError:
        cache = b""
    dirs = tuple(
        os.path.join(root, d.lstrip("/")) for d in STANDARD_DIRS.get(arch, ("/lib64", "/usr/lib64", "/lib", "/usr/lib"))
    )
    dirs = tuple(d for d in dirs if os.path.isdir(d))
    os_id = None
    try:
        for line in Path(root, "etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("ID="):
                os_id = line[3:].strip().strip('"')
    except OSError:
        pass
    return LiveSystem(cache, arch, dirs, _lib_dir_name(os_id, arch))


class HeaderCache:
    """Bounded cache of loader facts per real path (`None` for files that are not loadable objects)."""

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, DynInfo | OSError | ElfFormatError | None] = OrderedDict()

    def get(self, path: str) -> DynInfo | OSError | ElfFormatError | None:
        """DynInfo, the error reading it, or None when it does not exist / is not a regular file."""
        hit = self._data.get(path, _MISS)
        if hit is not _MISS:
            self._data.move_to_end(path)
            return hit  # type: ignore[return-value]
        value: DynInfo | OSError | ElfFormatError | None
        if not os.path.isfile(path):
            value = None
        else:
            try:
                value = read_dyninfo(path)
            except (OSError, ElfFormatError) as exc:
                value = exc
        self._data[path] = value
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value

    def compatible(self, path: str, elf_class: int, machine: str) -> bool:
        """True when the file exists and is an object the loader would accept for this class and machine.

        A file that exists but cannot be read counts as found: the loader's user may be able to read it.
        """
        info = self.get(path)
        if isinstance(info, DynInfo):
            return info.elf_class == elf_class and info.machine == machine
        return isinstance(info, OSError) and not isinstance(info, FileNotFoundError)


_MISS = object()


@dataclass(frozen=True)
class Resolved:
    """Where one DT_NEEDED name resolves, and what was searched."""

    name: str
    path: str | None  # a real path inside the environment or on the live node; None otherwise
    how: str  # "rpath", "ld-library-path", "runpath", "env-lib", "ld.so.cache", "default-dir", "node facts", ...
    searched: tuple[str, ...] = ()
    found: bool = True

    @property
    def on_node(self) -> bool:
        """True when the node (not the environment) provides it."""
        return self.how.startswith(("ld.so.cache", "default-dir", "node facts"))


@dataclass(frozen=True)
class LoaderConfig:
    """How the environment will be run."""

    ld_library_path: tuple[str, ...] = ()
    env_lib_on_path: bool = False
    install_path: str | None = None  # where the prefix is mounted at run time, when not where it is checked
    platform: str = "x86_64"


class Loader:
    """The library search for objects inside `prefix` on a node described by `system`."""

    def __init__(self, prefix: str | Path, system: SystemLibraries, config: LoaderConfig | None = None) -> None:
        self.prefix = os.path.realpath(prefix)
        self.system = system
        self.config = config or LoaderConfig()
        self.headers = HeaderCache()
        self._libdir = system.lib_dir_name()
        self._memo: OrderedDict[tuple[str, tuple[str, ...], str], Resolved] = OrderedDict()

    def map_path(self, path: str) -> str:
        """A run-time absolute path mapped into the checked prefix (when `install_path` is set)."""
        inst = self.config.install_path
        if inst and (path == inst or path.startswith(inst.rstrip("/") + "/")):
            return self.prefix + path[len(inst.rstrip("/")) :]
        return path

    def expand(self, entry: str, origin_dir: str) -> str:
        """Expand `$ORIGIN`, `$LIB`, `$PLATFORM` (both `$X` and `${X}` forms) in one search-path entry."""
        for token, value in (("ORIGIN", origin_dir), ("LIB", self._libdir), ("PLATFORM", self.config.platform)):
            entry = entry.replace("${" + token + "}", value).replace("$" + token, value)
        return os.path.normpath(self.map_path(entry)) if entry else entry

    def resolve(self, name: str, obj: DynInfo, chain: tuple[DynInfo, ...] = ()) -> Resolved:
        """Where `name`, needed by `obj` (loaded by the objects in `chain`, nearest first), resolves."""
        key = (obj.path, tuple(c.path for c in chain), name)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        result = self._resolve(name, obj, chain)
        self._memo[key] = result
        if len(self._memo) > 8192:
            self._memo.popitem(last=False)
        return result

    def _resolve(self, name: str, obj: DynInfo, chain: tuple[DynInfo, ...]) -> Resolved:
        searched: list[str] = []
        if "/" in name:
            path = self.map_path(name) if os.path.isabs(name) else os.path.join(os.path.dirname(obj.path), name)
            searched.append(path)
            if self._ok(path, obj):
                return Resolved(name, path, "path", tuple(searched))
            return Resolved(name, None, "path", tuple(searched), found=False)
        dirs: list[tuple[str, str]] = []
        if not obj.runpath:
            for o in (obj, *chain):
                if o is not obj and o.runpath:
                    continue
                origin = os.path.dirname(o.path)
                dirs += [("rpath", self.expand(e, origin)) for e in o.rpath]
        dirs += [("ld-library-path", self.expand(e, os.path.dirname(obj.path))) for e in self.config.ld_library_path]
        dirs += [("runpath", self.expand(e, os.path.dirname(obj.path))) for e in obj.runpath]
        if self.config.env_lib_on_path:
            dirs.append(("env-lib", os.path.join(self.prefix, "lib")))
        for how, d in dirs:
            if not d:
                continue
            path = os.path.join(d, name)
            searched.append(path)
            if self._ok(path, obj):
                return Resolved(name, path, how, tuple(searched))
        sys_lib = self.system.find(name, obj.elf_class, obj.machine)
        if sys_lib is not None:
            return Resolved(name, sys_lib.path, sys_lib.how, tuple(searched))
        searched.append("node: ld.so.cache and default directories" if self.system.exhaustive else "node facts")
        return Resolved(name, None, "", tuple(searched), found=False)

    def _ok(self, path: str, obj: DynInfo) -> bool:
        if not path.startswith(self.prefix + "/") and not self.system.exhaustive:
            return False  # outside the environment, and the node's filesystem is not here to look at
        return self.headers.compatible(path, obj.elf_class, obj.machine)
