"""The orchestration above `solve` and `lock`: solve (conda, then pip), attach facts once, judge, build the lock.

`resolve(spec, nodes)` returns a `Resolution`: a lock valid for every node, or per-node outcomes that say which
node prevents a common lock, the fact that blocks it, and the smallest change that would unblock it.

This is the only module that imports both `envresolve.solve` and `envresolve.lock` (tests/test_import_direction.py):
the solvers know nothing of locks, and `lock` knows nothing of solving.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

from envresolve._version import __version__
from envresolve.diagnostics import Diagnostic, Severity, has_errors, make, sort_diagnostics, unique_diagnostics
from envresolve.errors import EnvresolveError, InputError
from envresolve.lock.model import BinaryVerdict, Lock
from envresolve.matrices.measured import measured_by_sha256
from envresolve.solve.conda import (
    CondaPackage,
    CondaSettings,
    CondaSolution,
    CondaSolver,
    VirtualPackage,
    common_virtual_packages,
    node_virtual_packages,
    solve_virtual_packages,
)
from envresolve.specs.digest import spec_digest

if TYPE_CHECKING:
    from envresolve.binary.model import ArtifactReport
    from envresolve.compat.model import Environment, Package
    from envresolve.node.facts import NodeFacts
    from envresolve.solve.pip import PipResolution
    from envresolve.specs.model import EnvSpec

__all__ = ["CondaSettings", "NodeOutcome", "Resolution", "ResolveSettings", "WhyNot", "resolve", "spec_digest"]

#: CPU architecture -> conda subdir
_SUBDIR_OF_ARCH = {"x86_64": "linux-64", "aarch64": "linux-aarch64", "ppc64le": "linux-ppc64le"}

#: what the BaizeAI conda loader adds for notebooks (SPEC marks them `added_by`); `--no-notebook-packages` drops them
NOTEBOOK_PACKAGES = frozenset({"ipykernel", "nb_conda_kernels", "notebook"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ResolveSettings(_Frozen):
    """Knobs of a resolution that are not part of the spec."""

    conda: CondaSettings = Field(default_factory=CondaSettings)
    index_urls: tuple[str, ...] = Field(default=(), description="replace the spec's pip indexes (may hold secrets)")
    find_links: tuple[str, ...] = Field(default=(), description="extra find-links locations")
    notebook_packages: bool = Field(
        default=True, description="keep the notebook packages the Dataset loader adds (ipykernel, ...)"
    )
    pip_cache_dir: str | None = None
    verify_hashes: bool = Field(
        default=False, description="fetch each chosen wheel read by ranges and check its sha256 (RS403)"
    )
    inspect_cache: bool = Field(default=True, description="use cached `envresolve inspect` reports for verdicts")
    inspect_wheels: bool = Field(
        default=True,
        description="read each candidate wheel with compiled code by ranges within `inspect_budget`, and each "
        "conda package with compiled code no larger than it (cached facts only when offline); False: cached "
        "reports only",
    )
    inspect_budget: int | None = Field(
        default=None, ge=0, description="compressed bytes read per wheel or conda package (default binary.budgeted's)"
    )


class WhyNot(_Frozen):
    """A rejected candidate and the reason ("why not X")."""

    name: str
    version: str
    reason: str
    code: str
    message: str
    node: str | None = None

    def line(self) -> str:
        """The `--explain` line."""
        where = f" [{self.node}]" if self.node else ""
        return f"why not {self.name} {self.version}{where}: {self.message} ({self.reason}, {self.code})"


class NodeOutcome(_Frozen):
    """What happened for one node."""

    node: str
    ok: bool
    conda_packages: int = 0
    pip_packages: int = 0
    python: str | None = None
    blocking: str | None = Field(default=None, description="the first error: the fact that blocks this node")
    hint: str | None = Field(default=None, description="the smallest change that would unblock it, when known")
    diagnostics: tuple[Diagnostic, ...] = ()


class Resolution(_Frozen):
    """The result of `resolve`. JSON-serialisable (an operator can put it in a custom resource's status)."""

    version: int = Field(default=1, description="version of this JSON shape (`envresolve lock --format json`)")
    ok: bool
    lock: Lock | None = Field(default=None, description="one lock valid for every node; None when there is none")
    nodes: tuple[NodeOutcome, ...] = ()
    why_not: tuple[WhyNot, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    def to_json(self) -> str:
        """Stable JSON (sorted keys)."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, sort_keys=True) + "\n"


# ------------------------------------------------------------------------------------------ helpers


def _conda_specs(spec: EnvSpec, settings: ResolveSettings) -> list[str]:
    out: list[str] = []
    for dep in spec.conda:
        if not settings.notebook_packages and getattr(dep, "added_by", None) and dep.name in NOTEBOOK_PACKAGES:
            continue
        out.append(dep.spec)
    if spec.python and out and not any(d.name == "python" for d in spec.conda):
        py = spec.python.strip()
        out.append(f"python {py}.*" if py[:1].isdigit() and py.count(".") == 1 else f"python {py}")
    return out


def _spec_dir(spec: EnvSpec) -> str:
    src = Path(spec.source)
    return str(src.parent if src.suffix or src.is_file() else src)


def _pypi_installed(conda: Sequence[CondaPackage]) -> dict[str, str]:
    """The Python packages conda installs, under their PyPI names (MATRIX's conda-names table)."""
    from envresolve.matrices import conda_to_pypi

    cuda_major = None
    for p in conda:
        if p.name == "cuda-version":
            cuda_major = int(p.version.split(".")[0])
    out: dict[str, str] = {}
    for p in conda:
        if p.name == "python":
            continue
        pypi, src = conda_to_pypi(p.name, cuda_major)
        if pypi is None:
            continue
        if src.derived and not p.depends_on_python:
            continue  # the default rule applies to Python packages only
        out[str(canonicalize_name(pypi))] = p.version
    return out


def _conda_env_packages(conda: Sequence[CondaPackage], cache: Any = None) -> list[Package]:
    """The conda packages as the judge sees them, with the binary facts the lock will record attached."""
    return [p.as_package(binary=_cached_report(cache, p.sha256, p.name, p.version)) for p in conda]


def _report_cache() -> Any:
    try:
        from envresolve.binary.cache import ReportCache
    except ImportError:  # pragma: no cover - part of the package
        return None
    return ReportCache()


def _cached_report(cache: Any, sha256: str | None, name: str, version: str) -> ArtifactReport | None:
    """The cached inspection report of this artefact, only when it is about this name and version."""
    if cache is None or not sha256:
        return None
    report: ArtifactReport | None = cache.get_for(sha256, name, version)
    return report


# --------------------------------------------------------------------------------------- the attempt


class _Attempt(_Frozen):
    conda: CondaSolution | None = None
    pip: Any = None  # PipResolution; kept Any so the model builds without importing the pip side
    environment: Any = None  # compat Environment
    diagnostics: tuple[Diagnostic, ...] = ()
    why_not: tuple[WhyNot, ...] = ()

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def _attempt(
    spec: EnvSpec,
    nodes: Sequence[NodeFacts],
    vps: Sequence[VirtualPackage],
    solver: CondaSolver | None,
    conda_specs: Sequence[str],
    settings: ResolveSettings,
    *,
    offline: bool,
    label: str | None,
) -> _Attempt:
    """One conda + pip + rules pass for `nodes` (all of them must accept the result)."""
    from envresolve.compat.model import Environment
    from envresolve.solve.pip import PipResolutionError, indexes_from_spec, resolve_pip

    diags: list[Diagnostic] = []
    conda = None
    if solver is not None and conda_specs:
        only = nodes[0] if len(nodes) == 1 else None
        conda = solver.solve(conda_specs, vps, node=only)
        diags.extend(d if d.node or label is None else d.with_node(label) for d in conda.diagnostics)
        if not conda.ok:
            return _Attempt(conda=conda, diagnostics=tuple(diags))
    # facts are attached once, before any verdict: the lock records verdicts computed from exactly what it records
    cache = _report_cache() if settings.inspect_cache else None
    if conda is not None and solver is not None:
        read = _conda_reader(settings, cache, offline=offline)
        conda, kept = _keep_out_rejected(conda, solver, conda_specs, vps, nodes, cache, spec.python, read)
        diags.extend(d if d.node or label is None else d.with_node(label) for d in kept)
    python = (conda.python if conda else None) or spec.python
    conda_pkgs = conda.packages if conda else ()
    env = Environment(packages=tuple(_conda_env_packages(conda_pkgs, cache)), python=python)
    pip = None
    why: list[WhyNot] = []
    if spec.pip:
        if not python:
            raise InputError(
                make(
                    "GN104",
                    "the spec has pip requirements but no Python version (no conda python, no pythonVersion)",
                    hint="add python to the conda dependencies or set the spec's Python version",
                )
            )
        index_urls, find_links = indexes_from_spec(spec)
        if settings.index_urls:
            index_urls = [_abs_url(u) for u in settings.index_urls]
        find_links = [_abs_link(f, spec) for f in [*find_links, *settings.find_links]]
        if spec.no_index:
            index_urls = []
        credentials = _credential_notes([*index_urls, *find_links])
        diags.extend(credentials)
        try:
            pip = resolve_pip(
                list(spec.pip),
                list(nodes),
                python=python,
                index_urls=index_urls,
                find_links=find_links,
                installed=_pypi_installed(conda_pkgs),
                env=env,
                binary_facts=_binary_facts(settings, cache),
                inspect_budget=settings.inspect_budget,
                cache_dir=Path(settings.pip_cache_dir) if settings.pip_cache_dir else None,
                offline=offline,
                verify_hashes=settings.verify_hashes,
            )
        except PipResolutionError as exc:
            why = [_why(r) for r in exc.rejections]
            diags.extend(d if d.node or label is None else d.with_node(label) for d in exc.diagnostics)
            return _Attempt(conda=conda, diagnostics=tuple(diags), why_not=tuple(why))
        except EnvresolveError as exc:  # the warning still reaches the user when the resolution stops
            if credentials:
                raise type(exc)((*exc.diagnostics, *credentials)) from None
            raise
        why = [_why(r) for r in pip.rejections]
        diags.extend(d for d in pip.diagnostics if d.code != "RS204")  # rejections are reported as why-not
        env = Environment(packages=env.packages + tuple(_pip_env_packages(pip, cache)), python=python)
    for node in nodes:
        diags.extend(d.with_node(node.label) for d in _evaluate(env, node))
    return _Attempt(conda=conda, pip=pip, environment=env, diagnostics=tuple(diags), why_not=tuple(why))


def _credential_notes(locations: Sequence[str]) -> list[Diagnostic]:
    """LK105 for each pip index or find-links URL that carries credentials (shown masked)."""
    from envresolve._redact import has_credentials, redact_url

    return [
        make("LK105", f"pip index credentials kept out of the lock: {redact_url(u)}", subject=redact_url(u))
        for u in dict.fromkeys(locations)
        if "://" in u and has_credentials(u)
    ]


#: how many times conda solves again without records the judge rejects
_KEEP_OUT_ROUNDS = 3


def _conda_reader(
    settings: ResolveSettings, cache: Any, *, offline: bool
) -> Callable[[Sequence[CondaPackage]], list[Diagnostic]]:
    """What reads the binary facts of a conda solution's packages into `cache` (nothing without the binary pass)."""
    if cache is None or not settings.inspect_wheels:
        return lambda _packages: []
    from envresolve.binary.budgeted import DEFAULT_INSPECT_BUDGET, read_conda_facts

    budget = DEFAULT_INSPECT_BUDGET if settings.inspect_budget is None else settings.inspect_budget
    return lambda packages: read_conda_facts(packages, cache, budget=budget, offline=offline)


def _keep_out_rejected(
    conda: CondaSolution,
    solver: CondaSolver,
    specs: Sequence[str],
    vps: Sequence[VirtualPackage],
    nodes: Sequence[NodeFacts],
    cache: Any,
    python: str | None,
    read: Callable[[Sequence[CondaPackage]], list[Diagnostic]],
) -> tuple[CondaSolution, list[Diagnostic]]:
    """Solve again without the conda versions the judge rejects on every node (RS110 for each kept out).

    Each solution's binary facts are read (`read`) before it is judged, the records a new solve brings in too.
    The judge sees each record against the rest of the solution; only errors count, and only when every node
    rejects it. Without a solution once they are kept out, the last solution stays (the judge's errors on it
    are reported by the caller's evaluation) and RS111 says why they could not be avoided."""
    from envresolve.compat import candidate_verdict
    from envresolve.compat.model import Environment

    notes: list[Diagnostic] = []
    excluded: list[str] = []
    current = conda
    for last in [False] * _KEEP_OUT_ROUNDS + [True]:
        notes += [d for d in read(current.packages) if d not in notes]
        if last:
            break  # the last solve's facts are read for the caller's evaluation; no more solves
        packages = _conda_env_packages(current.packages, cache)
        env = Environment(packages=tuple(packages), python=current.python or python)
        rejected: list[tuple[Package, Diagnostic]] = []
        for pkg in packages:
            per_node = [
                [d for d in candidate_verdict(pkg, node, env) if d.severity is Severity.ERROR] for node in nodes
            ]
            if per_node and all(per_node):
                rejected.append((pkg, per_node[0][0]))
        if not rejected:
            break
        excluded += [f"{pkg.name} !={pkg.version}" for pkg, _ in rejected]
        retry = solver.solve([*specs, *excluded], vps, node=nodes[0] if len(nodes) == 1 else None)
        if not retry.ok:
            unsat = [d.message for d in retry.diagnostics if d.severity is Severity.ERROR]
            notes += [
                make(
                    "RS111",
                    f"{pkg.name} {pkg.version} fails on every node ({why.code} {why.message}), and without it the "
                    f"conda spec has no solution",
                    subject=pkg.name,
                    evidence=[*why.evidence, *(f"conda without it: {m}" for m in unsat[:3])],
                    hint="relax the spec that requires this version, or target a node that runs it",
                )
                for pkg, why in rejected
            ]
            break
        notes += [
            make(
                "RS110",
                f"kept {pkg.name} {pkg.version} out of the conda solve: {why.code} {why.message}",
                subject=pkg.name,
                evidence=list(why.evidence),
                hint=f"solved again with `{pkg.name} !={pkg.version}`",
            )
            for pkg, why in rejected
        ]
        current = retry
    return current, notes


def _abs_url(location: str) -> str:
    """An index given as a local directory (relative to the working directory) becomes a file:// URL."""
    if "://" in location:
        return location
    return Path(location).expanduser().resolve().as_uri()


def _abs_link(link: str, spec: EnvSpec) -> str:
    if "://" in link:
        return link
    p = Path(link).expanduser()
    if not p.is_absolute():
        p = Path(_spec_dir(spec)) / p
    return str(p.resolve())


def _binary_facts(settings: ResolveSettings, cache: Any) -> Any:
    """What the pip search judges candidates by: wheels read within the budget, cached reports, or nothing."""
    if cache is None:
        return None
    if settings.inspect_wheels:
        return "read"
    return lambda c: _cached_report(cache, c.sha256, c.name, c.version)


def _why(r: Any) -> WhyNot:
    return WhyNot(name=r.name, version=r.version, reason=r.reason, code=r.code, message=r.message, node=r.node)


def _pip_env_packages(pip: PipResolution, cache: Any = None) -> list[Package]:
    from envresolve.compat.model import Package

    return [
        Package.pypi(
            p.name,
            p.version,
            index=p.index,
            url=p.url,
            sha256=p.sha256 or None,
            requires_dist=p.requires_dist,
            binary=p.binary or _cached_report(cache, p.sha256, p.name, p.version),
        )
        for p in pip.packages
    ]


def _evaluate(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """MATRIX's rules over the final environment for one node."""
    from envresolve.compat import evaluate

    return list(evaluate(env, node))


# ------------------------------------------------------------------------------------------ resolve


def resolve(
    spec: EnvSpec,
    nodes: Sequence[NodeFacts],
    *,
    offline: bool = False,
    explain: bool = False,
    settings: ResolveSettings | None = None,
) -> Resolution:
    """Resolve `spec` for every node: conda (py-rattler), then pip (GPU-aware), then every compatibility rule.

    With several nodes, the conda solve uses the weakest virtual packages of all nodes and the pip resolver must
    find candidates every node accepts; when that fails, each node is resolved on its own so the result names
    the node (and its fact) that prevents a common lock. `explain` keeps the "why not" list of rejected
    candidates in the result (always computed; dropped from the result otherwise to keep it small).

    A spec that names a container image (`spec.image`) is resolved for that image on each node.
    Raises `InputError` for unreadable channels/indexes, bad MatchSpecs, or no nodes.
    """
    if not nodes:
        raise InputError(make("GN104", "at least one target node is needed (--node)"))
    if spec.image is not None:  # inside an image, the image decides glibc and libstdc++, each node the driver
        from envresolve.node.images import image_on_node

        nodes = [image_on_node(spec.image, n) for n in nodes]
    settings = settings or ResolveSettings()
    update: dict[str, Any] = {
        "offline": offline or settings.conda.offline,
        "base_dir": settings.conda.base_dir or _spec_dir(spec),
    }
    arches = {n.cpu.arch for n in nodes}
    if "subdir" not in settings.conda.model_fields_set and len(arches) == 1:
        # the lock is for the nodes' platform (pip already reads their architecture): an aarch64 node gets
        # linux-aarch64 records, not linux-64 ones that `check` would then refuse (CK113)
        update["subdir"] = _SUBDIR_OF_ARCH.get(arches.pop(), settings.conda.subdir)
    conda_settings = settings.conda.model_copy(update=update)
    settings = settings.model_copy(update={"conda": conda_settings})
    conda_specs = _conda_specs(spec, settings)
    channels = [c.name for c in spec.channels] or (["conda-forge"] if conda_specs else [])
    solver = CondaSolver(channels, conda_settings) if conda_specs else None
    per_node_vps = [node_virtual_packages(n) for n in nodes]  # recorded in the lock
    solve_vps = [solve_virtual_packages(n) for n in nodes]  # solved with: unknown facts admit every record
    names = _node_names(nodes)
    spec_notes = [d for d in spec.diagnostics if d.severity is not Severity.INFO]

    if len(nodes) == 1:
        att = _attempt(spec, nodes, solve_vps[0], solver, conda_specs, settings, offline=offline, label=names[0])
        outcome = _outcome(names[0], att)
        return _finish(spec, nodes, per_node_vps, att, [outcome], spec_notes, explain, settings)

    common = common_virtual_packages(solve_vps)
    att = _attempt(spec, nodes, common, solver, conda_specs, settings, offline=offline, label=None)
    if att.ok:
        outcomes = [_outcome(n, att, node_only=True) for n in names]
        return _finish(spec, nodes, per_node_vps, att, outcomes, spec_notes, explain, settings)
    # no common lock: which node prevents it?
    outcomes = []
    why: list[WhyNot] = list(att.why_not)
    singles = []
    for node, vps, name in zip(nodes, solve_vps, names, strict=True):
        single = _attempt(spec, [node], vps, solver, conda_specs, settings, offline=offline, label=name)
        singles.append(single)
        outcomes.append(_outcome(name, single))
        why.extend(single.why_not)
    failing = [o for o in outcomes if not o.ok]
    diags: list[Diagnostic] = []
    if failing:
        for o in failing:
            diags.append(
                make(
                    "RS109",
                    f"no lock for all nodes: {o.node} prevents it: {o.blocking}",
                    subject=o.node,
                    node=o.node,
                    hint=o.hint or "lock for the other nodes without this one",
                )
            )
    else:
        diags.append(
            make(
                "RS109",
                "every node can be locked on its own, but no single set of packages suits all of them",
                evidence=[d.message for d in att.diagnostics if d.severity is Severity.ERROR][:6],
                hint="lock per node group (one `envresolve lock` per node kind)",
            )
        )
    all_diags = [*spec_notes, *diags, *(d for s in singles for d in s.diagnostics)]
    return Resolution(
        ok=False,
        nodes=tuple(outcomes),
        why_not=tuple(_dedupe_why(why)) if explain else (),
        diagnostics=tuple(sort_diagnostics(unique_diagnostics(all_diags))),
    )


def _node_names(nodes: Sequence[NodeFacts]) -> list[str]:
    names: list[str] = []
    for i, n in enumerate(nodes):
        name = n.label
        if name in names:
            name = f"{name}#{i + 1}"
        names.append(name)
    return names


def _outcome(name: str, att: _Attempt, *, node_only: bool = False) -> NodeOutcome:
    mine = [d for d in att.diagnostics if d.node in (None, name)] if node_only else list(att.diagnostics)
    errors = [d for d in sort_diagnostics(mine) if d.severity is Severity.ERROR]
    first = errors[0] if errors else None
    return NodeOutcome(
        node=name,
        ok=first is None,
        conda_packages=len(att.conda.packages) if att.conda else 0,
        pip_packages=len(att.pip.packages) if att.pip is not None else 0,
        python=(att.conda.python if att.conda else None) or (att.pip.python if att.pip is not None else None),
        blocking=f"{first.code} {first.message}" if first else None,
        hint=first.hint if first else None,
        diagnostics=tuple(sort_diagnostics(mine)),
    )


def _dedupe_why(why: Sequence[WhyNot]) -> list[WhyNot]:
    return sorted({w.line(): w for w in why}.values(), key=lambda w: w.line())


def _finish(
    spec: EnvSpec,
    nodes: Sequence[NodeFacts],
    per_node_vps: Sequence[Sequence[VirtualPackage]],
    att: _Attempt,
    outcomes: list[NodeOutcome],
    spec_notes: list[Diagnostic],
    explain: bool,
    settings: ResolveSettings,
) -> Resolution:
    diags = sort_diagnostics(unique_diagnostics([*spec_notes, *att.diagnostics]))
    why = tuple(_dedupe_why(att.why_not)) if explain else ()
    if not att.ok:
        return Resolution(ok=False, nodes=tuple(outcomes), why_not=why, diagnostics=tuple(diags))
    lock = _build_lock(spec, nodes, per_node_vps, att, diags, settings)
    return Resolution(ok=True, lock=lock, nodes=tuple(outcomes), why_not=why, diagnostics=tuple(diags))


# --------------------------------------------------------------------------------------------- lock


def _verdict(
    name: str, diags: Sequence[Diagnostic], report: ArtifactReport | None, measured: bool = False
) -> BinaryVerdict:
    """`measured`: no report, but the measured table has a row for this very file (the rules used it)."""
    mine = [d for d in diags if d.subject and _subject_name(d.subject) == name]
    bad = [d for d in mine if d.severity is Severity.ERROR]
    basis: Literal["binary", "measured", "metadata"] = "binary" if report else "measured" if measured else "metadata"
    if bad:
        return BinaryVerdict(
            status="incompatible", basis=basis, reason=bad[0].message, codes=tuple(sorted({d.code for d in bad}))
        )
    if report is not None:
        return BinaryVerdict(
            status="compatible", basis="binary", reason="binary facts (read from the artefact) pass every rule"
        )
    if measured:
        return BinaryVerdict(
            status="compatible",
            basis="measured",
            reason="binary facts measured on this very file (matrices/measured_wheels.yaml, by sha256) pass every rule",
        )
    return BinaryVerdict(
        status="not-inspected",
        basis="metadata",
        reason="artefact not downloaded (a lock reads index metadata only); metadata passes every rule",
    )


def _subject_name(subject: str) -> str:
    for sep in ("==", " ", "="):
        subject = subject.split(sep)[0]
    return str(canonicalize_name(subject)) if subject else subject


def _matrix_digests() -> dict[str, str]:
    try:
        from envresolve.matrices import matrices_dir
    except ImportError:  # pragma: no cover
        return {}
    root = Path(matrices_dir())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in sorted(root.glob("*.yaml"))}


_CHECKS: dict[str, Literal["sha256", "index-hash", "unverified", "local"]] = {
    "sha256": "sha256",
    "index-hash": "index-hash",
    "local": "local",
}


def _metadata_check(value: str) -> Literal["sha256", "index-hash", "unverified", "local"]:
    return _CHECKS.get(value, "unverified")


def _build_lock(
    spec: EnvSpec,
    nodes: Sequence[NodeFacts],
    per_node_vps: Sequence[Sequence[VirtualPackage]],
    att: _Attempt,
    diags: Sequence[Diagnostic],
    settings: ResolveSettings,
) -> Lock:
    from envresolve._redact import redact_url
    from envresolve.lock.model import Lock, LockedCondaPackage, LockedNode, LockedPipPackage, SpecRef, node_fingerprint

    # the facts the verdicts were computed from (attached once in `_attempt`), never a second cache read
    judged = att.environment.packages if att.environment is not None else ()
    facts = {(q.ecosystem, str(canonicalize_name(q.name))): q.binary for q in judged}
    conda = att.conda.packages if att.conda else ()
    locked_conda = tuple(
        LockedCondaPackage(
            **p.model_dump(),
            verdict=_verdict(
                str(canonicalize_name(p.name)), diags, facts.get(("conda", str(canonicalize_name(p.name))))
            ),
            binary=facts.get(("conda", str(canonicalize_name(p.name)))),
        )
        for p in conda
    )
    locked_pip: list[LockedPipPackage] = []
    if att.pip is not None:
        for q in att.pip.packages:
            locked_pip.append(
                LockedPipPackage(
                    name=q.name,
                    version=q.version,
                    filename=q.filename,
                    url=redact_url(q.url),
                    sha256=q.sha256,
                    index=redact_url(q.index) if q.index else None,
                    requires_dist=q.requires_dist,
                    requires_python=q.requires_python,
                    metadata_check=_metadata_check(q.metadata_check),
                    verdict=_verdict(
                        q.name,
                        diags,
                        facts.get(("pypi", str(canonicalize_name(q.name)))),
                        measured=q.sha256 is not None and measured_by_sha256(q.sha256) is not None,
                    ),
                    binary=facts.get(("pypi", str(canonicalize_name(q.name)))),
                )
            )
    unverified = sorted(q.name for q in locked_pip if q.metadata_check == "unverified")
    src = Path(spec.source)
    shown = spec.source if not src.is_absolute() else src.name
    names = _node_names(nodes)
    locked_nodes = tuple(
        LockedNode(name=name, fingerprint=node_fingerprint(n), facts=n, virtual_packages=tuple(v))
        for name, n, v in zip(names, nodes, per_node_vps, strict=True)
    )
    python = (att.conda.python if att.conda else None) or (att.pip.python if att.pip is not None else None)
    indexes = sorted({p.index for p in locked_pip if p.index})
    unseen = [p.name for p in locked_conda if p.verdict.status == "not-inspected"]
    unseen += [q.name for q in locked_pip if q.verdict.status == "not-inspected"]
    notes = list(diags)
    if unverified:
        notes.append(
            make(
                "LK107",
                f"the metadata of {len(unverified)} pip package(s) was read from byte ranges and not checked "
                "against their sha256",
                evidence=[", ".join(unverified[:12]) + (", ..." if len(unverified) > 12 else "")],
                hint="an installer checks each wheel's sha256 when it downloads it; "
                "`metadata_check` in the lock says what vouches for each package's dependencies",
            )
        )
    if unseen:
        notes.append(
            make(
                "LK104",
                f"{len(unseen)} of {len(locked_conda) + len(locked_pip)} packages were not inspected: "
                "their verdicts rest on repodata and index metadata",
                evidence=[", ".join(sorted(unseen)[:12]) + (", ..." if len(unseen) > 12 else "")],
                hint="`envresolve inspect` the artefacts (their reports are cached and used by the next lock), "
                "or `envresolve check` the built environment",
            )
        )
    return Lock(
        **{"created-by": f"envresolve {__version__}"},
        spec=SpecRef(source=shown, name=spec.name, format=spec.format, digest=spec_digest(spec)),
        platform=settings.conda.subdir,
        python=python,
        channels=att.conda.channels if att.conda else (),
        indexes=tuple(indexes),
        matrices=_matrix_digests(),
        nodes=locked_nodes,
        conda=locked_conda,
        pip=tuple(locked_pip),
        diagnostics=tuple(sort_diagnostics([d for d in notes if d.code != "RS204"])),
    )
