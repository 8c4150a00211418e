"""The conda side of resolution: a real py-rattler solve against the spec's channels for a target node.

The node's conda virtual packages (`__cuda`, `__glibc`, ...) come from its facts, never from this machine.
Channels may be names (expanded through a channel alias or a mirror table, as conda's `channel_alias` and pixi's
mirrors do), URLs, `file://` URLs or local directories. Repodata goes through py-rattler's `Gateway`, which caches
it on disk, uses sharded repodata where a channel offers it, and in offline mode reads only its cache.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from envresolve._redact import has_credentials, redact_url
from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.errors import EnvresolveError, InputError
from envresolve.records import CondaPackage, VirtualPackage, common_virtual_packages
from envresolve.records import version_key as _vkey

if TYPE_CHECKING:
    from rattler import Gateway, GenericVirtualPackage, RepoDataRecord

    from envresolve.node.facts import NodeFacts

__all__ = [
    "CondaPackage",
    "CondaSettings",
    "CondaSolution",
    "CondaSolver",
    "VirtualPackage",
    "common_virtual_packages",
    "default_cache_dir",
    "node_virtual_packages",
    "solve_virtual_packages",
    "translate_matchspec",
]

DEFAULT_SUBDIR = "linux-64"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class CondaSettings(_Frozen):
    """How channels are found and read."""

    channel_alias: str | None = Field(
        default=None, description="base URL (or directory) that bare channel names hang off, like conda's channel_alias"
    )
    mirrors: dict[str, str] = Field(
        default_factory=dict, description="channel name or URL prefix -> replacement base URL (pixi's mirrors)"
    )
    cache_dir: str | None = Field(default=None, description="repodata cache; default ~/.cache/envresolve/repodata")
    offline: bool = Field(default=False, description="read repodata only from the cache (and local channels)")
    sharded: bool = Field(default=True, description="use sharded repodata where a channel offers it")
    subdir: str = DEFAULT_SUBDIR
    timeout_s: float = Field(default=300.0, gt=0)
    base_dir: str | None = Field(default=None, description="directory relative channel paths are resolved against")


class CondaSolution(_Frozen):
    """The outcome of one conda solve."""

    packages: tuple[CondaPackage, ...] = ()
    python: str | None = Field(default=None, description="the interpreter version conda installs, if any")
    specs: tuple[str, ...] = Field(default=(), description="the MatchSpecs solved, after translation")
    channels: tuple[str, ...] = Field(default=(), description="channel URLs, credentials removed")
    virtual_packages: tuple[VirtualPackage, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    seconds: float = Field(default=0.0, description="wall time of the solve (not written to locks)")

    @property
    def ok(self) -> bool:
        """True when the solve produced a solution (an empty spec solves to nothing and is ok)."""
        from envresolve.diagnostics import has_errors

        return not has_errors(self.diagnostics)


# --------------------------------------------------------------------------------------------- specs

_MISSING_RANGE = "missing range specifier"
_BARE_PIN = re.compile(r"^(?P<name>[^\s=<>!~\[]+)\s+(?P<version>[0-9][^\s,|<>=!*]*)(?P<rest>(\s+\S+)?)\s*$")


@functools.lru_cache(maxsize=4096)
def translate_matchspec(text: str) -> tuple[str, Diagnostic | None]:
    """A MatchSpec string py-rattler's strict parser accepts, plus an info diagnostic when it had to be rewritten.

    conda reads `pytorch 2.3.0` (and `pytorch 2.3.0 py3.10_0`) as an exact pin; strict py-rattler rejects it.

    >>> translate_matchspec("pytorch 2.3.0")[0]
    'pytorch ==2.3.0'
    >>> translate_matchspec("python=3.10.14=hb885b13_0")[0]
    'python ==3.10.14 hb885b13_0'

    Raises `InputError` (RS106) when the text is not a MatchSpec at all.
    """
    from rattler import MatchSpec

    spec = text.strip()
    try:
        MatchSpec(spec, strict=True)
        return spec, None
    except Exception as exc:  # py-rattler raises its own exception types; the message is what we report
        err = str(exc)
    m = _BARE_PIN.match(spec)
    if _MISSING_RANGE in err and m:
        fixed = f"{m['name']} =={m['version']}{m['rest']}"
        try:
            MatchSpec(fixed, strict=True)
        except Exception as exc2:
            err = str(exc2)
        else:
            return fixed, make(
                "RS107", f"conda exact pin read as: {fixed}", subject=text, evidence=[f"written as {text!r}"]
            )
    try:  # the lenient parser accepts more of what conda accepts
        return str(MatchSpec(spec, strict=False)), None
    except Exception:
        pass
    raise InputError(make("RS106", f"not a conda MatchSpec: {text}", subject=text, evidence=[err.splitlines()[0]]))


# --------------------------------------------------------------------------------------- virtual pkgs
# (VirtualPackage, CondaPackage and common_virtual_packages live in envresolve.records, re-exported here)


def node_virtual_packages(node: NodeFacts) -> tuple[VirtualPackage, ...]:
    """The conda virtual packages of a node, from NODE's `virtual_packages(node)`."""
    from envresolve.node import virtual_packages

    out = [VirtualPackage(name=n, version=str(v), build=str(b) if b else "0") for n, v, b in virtual_packages(node)]
    return tuple(sorted(out, key=lambda vp: vp.name))


