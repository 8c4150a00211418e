"""lint's view for the judge: the packages a spec pins (and what unpinned torch resolves to by the matrices), as
`compat.Package`s, judged by the same rules as lock and check (`compat.evaluate`).

A finding on a package the spec does not pin exactly (torch taken as the newest matrix release a specifier
allows) rests on a guess: it is lowered to a warning and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve import matrices as mx
from envresolve.compat import RULES, Environment, Package, evaluate
from envresolve.compat.common import pkg_label
from envresolve.diagnostics import Diagnostic, Evidence, Location, Severity
from envresolve.node.facts import NodeFacts

if TYPE_CHECKING:
    from envresolve.binary.model import ArtifactReport
    from envresolve.specs.claims import CudaClaim
    from envresolve.specs.model import EnvSpec

__all__ = ["JudgedPackage", "judge_spec", "spec_environment"]

_PY = re.compile(r"(?:==)?(?P<maj>[0-9]+)\.(?P<min>[0-9]+)(?P<rest>(?:\.[0-9]+)?)(?:\.\*)?")
_NO_NODE = NodeFacts()
#: every rule of the judge but two: the extension rule (CP200-CP202) reaches lint through `specs.extensions`, which
#: also reads wheels given by URL; and what resolved packages need of facts a node leaves unknown (RS130-RS133) is
#: a note for lock and check, not a finding about what a spec pins
_LINT_RULES = {name: rule for name, rule in RULES.items() if name not in ("extensions", "unknown-facts")}


@dataclass(frozen=True)
class JudgedPackage:
    """A package as the judge sees it, where the spec declares it, and why its version is assumed (if it is)."""

    package: Package
    location: Location | None
    assumed: Evidence | None = None


def _python(spec: EnvSpec) -> str | None:
    m = _PY.fullmatch((spec.python or "").strip())
    return f"{m['maj']}.{m['min']}{m['rest']}" if m else None


def _newest_torch(specifier: str, cuda: str | None, python: str | None) -> tuple[str, int] | None:
    """The newest torch release in the matrix (its latest patch) that the specifier allows, with a build for
    `cuda` (any, when None) and wheels for `python` (any, when None): what pip picks when torch is not pinned;
    and how many matrix releases the specifier allows (1: the release is not a guess)."""
    try:
        allowed = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    py_mm = ".".join(python.split(".")[:2]) if python else None
    count = 0
    best: Version | None = None
    for row in mx.pytorch_matrix().rows:
        if cuda is not None and not any(v.cuda == cuda for v in row.variants):
            continue
        if py_mm is not None and py_mm not in row.python:
            continue
        patch = Version(row.latest_patch)
        if patch in allowed:
            count += 1
            if best is None or patch > best:
                best = patch
    return (str(best), count) if best else None


class WheelFactsLookup(Protocol):
    """How lint reads wheels: their binary facts, and the wheels a find-links page on a server links to."""

    def __call__(self, name: str, version: str, url: str) -> ArtifactReport | None:
        """The binary facts of the wheel at `url` (a project's `version`), or None when they are not known."""

    def page_wheels(self, url: str) -> list[str]:
        """The wheel URLs a find-links page links to ([] when it cannot be read, or offline and not cached)."""


def spec_environment(
    spec: EnvSpec,
    claims: list[CudaClaim],
    conda_version: dict[str, str],
    wheel_facts: WheelFactsLookup | None = None,
) -> list[JudgedPackage]:
    """The packages the spec pins, as the judge's `Package`s.

    `conda_version` maps a conda dependency name to the single version it pins (lint reads MatchSpecs once);
    `claims` are the CUDA claims lint read (a `cuXYZ` index gives torch its local variant). `wheel_facts` reads
    the binary facts of a wheel the spec names by URL, or of the one wheel of an `==` pin in a find-links
    directory; such a wheel is judged when its facts are known."""
    out: list[JudgedPackage] = []
    for dep in spec.conda:
        version = conda_version.get(dep.name)
        if version is None or dep.name == "python":
            continue
        out.append(JudgedPackage(Package(name=dep.name, version=version, ecosystem="conda"), dep.location))
    index_cuda = {
        c.package: c.cuda
        for c in claims
        if c.ecosystem == "pypi" and c.kind == "framework" and c.evidence and c.evidence.fact.startswith("the index ")
    }
    python = _python(spec)
    links = _find_links(spec, wheel_facts) if wheel_facts is not None else []
    for req in spec.pip:
        if req.url and wheel_facts is not None and req.name and not req.constraint:
            url_package = _url_wheel(req.name, req.url, wheel_facts)
            if url_package is not None:
                out.append(JudgedPackage(url_package, req.location))
            continue
        if req.constraint or not req.name or req.url:
            continue
        name = str(canonicalize_name(req.name))
        m = re.fullmatch(r"===?(?P<v>[^,;\s]+)", req.specifier.strip())
        assumed: Evidence | None = None
        if m and wheel_facts is not None and links:
            linked = _find_links_wheel(name, m["v"], links, python)
            if linked is not None:
                linked_package = _url_wheel(name, linked, wheel_facts)
                if linked_package is not None:
                    out.append(JudgedPackage(linked_package, req.location))
                    continue
        if m:
            version = m["v"]
        elif name == "torch":
            cuda = index_cuda.get(req.name)
            newest = _newest_torch(req.specifier, cuda, python)
            if newest is None:
                continue
            version, releases = newest
            where = f"a CUDA {cuda} build" if cuda else "wheels"
            if releases > 1:  # one release allowed: its row decides, whichever patch pip takes
                assumed = Evidence(
                    fact=f"torch is not pinned: pip takes the newest release with {where}"
                    f"{' matching ' + req.specifier if req.specifier else ''}, torch {version} in the matrices",
                    unsure=True,
                )
        else:
            continue
        cuda = index_cuda.get(req.name)
        if name == "torch" and cuda and "+" not in version:
            version = f"{version}+cu{cuda.replace('.', '')}"
        try:
            Version(version)
        except InvalidVersion:
            continue
        out.append(JudgedPackage(Package.pypi(name, version), req.location, assumed))
    return out


def _find_links(spec: EnvSpec, wheel_facts: WheelFactsLookup) -> list[tuple[str, str]]:
    """(file name, URL) of every wheel the spec's find-links locations offer: the files of a directory here
    (a relative one from the spec's directory), the links of a page on a server (read through `wheel_facts`)."""
    from urllib.parse import unquote, urlsplit

    out: list[tuple[str, str]] = []
    for idx in spec.indexes:
        if idx.kind != "find-links":
            continue
        loc = idx.url.get_secret_value()
        parts = urlsplit(loc)
        if parts.scheme in ("http", "https"):
            out += [(unquote(urlsplit(u).path.rsplit("/", 1)[-1]), u) for u in wheel_facts.page_wheels(loc)]
            continue
        path = Path(unquote(parts.path) if parts.scheme == "file" else loc).expanduser()
        if not path.is_absolute():
            path = Path(spec.source).resolve().parent / path
        try:
            out += [(p.name, p.as_uri()) for p in sorted(path.iterdir()) if p.name.endswith(".whl") and p.is_file()]
        except OSError:
            continue
    return out


def _find_links_wheel(name: str, version: str, links: list[tuple[str, str]], python: str | None) -> str | None:
    """The URL of the one Linux wheel of `name==version` with compiled code the find-links locations offer (for the
    spec's Python when there are several); None when there is none, or no single one to choose."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    prefix = name.replace("-", "_") + "-"
    found: list[tuple[str, frozenset[str]]] = []
    for filename, url in links:
        if not filename.lower().startswith(prefix):
            continue
        try:
            wname, wversion, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        plats = frozenset(t.platform for t in tags)
        linux = any(p.startswith(("manylinux", "musllinux", "linux_")) for p in plats)
        if wname == name and str(wversion) == str(Version(version)) and linux:  # nodes run Linux
            found.append((url, frozenset(t.interpreter for t in tags)))
    if python is not None and len(found) > 1:
        want = "cp" + "".join(python.split(".")[:2])
        found = [(url, interp) for url, interp in found if want in interp]
    return found[0][0] if len(found) == 1 else None


def _url_wheel(name: str, url: str, wheel_facts: WheelFactsLookup) -> Package | None:
    from urllib.parse import unquote, urlsplit

    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if not filename.endswith(".whl"):
        return None
    try:
        version = str(parse_wheel_filename(filename)[1])
    except InvalidWheelFilename:
        return None
    report = wheel_facts(str(canonicalize_name(name)), version, url)
    if report is None:
        return None
    return Package.pypi(str(canonicalize_name(name)), version, url=url, binary=report)


#: (node identity, packages, python) -> (node, findings): fleets of manifests repeat the same pins, and the judge
#: is pure, so each distinct question is asked once per node (the node is kept so its id stays unique)
_MEMO: dict[tuple[int, tuple[Package, ...], str | None, frozenset[str]], tuple[NodeFacts, list[Diagnostic]]] = {}
_MEMO_MAX = 4096


def _evaluate(
    packages: tuple[Package, ...], python: str | None, node: NodeFacts, without: frozenset[str]
) -> list[Diagnostic]:
    key = (id(node), packages, python, without)
    if any(p.binary is not None for p in packages):  # binary facts (a URL wheel) are not hashable: no memo
        rules = {name: rule for name, rule in _LINT_RULES.items() if name not in without}
        return evaluate(Environment(packages=packages, python=python), node, rules=rules)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is node:
        return hit[1]
    rules = {name: rule for name, rule in _LINT_RULES.items() if name not in without}
    found = evaluate(Environment(packages=packages, python=python), node, rules=rules)
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[key] = (node, found)
    return found


def judge_spec(
    packages: list[JudgedPackage], python: str | None, node: NodeFacts | None, *, without: frozenset[str] = frozenset()
) -> list[Diagnostic]:
    """The judge's findings on the packages (node-independent rules only, without a node), each placed at the
    line that declares its subject."""
    if not packages:
        return []
    diags = _evaluate(tuple(p.package for p in packages), python, node or _NO_NODE, without)
    where = {p.package.name: p.location for p in packages}
    guessed = [(pkg_label(p.package), p.assumed) for p in packages if p.assumed is not None]
    out: list[Diagnostic] = []
    for d in diags:
        update: dict[str, object] = {}
        loc = where.get(d.subject or "")
        if loc is None and d.subject is None:  # an environment-wide finding: at the last package it names
            named = [p.location for p in packages if p.location is not None and p.package.name in d.message]
            loc = named[-1] if named else None
        if loc is not None and d.location is None:
            update["location"] = loc
        for label, why in guessed:
            if why is not None and (label in d.message or any(label in e.fact for e in d.evidence)):
                update["evidence"] = (*d.evidence, why)
                if d.severity is Severity.ERROR:
                    update["severity"] = Severity.WARNING
                if not d.message.startswith("unsure: "):
                    update["message"] = f"unsure: {d.message}"
        out.append(d.model_copy(update=update) if update else d)
    return out
