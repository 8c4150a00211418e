"""conda `environment.yml` files (standalone, or embedded in a Dataset manifest)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envresolve._redact import has_credentials, redact_url
from envresolve.diagnostics import Diagnostic, Location, make
from envresolve.errors import InputError
from envresolve.specs._locate import Locator, plain_locator
from envresolve.specs._yaml import YNode, compose_documents
from envresolve.specs.conda import parse_conda_dependency
from envresolve.specs.model import Channel, CondaDependency, EnvSpec, IndexUrl, PipRequirement
from envresolve.specs.requirements import ParsedRequirements, RequirementsParser

__all__ = ["CondaEnvParts", "load_environment_yml", "parse_environment_text", "python_from_conda"]

_KNOWN_KEYS = {"name", "channels", "dependencies", "prefix", "variables", "default_threads", "channel_priority"}


@dataclass
class CondaEnvParts:
    """What an environment.yml declares, before any tool rewrites it."""

    name: str | None = None
    prefix: str | None = None
    has_channels: bool = False
    channels: list[Channel] = field(default_factory=list)
    conda: list[CondaDependency] = field(default_factory=list)
    pip: list[PipRequirement] = field(default_factory=list)
    indexes: list[IndexUrl] = field(default_factory=list)
    no_index: bool = False
    diagnostics: list[Diagnostic] = field(default_factory=list)
    location: Location | None = None
    #: raw dependency strings as written, with their locations (the BaizeAI loader filters on these)
    raw_deps: list[tuple[str, Location]] = field(default_factory=list)


def _relocate(diag: Diagnostic, locate: Locator) -> Diagnostic:
    loc = diag.location
    if loc is None or loc.line is None:
        return diag
    return diag.model_copy(update={"location": locate(loc.line, loc.column or 1)})


def parse_environment_text(
    text: str,
    *,
    file: str,
    base_dir: Path | None,
    locate: Locator | None = None,
    embedded: bool = False,
    env: Mapping[str, str] | None = None,
    allow_outside_includes: bool = False,
) -> CondaEnvParts:
    """Parse environment.yml text. Raises `InputError` for YAML that does not parse (SP104/SP105).

    `-r`/`-c` includes in the pip section must stay inside `base_dir` unless `allow_outside_includes` (SP160).
    """
    loc = locate or plain_locator(file)
    try:
        docs, dup_warnings = compose_documents(text, file)
    except InputError as exc:
        raise InputError([_relocate(d, loc) for d in exc.diagnostics]) from None
    parts = CondaEnvParts(diagnostics=[_relocate(d, loc) for d in dup_warnings])
    real = [d for d in docs if d is not None]
    if not real:
        parts.diagnostics.append(make("SP112", "the environment file is empty", subject=file, location=loc(1, 1)))
        return parts
    root = real[0]

    def at(node: YNode) -> Location:
        return loc(node.line + 1, node.column + 1)

    parts.location = at(root)
    if not root.is_map:
        raise InputError(
            make("SP110", "an environment file must be a mapping of keys", subject=file, location=at(root))
        )
    for key, _value in root.pairs:
        if key.is_scalar and key.value not in _KNOWN_KEYS:
            parts.diagnostics.append(
                make("SP111", f"unknown key {key.value!r} in an environment file", subject=key.value, location=at(key))
            )
    name = root.get("name")
    if name is not None and name.is_scalar:
        parts.name = name.value
    prefix = root.get("prefix")
    if prefix is not None and prefix.is_scalar:
        parts.prefix = prefix.value
    channels = root.get("channels")
    if channels is not None:
        parts.has_channels = True
        if channels.is_seq:
            for ch in channels.items:
                if not ch.is_scalar:
                    parts.diagnostics.append(make("SP110", "a channel must be a string", location=at(ch)))
                    continue
                parts.channels.append(_channel(ch.value, at(ch), parts.diagnostics))
        elif not (channels.is_scalar and channels.value in ("", "~", "null")):
            parts.diagnostics.append(
                make("SP110", "`channels` must be a list", subject="channels", location=at(channels))
            )
    deps = root.get("dependencies")
    if deps is None or (deps.is_scalar and deps.tag.endswith(":null")):
        return parts
    if not deps.is_seq:
        parts.diagnostics.append(
            make("SP110", "`dependencies` must be a list", subject="dependencies", location=at(deps))
        )
        return parts
    parser = RequirementsParser(env=env, embedded=embedded, allow_outside_includes=allow_outside_includes)
    seen: dict[str, CondaDependency] = {}
    for item in deps.items:
        where = at(item)
        if item.is_scalar:
            if item.tag != "tag:yaml.org,2002:str":
                parts.diagnostics.append(
                    make(
                        "SP110",
                        f"dependency {item.value!r} is not a string (YAML read it as {item.tag.rsplit(':', 1)[-1]})",
                        subject=item.value,
                        location=where,
                        hint="quote it",
                    )
                )
                continue
            parts.raw_deps.append((item.value, where))
            dep, diags = parse_conda_dependency(item.value, where)
            parts.diagnostics += diags
            if dep is None:
                continue
            _credentials_in_conda(item.value, where, parts.diagnostics)
            prev = seen.get(dep.name)
            if prev is not None and prev.spec != dep.spec and prev.spec != prev.name and dep.spec != dep.name:
                parts.diagnostics.append(
                    make(
                        "SP126",
                        f"{dep.name} is listed twice: {prev.raw!r} and {dep.raw!r}",
                        subject=dep.name,
                        location=where,
                    )
                )
            seen[dep.name] = dep
            parts.conda.append(dep)
        elif item.is_map and item.get("pip") is not None and len(item.pairs) == 1:
            pip_node = item.get("pip")
            assert pip_node is not None
            if not pip_node.is_seq:
                parts.diagnostics.append(make("SP110", "the `pip:` section must be a list", location=at(pip_node)))
                continue
            for entry in pip_node.items:
                if not entry.is_scalar:
                    parts.diagnostics.append(make("SP110", "a pip entry must be a string", location=at(entry)))
                    continue
                res: ParsedRequirements = parser.parse_line(entry.value, at(entry), base_dir=base_dir, file=file)
                parts.pip += res.pip
                parts.indexes += res.indexes
                parts.no_index = parts.no_index or res.no_index
                parts.diagnostics += res.diagnostics
        else:
            parts.diagnostics.append(make("SP110", "a dependency must be a string or a `pip:` list", location=where))
    return parts


def _channel(value: str, where: Location, diags: list[Diagnostic]) -> Channel:
    if "://" in value and has_credentials(value):
        diags.append(
            make(
                "SP220",
                f"channel URL carries credentials: {redact_url(value)}",
                subject=redact_url(value),
                location=where,
                hint="use conda's token handling (`conda token set`) or a .netrc instead",
            )
        )
    if value.startswith("http://"):
        diags.append(
            make("SP221", f"channel is plain http: {redact_url(value)}", subject=redact_url(value), location=where)
        )
    return Channel(name=redact_url(value) if "://" in value else value, location=where)


def _credentials_in_conda(raw: str, where: Location, diags: list[Diagnostic]) -> None:
    if "://" in raw:
        url = raw.split("::", 1)[0] if "::" in raw else raw
        if has_credentials(url):
            diags.append(
                make(
                    "SP220",
                    f"dependency URL carries credentials: {redact_url(url)}",
                    subject=redact_url(url),
                    location=where,
                )
            )


def python_from_conda(deps: list[CondaDependency]) -> str | None:
    """The Python version constraint the conda dependencies state ('3.8.5', '>=3.8'), if any."""
    for dep in deps:
        if dep.name != "python":
            continue
        parts = dep.spec.split()
        if len(parts) < 2:
            continue
        ver = parts[1]
        if ver.startswith("==") and "*" not in ver:
            return ver[2:]
        if ver.endswith(".*") and not any(c in ver for c in "<>=!,|"):
            return ver[:-2]
        return ver
    return None


def load_environment_yml(
    path: Path, text: str, *, env: Mapping[str, str] | None = None, allow_outside_includes: bool = False
) -> list[EnvSpec]:
    """A standalone environment.yml as one `EnvSpec`."""
    parts = parse_environment_text(
        text, file=str(path), base_dir=path.parent, env=env, allow_outside_includes=allow_outside_includes
    )
    diags = list(parts.diagnostics)
    if not parts.conda and not parts.pip and not any(d.code == "SP112" for d in diags):
        diags.append(
            make("SP112", "the environment declares no dependencies", subject=str(path), location=parts.location)
        )
    return [
        EnvSpec(
            name=parts.name,
            source=str(path),
            format="environment-yml",
            channels=tuple(parts.channels),
            conda=tuple(parts.conda),
            pip=tuple(parts.pip),
            indexes=tuple(parts.indexes),
            no_index=parts.no_index,
            python=python_from_conda(parts.conda),
            diagnostics=tuple(diags),
            location=parts.location,
        )
    ]