#: What the solver is given for a fact the node does not state: a level above every lower bound a record asks
#: for, and below the `<3.0.a0` upper bound conda-forge's `__glibc` dependencies carry. conda packages ask for
#: virtual packages as lower bounds, so this admits every record: an unknown fact is never held against a
#: package. What the chosen records need of the fact is reported instead (`compat.unknown`: RS130, RS132).
ADMIT_ALL: Mapping[str, str] = {"__glibc": "2.999", "__cuda": "999", "__linux": "999"}


def solve_virtual_packages(node: NodeFacts) -> tuple[VirtualPackage, ...]:
    """The virtual packages the conda solve gets for a node: its own (`node_virtual_packages`), and for a fact
    it leaves unknown, a level that admits every record (`ADMIT_ALL`).

    Unknown: glibc (`node.glibc` is None); the kernel (`__linux` is `0` in the node's own list); the CUDA level
    of a driver that is present (`node.driver` with no `cuda`). A driver whose version is known but not its CUDA
    level gets the highest CUDA release the sourced driver table says that version runs. These levels are for the
    solve only; the lock records the node's own.
    """
    from envresolve.node.conda import linux_version

    vps = {vp.name: vp for vp in node_virtual_packages(node)}
    if node.glibc is None and "__glibc" not in vps:
        vps["__glibc"] = VirtualPackage(name="__glibc", version=ADMIT_ALL["__glibc"])
    if linux_version(node.os.kernel) is None:
        vps["__linux"] = VirtualPackage(name="__linux", version=ADMIT_ALL["__linux"])
    if node.driver is not None and "__cuda" not in vps:
        level = _cuda_of_driver(node.driver.version) if node.driver.version else None
        vps["__cuda"] = VirtualPackage(name="__cuda", version=level or ADMIT_ALL["__cuda"])
        cc = node.min_compute_capability
        if cc is not None and "__cuda_arch" not in vps:
            vps["__cuda_arch"] = VirtualPackage(name="__cuda_arch", version=cc)
    return tuple(sorted(vps.values(), key=lambda vp: vp.name))


def _cuda_of_driver(driver: str) -> str | None:
    """The highest CUDA major.minor whose GA release needs at most this driver (MATRIX's `cuda_drivers.yaml`)."""
    from packaging.version import InvalidVersion, Version

    from envresolve.matrices import cuda_drivers_matrix

    try:
        have = Version(driver)
        runs = [Version(r.cuda) for r in cuda_drivers_matrix().rows if Version(r.min_driver) <= have]
    except (InvalidVersion, EnvresolveError):
        return None
    if not runs:
        return None
    top = max(runs)
    return f"{top.major}.{top.minor}"


def _to_rattler(vps: Iterable[VirtualPackage]) -> list[GenericVirtualPackage]:
    return list(_rattler_vps(tuple((vp.name, vp.version, vp.build) for vp in vps)))


@functools.lru_cache(maxsize=256)
def _rattler_vps(vps: tuple[tuple[str, str, str], ...]) -> tuple[GenericVirtualPackage, ...]:
    # cached: building them costs more than the rest of a warm solve's Python side (the unsat search repeats them)
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    return tuple(GenericVirtualPackage(PackageName(n), Version(v), BuildString(b)) for n, v, b in vps)


# -------------------------------------------------------------------------------------------- channels


