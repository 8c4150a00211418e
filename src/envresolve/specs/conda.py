"""conda dependency strings -> py-rattler MatchSpecs.

py-rattler's strict parser rejects some forms conda itself accepts: the exact pin `pkg 1.2.3`, the
`pkg=1.2.3=build` triple and `pkg=1.2.*`. We translate them with conda's meaning and then require the
strict parser to accept the result, so `CondaDependency.spec` is always a string py-rattler accepts.

>>> translate_conda_spec("pytorch 1.11.0")
'pytorch ==1.11.0'
>>> translate_conda_spec("python=3.10.14=hb885b13_0")
'python ==3.10.14 hb885b13_0'
>>> translate_conda_spec("pytorch::pytorch-cuda=11.8")
'pytorch::pytorch-cuda 11.8.*'

conda build strings may hold dots (`py3.9_cpu_0`), which py-rattler 0.28's strict parser refuses in the
positional build slot; such a build is written in the bracket form, which it accepts:

>>> translate_conda_spec("pytorch=1.12.1=py3.9_cpu_0")
'pytorch ==1.12.1 [build="py3.9_cpu_0"]'
"""

from __future__ import annotations

import contextlib
import functools
import re
from typing import TYPE_CHECKING

from envresolve._redact import redact_text, redact_url
from envresolve.diagnostics import Diagnostic, Location, make
from envresolve.limits import EXCERPT_CHARS
from envresolve.specs.model import CondaDependency

if TYPE_CHECKING:
    from rattler import MatchSpec

__all__ = ["parse_conda_dependency", "translate_conda_spec"]

# name=version=build, name=version*, name version build (conda's historic positional forms)
_TRIPLE = re.compile(r"^(?P<head>(?:[^\s:]+::)?[A-Za-z0-9_.\-]+)=(?P<ver>[^=\s\[]+)=(?P<build>[^=\s\[]+)$")
_SPACED = re.compile(r"^(?P<head>(?:[^\s:]+::)?[A-Za-z0-9_.\-]+)\s+(?P<ver>[^\s\[]+)(?:\s+(?P<build>[^\s\[]+))?$")
_EQ_STAR = re.compile(r"^(?P<head>(?:[^\s:]+::)?[A-Za-z0-9_.\-]+)\s*=(?P<ver>[0-9][^=\s\[,|]*\.\*)$")
_HAS_OP = re.compile(r"^(==|!=|>=|<=|>|<|~=|=)")


def _strict(spec: str) -> MatchSpec:
    from rattler import MatchSpec  # py-rattler loads only where a conda spec is read

    return MatchSpec(spec, strict=True)


def _bracket_build(spec: str) -> str | None:
    """`name version build` -> `name version [build="build"]` (strict py-rattler reads dots only there)."""
    parts = spec.split()
    if len(parts) != 3 or "[" in spec or '"' in spec:
        return None
    head, ver, build = parts
    return f'{head} {ver} [build="{build}"]'


def translate_conda_spec(raw: str) -> str:
    """A MatchSpec string py-rattler's strict parser accepts, with conda's meaning. Raises ValueError."""
    from rattler import MatchSpec
    from rattler.exceptions import InvalidMatchSpecError

    text = raw.strip()
    if not text:
        raise ValueError("empty conda spec")
    try:
        return str(_strict(text))
    except InvalidMatchSpecError as exc:
        first_error = str(exc)
    candidates: list[str] = []
    m = _TRIPLE.match(text)
    if m:
        ver = m["ver"]
        candidates.append(f"{m['head']} {ver if _HAS_OP.match(ver) or '*' in ver else '==' + ver} {m['build']}")
    m = _EQ_STAR.match(text)
    if m:
        candidates.append(f"{m['head']} {m['ver']}")
    m = _SPACED.match(text)
    if m and not _HAS_OP.match(m["ver"]) and "*" not in m["ver"] and "," not in m["ver"] and "|" not in m["ver"]:
        tail = f" {m['build']}" if m["build"] else ""
        candidates.append(f"{m['head']} =={m['ver']}{tail}")
    # conda's lenient grammar as py-rattler implements it, then round-trip through the strict parser
    with contextlib.suppress(InvalidMatchSpecError):
        candidates.append(str(MatchSpec(text, strict=False)))
    for cand in candidates:
        try:
            ms = _strict(cand)
        except InvalidMatchSpecError:
            bracketed = _bracket_build(cand)
            if bracketed is None:
                continue
            try:
                ms = _strict(bracketed)
            except InvalidMatchSpecError:
                continue
            if ms.build is not None and not any(c.isspace() for c in ms.build):
                return bracketed
            continue
        if ms.build is not None and any(c.isspace() for c in ms.build):
            continue  # `foo bar baz qux` is not a spec, whatever a lenient reading makes of it
        return str(ms)
    raise ValueError(first_error)


def _name_of(ms: MatchSpec, spec: str) -> str:
    matcher = ms.name
    if matcher is not None:
        try:
            pkg = matcher.as_package_name()
            if pkg is not None:
                return str(pkg.normalized)
        except (AttributeError, TypeError, ValueError):
            pass
    head = spec.split()[0].split("[")[0]
    return head.split("::")[-1]


@functools.lru_cache(maxsize=8192)
def _parse_cached(raw: str) -> tuple[str, str, str | None] | str:
    """(masked spec, name, channel) of a conda spec string, or the parse error as a string. Cached."""
    try:
        spec = translate_conda_spec(raw)
        ms = _strict(spec)
    except ValueError as exc:
        return str(exc)
    name = _name_of(ms, spec)
    channel = None
    if ms.channel is not None:
        channel = redact_url(str(ms.channel.base_url)) if "://" in raw else str(ms.channel.name or ms.channel.base_url)
    if "://" in spec:
        spec = redact_text(spec)
    return spec, name.split("::")[-1], channel


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters: a diagnostic quotes a spec line (or the parser's words on it), never all of it."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_conda_dependency(
    raw: str, location: Location | None, *, added_by: str | None = None
) -> tuple[CondaDependency | None, list[Diagnostic]]:
    """One conda dependency; an SP120 diagnostic (and None) when it is not a valid spec."""
    shown = _excerpt(redact_url(raw) if "://" in raw else raw)
    parsed = _parse_cached(raw)
    if isinstance(parsed, str):
        return None, [
            make(
                "SP120",
                f"not a valid conda match spec: {shown!r} ({_excerpt(parsed, 3 * EXCERPT_CHARS)})",
                subject=shown,
                location=location,
                hint="conda specs look like `name`, `name=1.2`, `name >=1.2,<2`, `name 1.2.3 build`, `chan::name=1.2`",
            )
        ]
    spec, name, channel = parsed
    return (
        CondaDependency(
            name=name,
            spec=spec,
            raw=shown,
            channel=channel,
            location=location,
            added_by=added_by,
        ),
        [],
    )
