"""`resolve_pip`: the pip side of a resolution, for one or more target nodes."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version
from resolvelib import Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from envresolve._redact import redact_url
from envresolve.compat.model import Environment
from envresolve.diagnostics import Diagnostic, Evidence, make, sort_diagnostics
from envresolve.errors import EnvresolveError, InputError
from envresolve.net import HttpClient, default_cache_dir
from envresolve.solve.pip import reuse
from envresolve.solve.pip.gpu import cached_binary_facts, default_filters
from envresolve.solve.pip.index import DistFile, PackageFinder
from envresolve.solve.pip.metadata import CoreMetadata, MetadataFetcher
from envresolve.solve.pip.model import CandidateInfo, PipPackage, PipResolution, Rejection
from envresolve.solve.pip.provider import Candidate, PipProvider, PipReporter, Req
from envresolve.solve.pip.tags import marker_environment, node_tags, target_glibc

if TYPE_CHECKING:
    from envresolve.binary.model import ArtifactReport
    from envresolve.node.facts import NodeFacts
    from envresolve.solve.pip.model import CandidateFilter
    from envresolve.specs.model import EnvSpec, PipRequirement

__all__ = ["PYPI_SIMPLE", "PipResolutionError", "indexes_from_spec", "resolve_pip"]

#: The default index (PEP 691/503 simple API of PyPI).
PYPI_SIMPLE = "https://pypi.org/simple/"


class PipResolutionError(EnvresolveError):
    """No pip resolution exists for the node(s) (exit status 1). `rejections` says what the nodes ruled out."""

    exit_status = 1

    def __init__(self, diagnostics: Sequence[Diagnostic], rejections: Sequence[Rejection] = ()) -> None:
        super().__init__(diagnostics)
        self.rejections: tuple[Rejection, ...] = tuple(rejections)


def indexes_from_spec(spec: EnvSpec) -> tuple[list[str], list[str]]:
    """(index URLs, find-links locations) of a spec, with their secrets, for `resolve_pip`.

    No `index-url` in the spec means PyPI; `extra-index-url`s are added after it; `--no-index` means none.
    """
    links = [i.url.get_secret_value() for i in spec.indexes if i.kind == "find-links"]
    if spec.no_index:
        return [], links
    primary = [i.url.get_secret_value() for i in spec.indexes if i.kind == "index-url"]
    extra = [i.url.get_secret_value() for i in spec.indexes if i.kind == "extra-index-url"]
    return (primary[-1:] or [PYPI_SIMPLE]) + extra, links


def resolve_pip(
    requirements: Sequence[PipRequirement | str],
    nodes: Sequence[NodeFacts],
    *,
    python: str,
    index_urls: Sequence[str] = (PYPI_SIMPLE,),
    find_links: Sequence[str] = (),
    installed: Mapping[str, str] | None = None,
    env: Environment | None = None,
    filters: Sequence[CandidateFilter] | None = None,
    binary_facts: Callable[[CandidateInfo], ArtifactReport | None] | Literal["cache", "read"] | None = "cache",
    inspect_budget: int | None = None,
    client: HttpClient | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    offline: bool = False,
    allow_prereleases: bool = False,
    max_rounds: int = 10000,
    verify_hashes: bool = False,
) -> PipResolution:
    """Resolve pip requirements to one wheel per package that every node in `nodes` can use.

    - `requirements`: PEP 508 strings or `PipRequirement`s from a spec (constraints limit, install nothing).
    - `python`: the interpreter version the conda solve (or the spec) fixed, e.g. '3.11.9' or '3.11'.
    - `index_urls` / `find_links`: simple-index roots and find-links locations (credentials allowed in
      the URLs; they never reach the result). Files of all indexes are merged, as pip does.
    - `installed`: canonical PyPI name -> version of the Python packages conda installed. They count as
      installed: only that version is offered, and a requirement it does not satisfy fails with RS301.
    - `env`: the conda environment for the filters (glibc/GLIBCXX of conda's libstdc++, the chosen CUDA).
    - `filters`: `CandidateFilter`s (default `gpu.default_filters()`: CUDA vs driver, binary facts).
    - `binary_facts`: looks up an `ArtifactReport` for a candidate (or None for that candidate); `"cache"`
      (the default) reads the inspection report cache under `cache_dir` (what `envresolve inspect` stored,
      keyed by the wheel's sha256); `"read"`: those, else each candidate wheel with compiled code is read by
      ranges within `inspect_budget` compressed bytes (`binary.budgeted`; cached facts only when `offline`);
      None: no binary facts at all.
    - `client` / `cache_dir` / `use_cache` / `offline`: the network layer; the HTTP and metadata cache
      lives in `cache_dir` (default: the user cache dir) unless `use_cache=False`.
    - `verify_hashes`: fetch every chosen wheel whose metadata was not read from the whole file, and check
      it against its sha256 and its metadata (RS403 on a mismatch).

    Returns the chosen wheels with sha256 and Requires-Dist, every rejection, and findings. Raises
    `PipResolutionError` (exit 1; RS201/RS202/RS203/RS301) when nothing works, naming the blocking fact and
    the smallest change; `InputError` for bad arguments or network failures (RS4xx).
    """
    nodes = list(nodes)
    tags = node_tags(nodes, python)
    markers = marker_environment(nodes[0], python)
    if cache_dir is None and use_cache:
        cache_dir = default_cache_dir()
    if not use_cache:
        cache_dir = None
    own_client = client is None
    client = client or HttpClient(cache_dir=cache_dir, offline=offline)
    installed = {canonicalize_name(k): v for k, v in (installed or {}).items()}
    env = env or Environment(python=python)
    roots, constraints = _requirements(requirements, markers)
    facts = _facts_callback(binary_facts, client, cache_dir, offline=offline, budget=inspect_budget)
    finder = PackageFinder(client, list(index_urls), list(find_links), tags=tags, cache_dir=cache_dir)
    fetcher = MetadataFetcher(client, cache_dir)
    reuse_key, reports = _reuse_key(
        requirements, nodes, python, index_urls, find_links, installed, env, filters, facts, cache_dir,
        offline=offline, verify_hashes=verify_hashes, allow_prereleases=allow_prereleases, max_rounds=max_rounds,
    )  # fmt: skip
    if reuse_key is not None and cache_dir is not None:
        hit = reuse.kept(cache_dir, reuse_key, reports)
        if hit is not None and _pages_unchanged(finder, hit):
            _close(facts, finder, client if own_client else None)
            return hit.result
    provider = PipProvider(
        finder=finder,
        fetcher=fetcher,
        tags=tags,
        markers=markers,
        python_full=markers["python_full_version"],
        nodes=nodes,
        env=env,
        installed=installed,
        constraints=constraints,
        filters=default_filters() if filters is None else list(filters),
        binary_facts=facts,
        allow_prereleases=allow_prereleases,
    )
    try:
        provider.prefetch(roots)
        finder.prefetch(finder.remembered(r.name for r in roots))
        reporter = PipReporter(provider, progress=client.progress)
        resolver: Resolver[Req, Candidate, str] = Resolver(provider, reporter)
        try:
            result = resolver.resolve(roots, max_rounds=max_rounds)
        except ResolutionImpossible as exc:
            raise PipResolutionError(
                _impossible(exc.causes, provider, nodes), _sorted(provider.rejections.values())
            ) from None
        except ResolutionTooDeep as exc:
            raise PipResolutionError(
                [
                    make(
                        "RS208",
                        f"the pip resolver gave up after {exc.round_count} rounds",
                        hint="add upper or exact bounds to the requirements",
                    )
                ],
                _sorted(provider.rejections.values()),
            ) from None
        packages = _packages(
            result,
            provider,
            client,
            verify=fetcher.verify if verify_hashes else None,
            fetched=_whole_files(facts, fetcher),
        )
        finder.remember(r.name for r in roots)
        rejections = _sorted(provider.rejections.values())
        kept = sorted((c.name, str(c.version)) for c in result.mapping.values() if c.installed and not c.extras)
        notes = tuple(getattr(facts, "notes", ()))
        diags = [*provider.findings, *(r.to_diagnostic() for r in rejections)]
        resolution = PipResolution(
            packages=tuple(packages),
            installed=tuple(kept),
            rejections=tuple(rejections),
            diagnostics=tuple(sort_diagnostics([*diags, *notes])),
            python=markers["python_full_version"],
            tags=tuple(str(t) for t in tags[:5]),
        )
        pages = dict(finder.digests)
        if reuse_key is not None and cache_dir is not None and not notes and "unknown" not in pages.values():
            # not when a wheel read failed (BN551): a second run would try it again, and may learn more
            reuse.keep(client, cache_dir, reuse_key, reports, pages, finder.fetched(), resolution)
    finally:
        provider.close()
        _close(facts, finder, client if own_client else None)
    return resolution


def _close(facts: object, finder: PackageFinder, client: HttpClient | None) -> None:
    close_facts = getattr(facts, "close", None)
    if close_facts is not None:
        close_facts()
    finder.close()
    if client is not None:
        client.close()  # prefetches still running write nothing more: no half-written cache file at exit


def _reuse_key(
    requirements: Sequence[PipRequirement | str],
    nodes: Sequence[NodeFacts],
    python: str,
    index_urls: Sequence[str],
    find_links: Sequence[str],
    installed: Mapping[str, str],
    env: Environment,
    filters: Sequence[CandidateFilter] | None,
    facts: object,
    cache_dir: Path | None,
    **options: object,
) -> tuple[str | None, Path | None]:
    """The key under which this resolution may be kept (`reuse`), and the cached binary facts it depends on;
    None when something it depends on cannot be keyed: custom filters or fact callbacks, find-links
    locations, hash verification, no cache."""
    from envresolve.binary.budgeted import WheelFacts

    if cache_dir is None or filters is not None or find_links or options.get("verify_hashes"):
        return None, None
    if not isinstance(facts, WheelFacts):
        return None, None
    reports = facts.cache.base / "reports" if facts.cache is not None else None
    key = reuse.result_key(
        requirements=requirements,
        nodes=nodes,
        python=python,
        index_urls=index_urls,
        installed=installed,
        env=env,
        facts=("wheel-facts", facts.budget, facts.offline),
        options=options,
    )
    return key, reports


def _pages_unchanged(finder: PackageFinder, hit: reuse.Kept) -> bool:
    """Fetch the pages a kept resolution read (as a resolution would) and compare them with what it read; a page
    that cannot be fetched now counts as changed (the search then meets it as it would have)."""
    finder.prefetch(hit.projects)
    try:
        for name in hit.projects:
            finder.files(name)
    except EnvresolveError:
        return False
    return all(finder.digests.get(url) == digest for url, digest in hit.pages.items())


def _whole_files(facts: object, fetcher: MetadataFetcher) -> Callable[[DistFile, CoreMetadata], CoreMetadata] | None:
    """Metadata checked against the whole files the binary pass fetched (and hashed), where it has them."""
    whole: dict[str, str] | None = getattr(facts, "whole_files", None)
    if whole is None:
        return None

    def check(dist: DistFile, md: CoreMetadata) -> CoreMetadata:
        path = whole.get(dist.url)
        return fetcher.verify(dist, md, path=Path(path)) if path else md

    return check


def _facts_callback(
    binary_facts: Callable[[CandidateInfo], ArtifactReport | None] | Literal["cache", "read"] | None,
    client: HttpClient,
    cache_dir: Path | None,
    *,
    offline: bool,
    budget: int | None,
) -> Callable[[CandidateInfo], ArtifactReport | None] | None:
    if binary_facts == "cache":
        return cached_binary_facts(cache_dir)
    if binary_facts == "read":
        from envresolve.binary.budgeted import DEFAULT_INSPECT_BUDGET, WheelFacts
        from envresolve.binary.cache import ReportCache

        return WheelFacts(
            client,
            budget=DEFAULT_INSPECT_BUDGET if budget is None else budget,
            offline=offline,
            cache=ReportCache(),
        )
    return binary_facts


def _sorted(rejections: object) -> list[Rejection]:
    items: list[Rejection] = list(rejections)  # type: ignore[call-overload]
    return sorted(items, key=lambda r: (r.name, Version(r.version), r.reason, r.node or ""), reverse=False)


def _requirements(
    requirements: Sequence[PipRequirement | str], markers: Mapping[str, str]
) -> tuple[list[Req], dict[str, SpecifierSet]]:
    roots: list[Req] = []
    constraints: dict[str, SpecifierSet] = {}
    for item in requirements:
        text = item if isinstance(item, str) else item.requirement
        is_constraint = False if isinstance(item, str) else item.constraint
        if not isinstance(item, str) and (item.url or item.editable):
            raise InputError(
                make(
                    "GN104",
                    f"direct URL and editable requirements are not resolved by the pip resolver: {item.raw}",
                    subject=item.name,
                    location=item.location,
                    hint="publish the wheel to an index or a find-links directory and require it by name",
                )
            )
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise InputError(make("GN104", f"not a PEP 508 requirement: {text}: {exc}", subject=text)) from None
        if req.url:
            raise InputError(
                make("GN104", f"direct URL requirements are not resolved: {redact_url(text)}", subject=req.name)
            )
        if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if is_constraint:
            constraints[name] = constraints.get(name, SpecifierSet()) & req.specifier
            continue
        roots.append(
            Req(
                name,
                req.specifier,
                frozenset(canonicalize_name(e) for e in req.extras),
                text=str(req).split(";")[0].strip(),
            )
        )
    return roots, constraints


def _packages(
    result: object,
    provider: PipProvider,
    client: HttpClient,
    *,
    verify: Callable[[DistFile, CoreMetadata], CoreMetadata] | None = None,
    fetched: Callable[[DistFile, CoreMetadata], CoreMetadata] | None = None,
) -> list[PipPackage]:
    """The chosen wheels. `verify` fetches and checks each one (`--verify-hashes`); `fetched` checks those the
    binary pass already fetched whole, so their metadata is recorded as verified."""
    mapping: Mapping[str, Candidate] = result.mapping  # type: ignore[attr-defined]
    graph = result.graph  # type: ignore[attr-defined]
    extras: dict[str, set[str]] = {}
    deps: dict[str, set[str]] = {}
    for ident, cand in mapping.items():
        extras.setdefault(cand.name, set()).update(cand.extras)
        for child in graph.iter_children(ident):
            child_name = mapping[child].name if child in mapping else child.split("[")[0]
            if child_name != cand.name:
                deps.setdefault(cand.name, set()).add(child_name)
    out: list[PipPackage] = []
    for cand in mapping.values():
        if cand.extras or cand.installed or cand.dist is None:
            continue
        dist = cand.dist
        md = provider.metadata(cand)
        if fetched is not None:
            md = fetched(dist, md)
        if verify is not None:
            md = verify(dist, md)
        info = provider.info(cand)
        out.append(
            PipPackage(
                name=cand.name,
                version=str(cand.version),
                filename=dist.filename,
                url=redact_url(dist.url),
                index=redact_url(dist.index),
                sha256=dist.sha256 or _sha256_of(dist, client),
                requires_dist=md.requires_dist,
                requires_python=md.requires_python,
                dependencies=tuple(sorted(deps.get(cand.name, ()))),
                extras=tuple(sorted(extras.get(cand.name, ()))),
                yanked=dist.yanked,
                cuda=info.cuda,
                binary=info.binary,
                metadata_source=md.how,
                metadata_check=md.check,
            )
        )
    return sorted(out, key=lambda p: p.name)


def _sha256_of(dist: object, client: HttpClient) -> str:
    assert isinstance(dist, DistFile)
    if dist.local_path is not None:
        h = hashlib.sha256()
        with open(dist.local_path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    with tempfile.TemporaryDirectory(prefix="envresolve-") as tmp:
        path = client.download(dist.url, Path(tmp) / dist.filename)
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()


def _impossible(causes: Collection[Any], provider: PipProvider, nodes: Sequence[NodeFacts]) -> list[Diagnostic]:
    """Turn resolvelib's causes into findings that name the blocking fact and the smallest change."""
    infos = list(causes)
    names: list[str] = []
    lines: list[str] = []
    for info in infos:
        req: Req = info.requirement
        if req.name not in names:
            names.append(req.name)
        lines.append(req.describe())
    lines = sorted(set(lines))
    diags: list[Diagnostic] = []
    for name in names:
        if name in provider.conda_conflicts:
            want = "; ".join(sorted({r.describe() for r in provider.conda_conflicts[name]}))
            diags.append(
                make(
                    "RS301",
                    f"pip requires {want}, but conda installs {name} {provider.installed[canonicalize_name(name)]}",
                    subject=name,
                    evidence=[f"conda: {name} {provider.installed[canonicalize_name(name)]}"],
                    hint=f"pin {name} on the conda side to a version pip accepts, or relax the pip requirement",
                )
            )
        elif name in provider.not_found:
            diags.append(
                make(
                    "RS202",
                    f"{name} is on none of the indexes: {', '.join(redact_url(u) for u in provider.finder.index_urls)}",
                    subject=name,
                    evidence=lines,
                    hint="check the name, or add the index or find-links location that has it",
                )
            )
        elif name not in provider.sdist_only and not provider.has_entries(name, _specs_for(infos, name)):
            diags.append(_no_wheel(name, lines, provider, nodes, _specs_for(infos, name)))
        elif name in provider.sdist_only:
            diags.append(
                make(
                    "RS203",
                    f"{name} has only source distributions for this target (e.g. {provider.sdist_only[name][0]})",
                    subject=name,
                    evidence=lines,
                    hint="provide a wheel (find-links directory) or pick a version that has wheels",
                )
            )
    rejected = [r for r in provider.rejections.values() if r.name in names]
    evidence: list[Evidence | str] = [*lines]
    for r in _sorted(rejected)[::-1][:6]:
        evidence.append(Evidence(fact=r.why_not(), source=r.node))
    hint = _smallest_change(names, rejected, provider, nodes)
    if not diags or rejected:
        blocking = _blocking(rejected)
        msg = "no set of wheels satisfies: " + "; ".join(lines[:4]) + (" ..." if len(lines) > 4 else "")
        if blocking:
            msg += f". Blocking fact: {blocking}"
        diags.insert(0, make("RS201", msg, subject=names[0] if names else None, evidence=evidence, hint=hint))
    return diags


_LEGACY_GLIBC = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}


def _specs_for(infos: Sequence[Any], name: str) -> list[SpecifierSet]:
    return [i.requirement.specifier for i in infos if i.requirement.name == name]


def _no_wheel(
    name: str, lines: Sequence[str], provider: PipProvider, nodes: Sequence[NodeFacts], specs: Sequence[SpecifierSet]
) -> Diagnostic:
    """RS209 with the smallest change: the lowest glibc (or the Python, or the arch) an allowed wheel would need."""
    arch = nodes[0].cpu.arch
    py_abi = {t.rsplit("-", 1)[0] for t in provider.tag_priority}
    glibcs: list[Version] = []
    pythons: set[str] = set()
    arches: set[str] = set()
    for filename in provider.finder.wheel_names(name):
        try:
            _name, version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        if not all(sp.contains(version, prereleases=True) for sp in specs):
            continue
        for tag in tags:
            pythons.add(tag.interpreter)
            m = re.fullmatch(r"(manylinux_(\d+)_(\d+)|manylinux1|manylinux2010|manylinux2014)_(\w+)", tag.platform)
            if m is None:
                continue
            arches.add(m.group(4))
            if f"{tag.interpreter}-{tag.abi}" in py_abi and m.group(4) == arch:
                level = f"{m.group(2)}.{m.group(3)}" if m.group(2) else _LEGACY_GLIBC[m.group(1)]
                glibcs.append(Version(level))
    node_glibc = target_glibc(nodes) or "unknown"
    if glibcs:
        hint = f"a node with glibc >= {min(glibcs)} (this target has {node_glibc}), or a release with older wheels"
    elif arches and arch not in arches:
        hint = f"no Linux wheel for {arch} (wheels exist for {', '.join(sorted(arches))})"
    elif pythons:
        hint = f"no wheel for this Python (wheels exist for {', '.join(sorted(pythons)[-5:])}); pick another release"
    else:
        hint = "no Linux wheel at all: build one and serve it from a find-links directory"
    return make(
        "RS209",
        f"{name} has no wheel this target accepts (glibc {node_glibc}, {arch}, {provider.markers['python_version']})",
        subject=name,
        evidence=list(lines),
        hint=hint,
    )


def _blocking(rejected: Sequence[Rejection]) -> str:
    if not rejected:
        return ""
    by_reason: dict[str, list[Rejection]] = {}
    for r in rejected:
        by_reason.setdefault(r.reason, []).append(r)
    reason, items = max(by_reason.items(), key=lambda kv: len(kv[1]))
    newest = max(items, key=lambda r: Version(r.version))
    where = f" on {newest.node}" if newest.node else ""
    return (
        f"{len(items)} candidate(s) rejected ({reason}){where}, newest {newest.name} {newest.version}: {newest.message}"
    )


def _smallest_change(
    names: Sequence[str], rejected: Sequence[Rejection], provider: PipProvider, nodes: Sequence[NodeFacts]
) -> str | None:
    cuda = [r for r in rejected if r.reason == "cuda-driver"]
    if cuda:
        needs: list[tuple[Version, Rejection]] = []
        for r in cuda:
            key = (canonicalize_name(r.name), Version(r.version))
            info = provider._infos.get(key) or provider._bare_infos.get(key)
            if info is not None and info.cuda is not None:
                needs.append((Version(info.cuda.version), r))
        if needs:
            lowest, rej = min(needs, key=lambda t: (t[0], -Version(t[1].version).major))
            levels = sorted({str(n.cuda_driver_version) for n in nodes if n.cuda_driver_version})
            level = levels[0] if levels else "?"
            driver = _min_driver(lowest)
            return (
                f"a driver that supports CUDA {lowest}{f' (driver >= {driver})' if driver else ''} would allow "
                f"{rej.name} {rej.version}; or require an older release of {rej.name} built for CUDA {level} or "
                f"lower; or add an index with such builds (a cuXYZ wheel index with XYZ <= "
                f"{level.replace('.', '')})"
            )
    other = [r for r in rejected if r.reason != "yanked"]
    if other:
        r = max(other, key=lambda r: Version(r.version))
        return f"{r.name} {r.version} was ruled out ({r.reason}); allow an older release or change the target node"
    if any(r.reason == "yanked" for r in rejected):
        return "only yanked releases match: pin one exactly with == to accept it"
    return None


def _min_driver(cuda: Version) -> str | None:
    """The minimum driver for a CUDA level (`cuda_drivers.yaml`), or None without a row."""
    from envresolve.matrices import cuda_min_driver

    row = cuda_min_driver(f"{cuda.major}.{cuda.minor}")
    return row.row.min_driver if row is not None else None