def default_cache_dir() -> Path:
    """`$ENVRESOLVE_CACHE_DIR/repodata`, else `$XDG_CACHE_HOME/envresolve/repodata`, else `~/.cache/...`."""
    root = os.environ.get("ENVRESOLVE_CACHE_DIR")
    if root:
        return Path(root) / "repodata"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg or Path.home() / ".cache") / "envresolve" / "repodata"


def _as_url(location: str, base_dir: str | None) -> str:
    if "://" in location:
        return location
    path = Path(location)
    if not path.is_absolute():
        path = Path(base_dir or os.getcwd()) / path
    return path.resolve().as_uri()


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or (os.sep in name and Path(name).exists())


def channel_url(name: str, settings: CondaSettings) -> str:
    """The base URL of a channel as written in a spec, after mirrors and the channel alias."""
    name = name.strip().rstrip("/")
    for prefix in sorted(settings.mirrors, key=len, reverse=True):
        if name == prefix.rstrip("/") or name.startswith(prefix.rstrip("/") + "/"):
            rest = name[len(prefix.rstrip("/")) :].lstrip("/")
            base = _as_url(settings.mirrors[prefix], settings.base_dir).rstrip("/")
            return f"{base}/{rest}" if rest else base
    if "://" in name:
        return name
    if _looks_like_path(name):
        return _as_url(os.path.expanduser(name), settings.base_dir)
    if settings.channel_alias:
        return _as_url(settings.channel_alias, settings.base_dir).rstrip("/") + "/" + name
    return name  # py-rattler expands bare names with its default alias


