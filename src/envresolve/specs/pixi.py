"""pixi manifests: `pixi.toml`, and `[tool.pixi]` in `pyproject.toml`.

One `EnvSpec` per environment (the default one included) and, where the manifest differs per Linux platform
(targets, or platform entries with their own `cuda`/`glibc`), per Linux platform entry. The model covers
`[workspace]`/`[project]` channels and platforms (strings or inline tables with `name`, `platform`, `cuda`,
`glibc`), `[dependencies]`, `[pypi-dependencies]` (versions, extras, per-dependency `index`, git/url/path),
`[system-requirements]`, `[feature.*]`, `[environments]` and `[target.<selector>.*]` (platform names, named
platforms, globs and the `linux`/`unix`/`win`/`osx` families).

Python's `tomllib` reads TOML 1.0. pixi also writes TOML 1.1 (multi-line inline tables, trailing commas);
such files are normalised to TOML 1.0 before parsing and reported with an SP108 info.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from envresolve._input import LimitError, check_nesting
from envresolve._redact import has_credentials, redact_url
from envresolve.diagnostics import Diagnostic, Location, make
from envresolve.errors import InputError
from envresolve.specs.conda import parse_conda_dependency
from envresolve.specs.environment_yml import python_from_conda
from envresolve.specs.model import Channel, CondaDependency, EnvSpec, PipRequirement, SystemRequirements
from envresolve.specs.requirements import RequirementsParser

# tomllib from Python 3.11 on, its backport tomli before
tomllib: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")

__all__ = ["KNOWN_SUBDIRS", "load_pixi", "normalize_toml_1_1", "parse_toml"]

KNOWN_SUBDIRS = frozenset(
    {
        "noarch",
        "linux-32",
        "linux-64",
        "linux-aarch64",
        "linux-armv6l",
        "linux-armv7l",
        "linux-ppc64le",
        "linux-ppc64",
        "linux-s390x",
        "linux-riscv32",
        "linux-riscv64",
        "osx-64",
        "osx-arm64",
        "win-32",
        "win-64",
        "win-arm64",
        "emscripten-wasm32",
        "wasi-wasm32",
        "zos-z",
    }
)


# -- TOML -------------------------------------------------------------------------------------------------
def normalize_toml_1_1(text: str) -> str:
    """Rewrite TOML 1.1 inline tables (newlines, comments and trailing commas inside `{}`) as TOML 1.0.

    Line count is preserved: newlines inside an inline table move to just after its closing brace.
    """
    out: list[str] = []
    i, n = 0, len(text)
    depth = 0  # inline-table depth
    pending_newlines = 0
    bracket_stack: list[str] = []
    while i < n:
        c = text[i]
        if text.startswith('"""', i) or text.startswith("'''", i):
            q = text[i : i + 3]
            j = text.find(q, i + 3)
            j = n if j < 0 else j + 3
            while j < n and text[j] == q[0]:
                j += 1
            out.append(text[i:j])
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if (c == '"' and text[j] == "\\") else 1
            out.append(text[i : j + 1])
            i = j + 1
            continue
        if c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            if depth == 0:
                out.append(text[i:j])
            i = j
            continue
        if c in "{[":
            bracket_stack.append(c)
            if c == "{":
                depth += 1
        elif c in "}]":
            if bracket_stack:
                opened = bracket_stack.pop()
                if opened == "{":
                    depth -= 1
                    # drop a trailing comma before the closing brace
                    k = len(out) - 1
                    while k >= 0 and out[k].strip() == "":
                        k -= 1
                    if k >= 0 and out[k].rstrip().endswith(","):
                        out[k] = out[k].rstrip()[:-1]
                    out.append(c)
                    i += 1
                    continue
        elif c == "\n" and depth > 0:
            pending_newlines += 1
            out.append(" ")
            i += 1
            continue
        elif c == "\n" and pending_newlines:
            # the statement that held a multi-line inline table ends here: restore its lines after it
            out.append("\n" * (pending_newlines + 1))
            pending_newlines = 0
            i += 1
            continue
        out.append(c)
        i += 1
    if pending_newlines:
        out.append("\n" * pending_newlines)
    return "".join(out)