def _run(coro: Any) -> Any:
    """Run a coroutine from sync code: `asyncio.run` normally; inside a running event loop (an operator's),
    in a helper thread so that loop is not blocked re-entrantly."""
    import asyncio  # only where conda solves (a pip-only lock never does)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target, name="envresolve-conda", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class CondaSolver:
    """Solves conda specs for a channel list; keeps one py-rattler Gateway so repodata is read once."""

    def __init__(self, channels: Sequence[str], settings: CondaSettings | None = None) -> None:
        from rattler import Gateway, SourceConfig

        self.settings = settings or CondaSettings()
        self.channel_urls: tuple[str, ...] = tuple(channel_url(c, self.settings) for c in channels)
        cache = Path(self.settings.cache_dir) if self.settings.cache_dir else default_cache_dir()
        config = SourceConfig(
            sharded_enabled=self.settings.sharded,
            cache_action="force-cache-only" if self.settings.offline else "cache-or-fetch",
        )
        self._gateway: Gateway = Gateway(cache_dir=cache, default_config=config, show_progress=False)
        self._channels = [self._channel(url) for url in self.channel_urls]
        self._subdirs = self._platforms()
        self._converted: dict[tuple[str, bytes | None, bytes | None], CondaPackage] = {}

    def _package(self, record: RepoDataRecord) -> CondaPackage:
        """`CondaPackage.from_record`, once per package file for this solver (repodata is fixed for its Gateway's
        lifetime): the solves of a multi-node lock and of its unsat searches mostly return the same records."""
        raw = record._record
        key = (raw.url, raw.sha256, raw.md5)
        found = self._converted.get(key)
        if found is None:
            found = self._converted[key] = CondaPackage.from_record(record)
        return found

    def _channel(self, url: str) -> Any:
        from rattler import Channel, ChannelConfig

        if "://" in url:
            return Channel(url)
        alias = _as_url(self.settings.channel_alias, self.settings.base_dir) if self.settings.channel_alias else None
        return Channel(url, ChannelConfig(channel_alias=alias.rstrip("/") + "/")) if alias else Channel(url)

    def _platforms(self) -> list[Any]:
        subdirs = [self.settings.subdir, "noarch"]
        local = [u for u in self.channel_urls if u.startswith("file://")]
        if local and len(local) == len(self.channel_urls):
            # a local channel may lack a subdir (a real snapshot without noarch); solve with what is there
            from urllib.parse import unquote, urlsplit

            present = [s for s in subdirs if any((Path(unquote(urlsplit(u).path)) / s).is_dir() for u in local)]
            return present or subdirs
        return subdirs

    async def _solve(self, specs: Sequence[str], vps: Sequence[VirtualPackage]) -> list[RepoDataRecord]:
        from rattler import solve

        return await solve(
            self._channels,
            list(specs),
            gateway=self._gateway,
            platforms=self._subdirs,
            virtual_packages=_to_rattler(vps),
            timeout=timedelta(seconds=self.settings.timeout_s),
        )

    def solve_records(self, specs: Sequence[str], vps: Sequence[VirtualPackage]) -> list[RepoDataRecord]:
        """Bare solve: py-rattler records, or py-rattler's exception."""
        return list(_run(self._solve(specs, vps)))

    def solve(
        self, specs: Sequence[str], vps: Sequence[VirtualPackage], *, node: NodeFacts | None = None
    ) -> CondaSolution:
        """Solve `specs` for these virtual packages. Unsatisfiable -> a solution with RS10x error diagnostics.

        Raises `InputError` (RS105) when a channel cannot be read, (RS106) for a spec that is not a MatchSpec.
        """
        translated: list[str] = []
        notes: list[Diagnostic] = []
        for s in specs:
            fixed, note = translate_matchspec(s)
            translated.append(fixed)
            if note is not None:
                notes.append(note)
        for url in self.channel_urls:
            if has_credentials(url):
                notes.append(make("LK105", f"channel credentials kept out of the lock: {redact_url(url)}"))
        label = node.label if node is not None else None
        shown_channels = tuple(redact_url(u) for u in self.channel_urls)
        base = {"specs": tuple(translated), "channels": shown_channels, "virtual_packages": tuple(vps)}
        if not translated:
            return CondaSolution(**base, diagnostics=tuple(notes))
        t0 = time.perf_counter()
        try:
            records = self.solve_records(translated, vps)
        except Exception as exc:
            kind = type(exc).__name__
            if kind == "SolverError":
                msg = str(exc)
                diags = self._explain_unsat(msg, translated, vps, node)
                return CondaSolution(**base, diagnostics=tuple(notes + [d.with_node(label) for d in diags]))
            if kind in {"GatewayError", "FetchRepoDataError", "InvalidChannelError", "CacheDirError", "IoError"}:
                hint = (
                    "run once without --offline to fill the repodata cache, or use a file:// channel"
                    if self.settings.offline
                    else "check the channel name, the channel alias / mirror setting and the network"
                )
                raise InputError(
                    make(
                        "RS105",
                        f"cannot read conda channel repodata: {redact_url(str(exc).splitlines()[0])}",
                        evidence=[redact_url(line) for line in str(exc).splitlines()[1:4]],
                        hint=hint,
                    )
                ) from None
            raise
        packages = tuple(sorted((self._package(r) for r in records), key=lambda p: (p.name, p.subdir)))
        python = next((p.version for p in packages if p.name == "python"), None)
        return CondaSolution(
            **base,
            packages=packages,
            python=python,
            diagnostics=tuple(notes),
            seconds=time.perf_counter() - t0,
        )

    # ------------------------------------------------------------------ unsat explanations

    def _solves(self, specs: Sequence[str], vps: Sequence[VirtualPackage]) -> bool:
        try:
            self.solve_records(specs, vps)
        except Exception:
            return False
        return True

    def _explain_unsat(
        self, message: str, specs: Sequence[str], vps: Sequence[VirtualPackage], node: NodeFacts | None
    ) -> list[Diagnostic]:
        text = _solver_text(message)
        if "timed out" in message.lower() or "timeout" in message.lower():
            return [make("RS108", f"conda solver timed out after {self.settings.timeout_s:.0f} s", evidence=[text])]
        have = {vp.name: vp for vp in vps}
        mentioned = sorted(set(re.findall(r"(__[a-z][a-z0-9_]*)", text)))
        for name in mentioned:
            found = self._smallest_unblocking(name, specs, vps, text)
            if found is None:
                continue
            current = have.get(name)
            now = f"{name} {current.version}" if current else f"no {name}"
            return [_blocking_diagnostic(name, now, found, text, node)]
        first = text.splitlines()[0] if text else message
        return [
            make(
                "RS101",
                f"conda dependencies have no solution: {first}",
                subject=", ".join(specs),
                evidence=[Evidence(fact=line, source="py-rattler solver") for line in text.splitlines()[:12]],
                hint="check versions against the channels, or add the channel that has them",
            )
        ]

    def _smallest_unblocking(
        self, name: str, specs: Sequence[str], vps: Sequence[VirtualPackage], text: str
    ) -> str | None:
        """The lowest version of virtual package `name` for which the specs solve (others unchanged)."""
        current = next((vp for vp in vps if vp.name == name), None)
        ladder = _ladder(name, text, current.version if current else None)
        others = [vp for vp in vps if vp.name != name]
        build = current.build if current else ("x86_64" if name == "__archspec" else "0")
        for version in ladder:
            if self._solves(specs, [*others, VirtualPackage(name=name, version=version, build=build)]):
                return version
        return None


# Real release levels to try when searching for the smallest virtual-package change. They are release
# numbers, not compatibility claims: each candidate is checked by actually solving.
_LADDERS: Mapping[str, tuple[str, ...]] = {
    "__cuda": ("10.2", "11.0", "11.2", "11.4", "11.8", "12.0", "12.2", "12.4", "12.6", "12.8", "12.9", "13.0", "13.1"),
    "__glibc": ("2.17", "2.24", "2.26", "2.28", "2.31", "2.34", "2.35", "2.36", "2.39", "2.41"),
    "__linux": ("3.10", "4.4", "4.18", "5.4", "5.15", "6.1", "6.8"),
    "__cuda_arch": ("5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0"),
    "__unix": ("0",),
    "__archspec": ("1",),
}


def _ladder(name: str, text: str, current: str | None) -> list[str]:
    from packaging.version import InvalidVersion, Version

    found = set(_LADDERS.get(name, ()))
    for m in re.finditer(re.escape(name) + r"\s*(?:>=|==|>|=)?\s*([0-9][0-9.]*)", text):
        v = m.group(1).rstrip(".")
        if not any(_vkey(v) == _vkey(x) for x in found):
            found.add(v)
    versions: list[str] = []
    for v in found:
        try:
            if current is None or Version(v) > Version(current) or name in {"__unix", "__archspec"}:
                versions.append(v)
        except InvalidVersion:
            continue
    return sorted(versions, key=lambda v: _vkey(v))


def _solver_text(message: str) -> str:
    lines = [ln.rstrip() for ln in message.splitlines() if ln.strip()]
    if lines and lines[0].startswith("Cannot solve the request because of:"):
        head = lines[0][len("Cannot solve the request because of:") :].strip()
        lines = ([head] if head else []) + lines[1:]
    return "\n".join(lines)


def _blocking_diagnostic(name: str, now: str, needed: str, text: str, node: NodeFacts | None) -> Diagnostic:
    label = node.label if node is not None else "the node"
    evidence = [Evidence(fact=line, source="py-rattler solver") for line in text.splitlines()[:8]]
    evidence.insert(0, Evidence(fact=f"{label}: {now}", source=(node.source if node else None) or "node facts"))
    if name == "__cuda":
        found = _driver_for_cuda(needed)
        cur_driver = node.driver.version if node is not None and node.driver else None
        fix = f"a driver with CUDA >= {needed}" + (f" (NVIDIA driver >= {found[0]})" if found else "")
        if found:
            evidence.append(Evidence(fact=f"CUDA {needed} needs driver >= {found[0]}", source=found[1]))
        msg = f"conda packages need {name} >= {needed}, but {label} has {now}" + (
            f" (driver {cur_driver})" if cur_driver else ""
        )
        return make(
            "RS102",
            msg,
            subject=name,
            evidence=evidence,
            hint=f"smallest change: {fix}; or pin an older CUDA build (cuda-version) or a CPU build",
        )
    if name == "__glibc":
        return make(
            "RS103",
            f"conda packages need {name} >= {needed}, but {label} has {now}",
            subject=name,
            evidence=evidence,
            hint=f"smallest change: an OS with glibc >= {needed}, or an older release built for the older glibc",
        )
    return make(
        "RS104",
        f"conda packages need {name} >= {needed}, but {label} has {now}",
        subject=name,
        evidence=evidence,
        hint=f"smallest change: a node offering {name} >= {needed}",
    )


def _driver_for_cuda(cuda: str) -> tuple[str, str] | None:
    """(minimum driver, citation) for a CUDA level, from MATRIX's sourced driver table."""
    from envresolve.matrices import cuda_min_driver

    try:
        found = cuda_min_driver(cuda)
    except (EnvresolveError, KeyError, ValueError, LookupError):
        return None
    if found is None:
        return None
    return str(found.row.min_driver), found.citation