def parse_toml(text: str, file: str) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Parse TOML (1.0, or 1.1 normalised); raises `InputError` SP106 with line and column when it fails, GN108
    when arrays or inline tables nest deeper than `envresolve.limits.MAX_NESTING_DEPTH` (tomllib recurses)."""
    try:
        check_nesting(text, toml=True)
        return tomllib.loads(text), []
    except LimitError as exc:
        raise InputError(exc.diagnostic(file)) from None
    except RecursionError:  # dotted keys or headers the bracket scan does not count
        raise InputError(LimitError("GN108", "nesting too deep; not parsed").diagnostic(file)) from None
    except tomllib.TOMLDecodeError as exc:
        first = exc
    except ValueError:  # not a TOMLDecodeError: tomllib's int() of an integer past Python's digit limit
        raise InputError(_too_many_digits(file)) from None
    try:
        data = tomllib.loads(normalize_toml_1_1(text))
    except tomllib.TOMLDecodeError:
        data = None
    except RecursionError:
        raise InputError(LimitError("GN108", "nesting too deep; not parsed").diagnostic(file)) from None
    except ValueError:
        raise InputError(_too_many_digits(file)) from None
    if data is not None:
        line, col = _toml_pos(first)
        return data, [
            make(
                "SP108",
                "the file uses TOML 1.1 syntax (multi-line inline tables or trailing commas); "
                "TOML 1.0 parsers such as Python's tomllib reject it",
                subject=file,
                location=Location(file=file, line=line, column=col),
            )
        ]
    line, col = _toml_pos(first)
    msg = str(first).split(" (at ")[0]
    raise InputError(
        make("SP106", f"TOML syntax error: {msg}", subject=file, location=Location(file=file, line=line, column=col))
    )


def _too_many_digits(file: str) -> Diagnostic:
    return LimitError("GN109", "an integer with more digits than Python converts; not parsed").diagnostic(file)


def _toml_pos(exc: Exception) -> tuple[int | None, int | None]:
    line = getattr(exc, "lineno", None)
    col = getattr(exc, "colno", None)
    if line is None:
        m = re.search(r"line (\d+), column (\d+)", str(exc))
        if m:
            return int(m.group(1)), int(m.group(2))
    return line, col


class _KeyLines:
    """Line numbers of `key = value` lines and `[table]` headers in TOML text (first occurrence wins)."""

    _HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(
        r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*="""
    )

    def __init__(self, text: str, file: str, prefix: tuple[str, ...] = ()) -> None:
        self.file = file
        self.lines: dict[tuple[str, ...], tuple[int, int]] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            h = self._HEADER.match(line)
            if h and not self._KEY.match(line):
                table = self._split(h.group(1))
                if table[: len(prefix)] == prefix:
                    table = table[len(prefix) :]
                self.lines.setdefault(table, (number, line.index("[") + 1))
                continue
            k = self._KEY.match(line)
            if k:
                key = (*table, *self._split(k.group(1)))
                col = len(line) - len(line.lstrip()) + 1
                self.lines.setdefault(key, (number, col))

    @staticmethod
    def _split(dotted: str) -> tuple[str, ...]:
        parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', dotted)
        return tuple(a or b or c for a, b, c in parts)

    def at(self, *path: str) -> Location:
        for cut in range(len(path), 0, -1):
            hit = self.lines.get(tuple(path[:cut]))
            if hit:
                return Location(file=self.file, line=hit[0], column=hit[1])
        return Location(file=self.file, line=1, column=1)


# -- model ------------------------------------------------------------------------------------------------
@dataclass
class _Platform:
    name: str
    subdir: str
    cuda: str | None = None
    glibc: str | None = None


@dataclass
class _Feature:
    name: str
    path: tuple[str, ...]
    table: Mapping[str, Any]
    channels: list[Channel] = field(default_factory=list)


class _PixiReader:
    def __init__(self, path: Path, data: dict[str, Any], lines: _KeyLines, env: Mapping[str, str] | None) -> None:
        self.path = path
        self.file = str(path)
        self.data = data
        self.lines = lines
        self.env = env
        self.diags: list[Diagnostic] = []

    def table(self, obj: Any, *path: str) -> Mapping[str, Any]:
        if obj is None:
            return {}
        if isinstance(obj, Mapping):
            return obj
        self.diags.append(make("SP110", f"[{'.'.join(path)}] must be a table", location=self.lines.at(*path)))
        return {}

    def platforms(self, ws: Mapping[str, Any]) -> list[_Platform]:
        out: list[_Platform] = []
        raw = ws.get("platforms", [])
        if not isinstance(raw, list):
            self.diags.append(
                make("SP110", "`platforms` must be a list", location=self.lines.at("workspace", "platforms"))
            )
            return out
        for entry in raw:
            where = self.lines.at(self._ws_key(), "platforms")
            if isinstance(entry, str):
                p = _Platform(name=entry, subdir=entry)
            elif isinstance(entry, Mapping) and isinstance(entry.get("platform"), str):
                p = _Platform(
                    name=str(entry.get("name") or entry["platform"]),
                    subdir=str(entry["platform"]),
                    cuda=str(entry["cuda"]) if entry.get("cuda") is not None else None,
                    glibc=str(entry["glibc"]) if entry.get("glibc") is not None else None,
                )
            else:
                self.diags.append(make("SP110", f"platform entry {entry!r} has no `platform`", location=where))
                continue
            if p.subdir not in KNOWN_SUBDIRS:
                self.diags.append(
                    make("SP151", f"{p.subdir!r} is not a conda platform (subdir)", subject=p.subdir, location=where)
                )
            out.append(p)
        return out

    def _ws_key(self) -> str:
        return "workspace" if "workspace" in self.data else "project"

    def channels(self, raw: Any, *path: str) -> list[Channel]:
        out: list[Channel] = []
        if raw is None:
            return out
        if not isinstance(raw, list):
            self.diags.append(make("SP110", "`channels` must be a list", location=self.lines.at(*path)))
            return out
        where = self.lines.at(*path)
        for ch in raw:
            name = ch.get("channel") if isinstance(ch, Mapping) else ch
            if not isinstance(name, str):
                self.diags.append(make("SP110", f"channel {ch!r} is not a string", location=where))
                continue
            if "://" in name and has_credentials(name):
                self.diags.append(
                    make(
                        "SP220",
                        f"channel URL carries credentials: {redact_url(name)}",
                        subject=redact_url(name),
                        location=where,
                    )
                )
            if name.startswith("http://"):
                self.diags.append(make("SP221", f"channel is plain http: {redact_url(name)}", location=where))
            out.append(Channel(name=redact_url(name) if "://" in name else name, location=where))
        return out

    def conda_deps(self, raw: Any, *path: str) -> list[CondaDependency]:
        out: list[CondaDependency] = []
        for name, value in self.table(raw, *path).items():
            where = self.lines.at(*path, name)
            channel = build = None
            version: Any = value
            if isinstance(value, Mapping):
                version = value.get("version", "*")
                channel, build = value.get("channel"), value.get("build")
            if not isinstance(version, str):
                self.diags.append(
                    make("SP110", f"the version of {name} must be a string", subject=name, location=where)
                )
                continue
            text = name
            version = re.sub(r",\s+", ",", version.strip())
            if version and version != "*":
                text += f" {version}"
            if build:
                text += f" {build}" if version and version != "*" else f" * {build}"
            if isinstance(channel, str) and channel:
                text = f"{channel}::{text}"
            dep, diags = parse_conda_dependency(text, where)
            self.diags += diags
            if dep is not None:
                out.append(dep)
        return out

    def pypi_deps(self, raw: Any, *path: str) -> list[PipRequirement]:
        out: list[PipRequirement] = []
        parser = RequirementsParser(env=self.env)
        for name, value in self.table(raw, *path).items():
            where = self.lines.at(*path, name)
            index = None
            if isinstance(value, str):
                line = name if value.strip() in ("", "*") else f"{name}{value}"
            elif isinstance(value, Mapping):
                extras = value.get("extras") or []
                ex = f"[{','.join(map(str, extras))}]" if extras else ""
                if value.get("git"):
                    rev = value.get("rev") or value.get("tag") or value.get("branch")
                    url = f"git+{value['git']}" + (f"@{rev}" if rev else "")
                    line = f"{name}{ex} @ {url}"
                elif value.get("url"):
                    line = f"{name}{ex} @ {value['url']}"
                elif value.get("path"):
                    line = f"-e {value['path']}" if value.get("editable") else str(value["path"])
                else:
                    ver = str(value.get("version", "*")).strip()
                    line = f"{name}{ex}" + ("" if ver in ("", "*") else ver)
                if isinstance(value.get("index"), str):
                    index = value["index"]
            else:
                self.diags.append(make("SP110", f"pypi dependency {name} must be a string or a table", location=where))
                continue
            res = parser.parse_line(line, where, base_dir=self.path.parent, file=self.file)
            self.diags += res.diagnostics
            for req in res.pip:
                if index:
                    if has_credentials(index):
                        self.diags.append(
                            make(
                                "SP220",
                                f"index URL of {name} carries credentials: {redact_url(index)}",
                                subject=redact_url(index),
                                location=where,
                            )
                        )
                    req = req.model_copy(update={"index": redact_url(index)})
                out.append(req)
        return out

    def sysreq(self, raw: Any, *path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.table(raw, *path).items():
            if key in ("libc", "glibc") and isinstance(value, Mapping):
                value = value.get("version")
                key = "glibc"
            if key not in ("cuda", "glibc", "linux", "archspec", "macos", "libc"):
                self.diags.append(
                    make(
                        "SP111", f"unknown system requirement {key!r}", subject=key, location=self.lines.at(*path, key)
                    )
                )
                continue
            if value is not None:
                out["glibc" if key == "libc" else key] = str(value)
        return out


def _selector_matches(selector: str, platform: _Platform) -> bool:
    if selector in (platform.name, platform.subdir):
        return True
    if any(ch in selector for ch in "*?["):
        return fnmatch.fnmatchcase(platform.name, selector) or fnmatch.fnmatchcase(platform.subdir, selector)
    family = platform.subdir.split("-", 1)[0]
    return selector == family or (selector == "unix" and family in ("linux", "osx"))


def load_pixi(path: Path, text: str, *, env: Mapping[str, str] | None = None) -> list[EnvSpec]:
    """Every environment of a pixi manifest (or `[tool.pixi]` of a pyproject.toml) as `EnvSpec`s."""
    file = str(path)
    doc, notes = parse_toml(text, file)
    prefix: tuple[str, ...] = ()
    root: Mapping[str, Any] = doc
    pyproject: Mapping[str, Any] = {}
    if path.name == "pyproject.toml" or ("tool" in doc and "pixi" in doc.get("tool", {})):
        tool = doc.get("tool", {})
        root = tool.get("pixi", {}) if isinstance(tool, Mapping) else {}
        prefix = ("tool", "pixi")
        pyproject = doc.get("project", {}) if isinstance(doc.get("project"), Mapping) else {}
        if not root:
            raise InputError(
                make("SP107", f"{file} has no [tool.pixi] table", subject=file, location=Location(file=file))
            )
    lines = _KeyLines(text, file, prefix)
    r = _PixiReader(path, dict(root), lines, env)
    r.diags += notes
    ws_key = "workspace" if "workspace" in root else "project"
    ws = r.table(root.get(ws_key), ws_key)
    if not ws and not pyproject:
        r.diags.append(
            make("SP110", "a pixi manifest needs a [workspace] table", location=Location(file=file, line=1, column=1))
        )
    platforms = r.platforms(ws)
    channels = r.channels(ws.get("channels"), ws_key, "channels")
    ws_name = ws.get("name") or pyproject.get("name")

    features: dict[str, _Feature] = {"default": _Feature(name="default", path=(), table=root)}
    for fname, ftable in r.table(root.get("feature"), "feature").items():
        ft = r.table(ftable, "feature", fname)
        features[fname] = _Feature(
            name=fname,
            path=("feature", fname),
            table=ft,
            channels=r.channels(ft.get("channels"), "feature", fname, "channels"),
        )
    environments: dict[str, tuple[list[str], bool, Location]] = {"default": (["default"], False, lines.at(ws_key))}
    for ename, evalue in r.table(root.get("environments"), "environments").items():
        where = lines.at("environments", ename)
        if isinstance(evalue, list):
            feats, no_default = [str(f) for f in evalue], False
        elif isinstance(evalue, Mapping):
            feats = [str(f) for f in evalue.get("features", [])]
            no_default = bool(evalue.get("no-default-feature", False))
        else:
            r.diags.append(make("SP110", f"environment {ename!r} must be a list or a table", location=where))
            continue
        for f in feats:
            if f not in features:
                r.diags.append(
                    make("SP150", f"environment {ename!r} uses the undefined feature {f!r}", subject=f, location=where)
                )
        chosen = [f for f in feats if f in features]
        environments[ename] = (chosen if no_default else ["default", *chosen], no_default, where)

    linux = [p for p in platforms if p.subdir.startswith("linux-")]
    has_targets = any("target" in f.table for f in features.values())
    per_platform = linux and (has_targets or len({(p.cuda, p.glibc) for p in linux}) > 1)
    groups: list[list[_Platform]] = [[p] for p in linux] if per_platform else [platforms]
    shared_cuda = {p.cuda for p in linux}
    shared_glibc = {p.glibc for p in linux}

    specs: list[EnvSpec] = []
    for ename, (feats, _nd, ewhere) in environments.items():
        for group in groups:
            conda: list[CondaDependency] = []
            pip: list[PipRequirement] = []
            sysreq: dict[str, str] = {}
            chans = list(channels)
            for fname in feats:
                feat = features[fname]
                fp = feat.path
                conda += r.conda_deps(feat.table.get("dependencies"), *fp, "dependencies")
                pip += r.pypi_deps(feat.table.get("pypi-dependencies"), *fp, "pypi-dependencies")
                sysreq.update(r.sysreq(feat.table.get("system-requirements"), *fp, "system-requirements"))
                chans += [c for c in feat.channels if c.name not in {x.name for x in chans}]
                if len(group) == 1:
                    for sel, ttable in r.table(feat.table.get("target"), *fp, "target").items():
                        if not _selector_matches(sel, group[0]):
                            continue
                        tt = r.table(ttable, *fp, "target", sel)
                        conda += r.conda_deps(tt.get("dependencies"), *fp, "target", sel, "dependencies")
                        pip += r.pypi_deps(tt.get("pypi-dependencies"), *fp, "target", sel, "pypi-dependencies")
            if ename == "default" or "default" in feats:
                for dep in pyproject.get("dependencies", []) if isinstance(pyproject.get("dependencies"), list) else []:
                    res = RequirementsParser(env=env).parse_line(
                        str(dep),
                        Location(file=file, line=lines.at("project", "dependencies").line),
                        base_dir=path.parent,
                        file=file,
                    )
                    r.diags += res.diagnostics
                    pip += res.pip
            # platform inline tables state the driver's CUDA and glibc like [system-requirements] does
            cuda = group[0].cuda if len(group) == 1 else (next(iter(shared_cuda)) if len(shared_cuda) == 1 else None)
            glibc = (
                group[0].glibc if len(group) == 1 else (next(iter(shared_glibc)) if len(shared_glibc) == 1 else None)
            )
            if cuda:
                sysreq["cuda"] = cuda
            if glibc:
                sysreq["glibc"] = glibc
            python = python_from_conda(conda)
            if python is None and isinstance(pyproject.get("requires-python"), str):
                python = pyproject["requires-python"].replace(" ", "")
            origin = f"pixi environment {ename}" + (f", platform {group[0].name}" if per_platform else "")
            cpu_variant = bool(
                per_platform
                and not cuda
                and any(p.cuda for p in linux if p.subdir == group[0].subdir and p is not group[0])
            )
            specs.append(
                EnvSpec(
                    name=ename if ename != "default" else (str(ws_name) if ws_name else "default"),
                    source=file,
                    format="pixi",
                    channels=tuple(chans),
                    conda=tuple(conda),
                    pip=tuple(_dedupe(pip)),
                    python=python,
                    platforms=tuple(p.subdir for p in group) if per_platform else tuple(p.name for p in platforms),
                    system_requirements=SystemRequirements(
                        cuda=sysreq.get("cuda"),
                        glibc=sysreq.get("glibc"),
                        linux=sysreq.get("linux"),
                        archspec=sysreq.get("archspec"),
                    ),
                    pip_after_conda=False,
                    origin=origin,
                    cpu_variant=cpu_variant,
                    location=ewhere,
                )
            )
    # diagnostics belong to the file, not to each environment: attach them once
    unique: list[Diagnostic] = []
    for d in r.diags:
        if d not in unique:
            unique.append(d)
    if specs:
        specs[0] = specs[0].model_copy(update={"diagnostics": tuple(unique)})
    return specs


def _dedupe(reqs: list[PipRequirement]) -> list[PipRequirement]:
    seen: dict[str, PipRequirement] = {}
    for r in reqs:
        seen[str(canonicalize_name(r.name)) if r.name else r.requirement] = r  # later features override earlier
    return list(seen.values())
