"""The resolvelib provider: requirements, candidates, and GPU-aware filtering of what is offered.

Terms (resolvelib's): an *identifier* is a canonical name, with `[extras]` for an extras variant; a
*requirement* asks for versions of an identifier; a *candidate* is one release (one wheel: the best one
for the node's tags). Extras follow resolvelib's trick: `x[e] v` depends on `x == v` plus `e`'s deps.

Filtering happens in `find_matches`: candidates the node cannot use are never offered, and each is
recorded as a `Rejection`. Pairing with a chosen build is expressed as a dependency: a `+cuXYZ` build that
pins another project exactly (`torchvision 0.16.0+cu121` -> `torch==2.1.0`) also requires that project's
build, when it has a local label, to carry the same one; resolvelib then backtracks over mismatches by itself.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider, BaseReporter

from envresolve._once import Once
from envresolve.diagnostics import Diagnostic, Evidence, Severity, make
from envresolve.errors import InputError
from envresolve.solve.pip.gpu import (
    companion_pairing,
    cuda_need,
    cxx_abi_of,
    local_variant,
    parse_requirement,
    run_filters,
    torch_cxx_abi,
)
from envresolve.solve.pip.model import CandidateInfo, Rejection

if TYPE_CHECKING:
    from packaging.tags import Tag

    from envresolve.binary.model import ArtifactReport
    from envresolve.compat.model import Environment
    from envresolve.node.facts import NodeFacts
    from envresolve.solve.pip.index import DistFile, PackageFinder
    from envresolve.solve.pip.metadata import CoreMetadata, MetadataFetcher
    from envresolve.solve.pip.model import CandidateFilter

__all__ = ["Candidate", "PipProvider", "PipReporter", "Req"]

#: how many candidates of another CUDA major than conda's are held back before the rest are offered in order
_DEFER_OTHER_MAJOR = 12


def _conda_cuda_major(env: Environment) -> int | None:
    """The one CUDA major the conda packages of `env` bring (None: none, or several)."""
    from envresolve.compat.facts import cuda_claims

    majors = {c.major for p in env.packages if p.ecosystem == "conda" for c in cuda_claims(p)}
    return majors.pop() if len(majors) == 1 else None


#: How many releases of a project the speculative prefetch judges, newest first, looking for one the node accepts.
_PREFETCH_WALK = 12
#: how long a speculative wheel read waits for the walk of a project it pins before it reads anyway
_WALK_WAIT_S = 5.0
#: speculative wheel reads at the same time: one (each spreads its members over the member readers already; a
#: second competed with the read the resolver was waiting for, 2-3 % slower cold on two cores)
_READ_WORKERS = 1
#: rejection reasons that binary facts cannot overturn (read from metadata and the matrices)
_NOT_BINARY = frozenset({"cuda-driver", "companion"})


@dataclass(frozen=True)
class Req:
    """A requirement on one identifier. `variant` also asks for this local version label (companion pairing)."""

    name: NormalizedName
    specifier: SpecifierSet
    extras: frozenset[str] = frozenset()
    parent: str | None = None  # "name version" of the candidate that asked, None for the user
    text: str = ""
    variant: str | None = None
    pairing: str | None = None  # the matrix citation when this is a companion pairing (torchaudio -> torch)
    cxx_abi: str | None = None  # the ABI the requiring candidate's binaries use

    @property
    def identifier(self) -> str:
        """The resolvelib identifier."""
        return _identifier(self.name, self.extras)

    def describe(self) -> str:
        """The requirement and who asked for it, for messages."""
        what = self.text or f"{self.identifier}{self.specifier}"
        if self.variant:
            what += f" (a +{self.variant} build)"
        if self.cxx_abi:
            what += f" (a {self.cxx_abi} ABI build)"
        return f"{what} (from {self.parent or 'the spec'})"


@dataclass(frozen=True)
class Candidate:
    """One release. `dist` is None for a package conda installed (`installed=True`)."""

    name: NormalizedName
    version: Version
    extras: frozenset[str] = frozenset()
    dist: DistFile | None = field(default=None, compare=False)
    installed: bool = False

    @property
    def identifier(self) -> str:
        """The resolvelib identifier."""
        return _identifier(self.name, self.extras)

    def __str__(self) -> str:
        return f"{self.identifier} {self.version}"


def _identifier(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def _split_identifier(identifier: str) -> tuple[NormalizedName, frozenset[str]]:
    if "[" in identifier:
        name, _, rest = identifier.partition("[")
        return NormalizedName(name), frozenset(e for e in rest.rstrip("]").split(",") if e)
    return NormalizedName(identifier), frozenset()


@dataclass
class _Entry:
    version: Version
    dist: DistFile


class PipProvider(AbstractProvider[Req, Candidate, str]):
    """Answers resolvelib's questions from a `PackageFinder`, a `MetadataFetcher` and candidate filters."""

    def __init__(
        self,
        *,
        finder: PackageFinder,
        fetcher: MetadataFetcher,
        tags: Sequence[Tag],
        markers: Mapping[str, str],
        python_full: str,
        nodes: Sequence[NodeFacts],
        env: Environment,
        installed: Mapping[str, str],
        constraints: Mapping[str, SpecifierSet],
        filters: Sequence[CandidateFilter],
        binary_facts: Callable[[CandidateInfo], ArtifactReport | None] | None = None,
        allow_prereleases: bool = False,
        prefetch_workers: int = 4,
    ) -> None:
        self.finder = finder
        self.fetcher = fetcher
        self.tag_priority = {str(t): i for i, t in enumerate(tags)}
        self.markers = dict(markers)
        self.python_full = Version(python_full)
        self.nodes = list(nodes)
        self.env = env
        self.installed = {canonicalize_name(k): Version(v) for k, v in installed.items()}
        self.constraints = dict(constraints)
        self.filters = list(filters)
        self.binary_facts = binary_facts
        self.allow_prereleases = allow_prereleases
        self._lock = threading.Lock()
        self._entries: dict[str, list[_Entry]] = {}
        self._judged: dict[tuple[str, Version], list[Rejection]] = {}
        self._verdicts: Once[tuple[str, Version], list[Rejection]] = Once()
        self._infos: dict[tuple[str, Version], CandidateInfo] = {}
        self._bare_infos: dict[tuple[str, Version], CandidateInfo] = {}
        self.rejections: dict[tuple[str, str, str, str | None], Rejection] = {}
        self.not_found: set[str] = set()
        self.sdist_only: dict[str, list[str]] = {}
        self.conda_conflicts: dict[str, list[Req]] = {}
        self.findings: list[Diagnostic] = []
        self.conda_cuda_major = _conda_cuda_major(env)
        # Metadata prefetches wait on page fetches (a different pool), so they can never deadlock.
        self._meta_pool = ThreadPoolExecutor(max_workers=max(1, prefetch_workers), thread_name_prefix="envresolve-md")
        # Speculative wheel reads take long (up to the inspect budget each): they get threads of their own, so
        # that metadata prefetches never queue behind them.
        self._read_pool = ThreadPoolExecutor(max_workers=_READ_WORKERS, thread_name_prefix="envresolve-read")
        self._prefetched: set[str] = set()
        self._walked: dict[str, threading.Event] = {}  # project -> set when its prefetch walk has ended
        self._bare: Once[tuple[str, Version], list[Rejection]] = Once()  # verdicts with no wheel byte read
        # The matrices the filters read are parsed once, in the background, while the first pages download.
        self._matrices = self._meta_pool.submit(_load_matrices)

    def close(self) -> None:
        """Stop background work."""
        self._meta_pool.shutdown(wait=False, cancel_futures=True)
        self._read_pool.shutdown(wait=False, cancel_futures=True)

    # -- resolvelib interface ------------------------------------------------------------------------

    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> tuple[bool, bool, bool, bool, str]:
        infos = list(information[identifier])
        pinned = any(s.operator in ("==", "===") for i in infos for s in i.requirement.specifier)
        direct = any(i.parent is None for i in infos)
        causes = {c.requirement.identifier for c in backtrack_causes}
        causes |= {c.parent.identifier for c in backtrack_causes if c.parent is not None}
        name, _ = _split_identifier(identifier)
        return (name not in self.installed, identifier not in causes, not pinned, not direct, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]] | list[Candidate]:
        name, extras = _split_identifier(identifier)
        reqs = list(requirements.get(identifier, ()))
        bad = {c.version for c in incompatibilities.get(identifier, ())}
        if name in self.installed:
            cand = Candidate(name, self.installed[name], extras, installed=True)
            if cand.version not in bad and all(self.is_satisfied_by(r, cand) for r in reqs):
                return [cand]
            with self._lock:
                self.conda_conflicts.setdefault(name, []).extend(r for r in reqs if not self.is_satisfied_by(r, cand))
            return []
        entries = self._entries_for(name)
        pins = {
            Version(s.version)
            for r in reqs
            for s in r.specifier
            if s.operator in ("==", "===") and "*" not in s.version and _is_version(s.version)
        }
        limit = self.constraints.get(name)
        allowed = [
            e
            for e in entries
            if e.version not in bad
            and all(r.specifier.contains(e.version, prereleases=True) for r in reqs)
            and (limit is None or limit.contains(e.version, prereleases=True))
        ]
        allowed = self._final_unless_pre(allowed, [r.specifier for r in reqs])
        # the newest is what the resolver pins most of the time; when the node rules it out, the walk of this
        # project (`_walk`) is fetching the next releases' metadata already
        self._prefetch_metadata([e for e in allowed if e.dist.yanked is None][:1])

        def candidates() -> Iterator[Candidate]:
            # Candidates built for another CUDA major than the one conda already chose come last (up to a bound,
            # so an index with no build of that major does not pull every release's metadata first).
            deferred: list[Candidate] = []
            for e in allowed:
                if e.dist.yanked is not None and e.version not in pins:
                    self._record(
                        Rejection(
                            name=name,
                            version=str(e.version),
                            reason="yanked",
                            code="RS204",
                            message="yanked" + (f": {e.dist.yanked}" if e.dist.yanked else "") + " (PEP 592)",
                            filename=e.dist.filename,
                        )
                    )
                    continue
                cand = Candidate(name, e.version, extras, e.dist)
                unpaired = [r for r in reqs if not self.is_satisfied_by(r, cand)]
                if unpaired:
                    self._record_unpaired(unpaired, cand)
                    continue
                dead = self._pin_ruled_out(cand)
                if dead is not None:
                    self._record(dead)
                    continue
                if self._judge(cand):
                    continue
                if len(deferred) < _DEFER_OTHER_MAJOR and self._other_cuda_major(cand):
                    deferred.append(cand)
                    continue
                yield cand
            yield from deferred

        return candidates

    def _final_unless_pre(self, entries: list[_Entry], specs: Sequence[SpecifierSet]) -> list[_Entry]:
        """Pre-releases only when allowed, asked for by a specifier, or all there is (as pip does)."""
        if (
            self.allow_prereleases
            or any(sp.prereleases for sp in specs)
            or all(e.version.is_prerelease for e in entries)
        ):
            return entries
        return [e for e in entries if not e.version.is_prerelease]

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        if requirement.name != candidate.name or not requirement.specifier.contains(
            candidate.version, prereleases=True
        ):
            return False
        if candidate.installed:
            return True
        # Two local-label builds pair only when the labels agree (+cu121 with +cu121); a build with no
        # label (an NVIDIA component, a plain PyPI upload) is not judged.
        local = candidate.version.local
        if requirement.variant is not None and local is not None and local != requirement.variant:
            return False
        if requirement.cxx_abi is not None:
            abi = torch_cxx_abi(str(candidate.version)) if candidate.name == "torch" else None
            if abi is not None and abi != requirement.cxx_abi:
                return False
        return True

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        if candidate.installed or candidate.dist is None:
            return []
        md = self.metadata(candidate)
        parent = f"{candidate.name} {candidate.version}"
        deps: list[Req] = []
        if candidate.extras:
            deps.append(
                Req(candidate.name, SpecifierSet(f"=={candidate.version}"), parent=parent, text=f"{candidate.name}")
            )
        variant = candidate.version.local
        for line in md.requires_dist:
            req = parse_requirement(line)
            if req is None:
                self.findings.append(
                    make(
                        "RS205",
                        f"{parent}: unparsable Requires-Dist line skipped: {line}",
                        severity=Severity.WARNING,
                        subject=parent,
                    )
                )
                continue
            if not self._applies(req, candidate.extras):
                continue
            dep = Req(
                canonicalize_name(req.name),
                req.specifier,
                frozenset(canonicalize_name(e) for e in req.extras),
                parent=parent,
                text=str(req).split(";")[0].strip(),
            )
            deps.append(dep)
            if variant and any(s.operator in ("==", "===") for s in req.specifier):
                deps.append(Req(dep.name, req.specifier, parent=parent, text=dep.text, variant=variant))
        deps.extend(self._pairings(candidate, parent, {d.name for d in deps}))
        self._prefetch_pages([(d.name, d.specifier) for d in deps])
        return deps

    # -- helpers -------------------------------------------------------------------------------------

    def _pairings(self, candidate: Candidate, parent: str, dep_names: set[str]) -> list[Req]:
        """Companion requirements: the torch release a torchvision/torchaudio pairs with, and its C++ ABI."""
        out: list[Req] = []
        if candidate.extras:
            return out
        self._matrices.result()
        pairing = companion_pairing(candidate.name, str(candidate.version))
        if pairing is not None:
            anchor, spec, cite = pairing
            out.append(
                Req(NormalizedName(anchor), SpecifierSet(spec), parent=parent, text=f"{anchor}{spec}", pairing=cite)
            )
        if "torch" in dep_names or pairing is not None:
            info = self.info(candidate)
            abi = cxx_abi_of(info.binary) if info.binary is not None else None
            if abi is not None:
                out.append(Req(NormalizedName("torch"), SpecifierSet(), parent=parent, text="torch", cxx_abi=abi))
        return out

    def _applies(self, req: Requirement, extras: frozenset[str]) -> bool:
        if req.marker is None:
            return not extras  # unconditional deps belong to the base candidate
        if not extras:
            return bool(req.marker.evaluate({**self.markers, "extra": ""}))
        return any(req.marker.evaluate({**self.markers, "extra": e}) for e in extras) and not req.marker.evaluate(
            {**self.markers, "extra": ""}
        )

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        """The candidate's core metadata (cached)."""
        assert candidate.dist is not None
        return self.fetcher.get(candidate.dist)

    def info(self, candidate: Candidate, *, binary: bool = True) -> CandidateInfo:
        """The filter's view of a candidate; `binary=False`: without its binary facts (nothing read for them)."""
        self._matrices.result()
        key = (candidate.name, candidate.version)
        with self._lock:
            if key in self._infos:
                return self._infos[key]
            if not binary and key in self._bare_infos:
                return self._bare_infos[key]
        dist = candidate.dist
        assert dist is not None
        md = self.fetcher.get(dist)
        info = CandidateInfo(
            name=candidate.name,
            version=str(candidate.version),
            filename=dist.filename,
            url=dist.url,
            index=dist.index,
            sha256=dist.sha256,
            requires_dist=md.requires_dist,
            cuda=cuda_need(candidate.name, str(candidate.version), md.requires_dist, dist.index, markers=self.markers),
            local_variant=local_variant(str(candidate.version)),
        )
        if not binary:
            with self._lock:
                self._bare_infos[key] = info
            return info
        if self.binary_facts is not None:
            report = self.binary_facts(info)
            if report is not None:
                info = info.model_copy(update={"binary": report})
        with self._lock:
            self._infos[key] = info
        return info

    def _pin_ruled_out(self, candidate: Candidate) -> Rejection | None:
        """A rejection when the candidate needs an exact release range of another project (an `==` pin in its
        Requires-Dist, `torch==2.14.1`, or its pytorch.yaml pairing, `torch==2.11.*`) and every release in it has
        already been ruled out: the candidate cannot be installed either, so no wheel byte is read for it. Only
        verdicts already computed count (nothing is fetched for this); one missing means "not known".
        """
        if candidate.extras or candidate.dist is None:
            return None
        for dep, spec in self._exact_needs(candidate):
            if dep in self.installed:
                continue
            with self._lock:
                matching = [e.version for e in self._entries.get(dep, ()) if spec.contains(e.version, True)]
                verdicts = [self._ruled_out((dep, v)) for v in matching]
            if not matching or not all(verdicts):
                continue
            first = verdicts[0][0]  # type: ignore[index]
            return Rejection(
                name=candidate.name,
                version=str(candidate.version),
                reason=first.reason,
                code=first.code,
                message=f"it needs {dep}{spec}, which is ruled out: {first.message}",
                node=first.node,
                filename=candidate.dist.filename,
                evidence=first.evidence,
            )
        return None

    def _exact_needs(self, candidate: Candidate) -> Iterator[tuple[NormalizedName, SpecifierSet]]:
        """The exact release ranges of other projects the candidate needs: its pytorch.yaml pairing (known without
        its metadata, so a release paired with a ruled-out torch is skipped before its metadata is fetched), then
        its `==` pins."""
        pairing = companion_pairing(candidate.name, str(candidate.version))
        if pairing is not None and pairing[0] not in self.installed:
            yield NormalizedName(pairing[0]), SpecifierSet(pairing[1])
        try:
            md = self.metadata(candidate)
        except InputError:
            return
        for line in md.requires_dist:
            req = parse_requirement(line)
            if req is None or not any(s.operator in ("==", "===") and "*" not in s.version for s in req.specifier):
                continue
            dep = canonicalize_name(req.name)
            if dep not in self.installed and self._applies(req, frozenset()):
                yield dep, req.specifier

    def _speculative_read(self, candidate: Candidate) -> None:
        """Read the binary facts of the release a walk expects the resolver to pin, once the walks of the projects
        it needs exactly (torch, for a torchvision) have ended, and only if those leave it installable."""
        for dep, _spec in self._exact_needs(candidate):
            with self._lock:
                walked = self._walked.get(dep)
            if walked is not None:
                walked.wait(_WALK_WAIT_S)
        if self._pin_ruled_out(candidate) is None:
            self.info(candidate)

    def _other_cuda_major(self, candidate: Candidate) -> bool:
        """Whether the candidate needs a CUDA major other than the one the conda side already chose."""
        if self.conda_cuda_major is None or candidate.dist is None:
            return False
        need = self.info(candidate).cuda
        if need is not None:
            return int(need.version.split(".")[0]) != self.conda_cuda_major
        # a torch companion (torchvision, torchaudio) is as far from conda's CUDA as every torch it pairs with
        pairing = companion_pairing(candidate.name, str(candidate.version))
        if pairing is None:
            return False
        anchor, spec, _cite = pairing
        wanted = SpecifierSet(spec)
        anchors = [e for e in self._entries_for(NormalizedName(anchor)) if wanted.contains(e.version)][:4]
        return bool(anchors) and all(
            self._other_cuda_major(Candidate(NormalizedName(anchor), e.version, frozenset(), e.dist)) for e in anchors
        )

    def _judge(self, candidate: Candidate) -> list[Rejection]:
        """The candidate's rejections (empty: offer it), recorded for the 'why not' log."""
        key = (candidate.name, candidate.version)
        out = self._verdict(candidate)
        with self._lock:
            fresh = key not in self._judged
            self._judged[key] = out
        if fresh:
            for r in out:
                self._record(r)
        return out

    def _bare_verdict(self, candidate: Candidate) -> list[Rejection]:
        """What the metadata and the matrices say of a candidate, with no wheel byte read for it (computed once;
        the walk ahead and the resolver both ask)."""
        return self._bare.get((candidate.name, candidate.version), lambda: self._compute_bare(candidate))

    def _compute_bare(self, candidate: Candidate) -> list[Rejection]:
        md = self.metadata(candidate)
        if md.requires_python and not _python_ok(md.requires_python, self.python_full):
            return [
                Rejection(
                    name=candidate.name,
                    version=str(candidate.version),
                    reason="compat",
                    code="RS204",
                    message=f"requires Python {md.requires_python}, the environment has {self.python_full}",
                )
            ]
        return run_filters(self.filters, self.info(candidate, binary=False), self.nodes, self.env)

    def _ruled_out(self, key: tuple[str, Version]) -> list[Rejection] | None:
        """The rejections of a release already known to be ruled out (its verdict, or a bare verdict no wheel
        byte can overturn); None when that is not known (yet). Callers hold `_lock`."""
        verdict = self._verdicts.peek(key)
        if verdict:
            return verdict
        bare = self._bare.peek(key)
        return bare if bare and _settled(bare) else None

    def _verdict(self, candidate: Candidate) -> list[Rejection]:
        """The candidate's rejections, computed once and not recorded (prefetching asks too).

        One thread computes a verdict; another asking for the same candidate meanwhile waits for it instead of
        doing the same work again (the resolver and the prefetch walk ask for the same releases at the same time).
        """
        return self._verdicts.get((candidate.name, candidate.version), lambda: self._compute_verdict(candidate))

    def _compute_verdict(self, candidate: Candidate) -> list[Rejection]:
        try:
            self.metadata(candidate)
        except InputError as exc:
            if exc.code != "RS205":
                raise
            with self._lock:
                self.findings.extend(d.model_copy(update={"severity": Severity.WARNING}) for d in exc.diagnostics)
            out: list[Rejection] = [
                Rejection(
                    name=candidate.name,
                    version=str(candidate.version),
                    reason="compat",
                    code="RS205",
                    message="its metadata cannot be read",
                    filename=candidate.dist.filename if candidate.dist else None,
                )
            ]
        else:
            # Requires-Python, the CUDA its metadata pins vs the driver, a companion pairing: what no wheel byte can
            # change rejects before any is read; the other reasons the published facts give are kept beside it,
            # so --explain names every reason (driver and no kernel)
            out = self._bare_verdict(candidate)
            if self.binary_facts is not None and not _settled(out):
                out = run_filters(self.filters, self.info(candidate), self.nodes, self.env)
        return out

    def has_entries(self, name: str, specs: Sequence[SpecifierSet] = ()) -> bool:
        """Whether the project has a wheel the node accepts in a version all `specs` allow (once looked up)."""
        with self._lock:
            entries = list(self._entries.get(name, ()))
        return any(all(sp.contains(e.version, prereleases=True) for sp in specs) for e in entries)

    def _record_unpaired(self, reqs: Sequence[Req], candidate: Candidate) -> None:
        """Record a companion or ABI mismatch for each pairing requirement `candidate` fails."""
        for req in reqs:
            if req.name != candidate.name or (req.variant is None and req.cxx_abi is None):
                continue
            if self.is_satisfied_by(req, candidate):
                continue
            if req.cxx_abi is not None:
                self._record(
                    Rejection(
                        name=candidate.name,
                        version=str(candidate.version),
                        reason="cxx-abi",
                        code="RS204",
                        message=f"{req.parent} is built with the {req.cxx_abi} C++ ABI; this torch is not",
                        filename=candidate.dist.filename if candidate.dist else None,
                    )
                )
                continue
            got = f"+{candidate.version.local}"
            self._record(
                Rejection(
                    name=candidate.name,
                    version=str(candidate.version),
                    reason="companion",
                    code="RS204",
                    message=f"{req.parent} needs the +{req.variant} build of {req.name}; this one is {got}",
                    filename=candidate.dist.filename if candidate.dist else None,
                )
            )

    def _record(self, rej: Rejection) -> None:
        with self._lock:
            self.rejections.setdefault((rej.name, rej.version, rej.reason, rej.node), rej)

    def _entries_for(self, name: NormalizedName) -> list[_Entry]:
        with self._lock:
            if name in self._entries:
                return self._entries[name]
        files = self.finder.files(name)
        best: dict[Version, tuple[tuple[int, int], DistFile]] = {}
        sdists: set[Version] = set()
        for f in files:
            if f.requires_python and not _python_ok(f.requires_python, self.python_full):
                continue
            if f.kind == "sdist":
                sdists.add(f.version)
                continue
            prio = min((self.tag_priority[t] for t in f.tags if t in self.tag_priority), default=None)
            if prio is None:
                continue
            # Prefer the best tag, then a file that is not yanked, then the first index.
            key = (prio, 1 if f.yanked is not None else 0)
            cur = best.get(f.version)
            if cur is None or key < cur[0]:
                best[f.version] = (key, f)
        entries = [_Entry(v, d) for v, (_k, d) in sorted(best.items(), key=lambda kv: kv[0], reverse=True)]
        with self._lock:
            if not files and name not in self.finder.listed:
                self.not_found.add(name)
            elif not entries and sdists:
                self.sdist_only[name] = [str(v) for v in sorted(sdists, reverse=True)[:3]]
            self._entries[name] = entries
        return entries

    def prefetch(self, reqs: Iterable[Req]) -> None:
        """Start fetching these requirements' projects: pages, the likely release's metadata, and on down."""
        self._prefetch_pages([(r.name, r.specifier) for r in reqs])

    def _prefetch_pages(self, wanted: Sequence[tuple[str, SpecifierSet]]) -> None:
        todo = [(n, spec) for n, spec in wanted if n not in self.installed]
        self.finder.prefetch(n for n, _spec in todo)
        for n, spec in todo:
            with self._lock:
                if n in self._prefetched:
                    continue
                self._prefetched.add(n)
                self._walked[n] = threading.Event()
            self._meta_pool.submit(self._prefetch_newest, NormalizedName(n), spec)

    def _prefetch_newest(self, name: NormalizedName, spec: SpecifierSet) -> None:
        """Fetch the page of `name` and the metadata of its newest release `spec` allows, then its dependencies.

        Speculative: the resolver will most likely pin that release, so its dependencies' pages and metadata
        are fetched in parallel long before the resolver asks for them.
        """
        try:
            self._walk(name, spec)
        finally:
            self._walked[name].set()

    def _walk(self, name: NormalizedName, spec: SpecifierSet) -> None:
        try:
            entries = [e for e in self._entries_for(name) if spec.contains(e.version) and e.dist.yanked is None]
            entries = self._final_unless_pre(entries, [spec])
            # The resolver judges releases newest first and takes the first the node accepts: walk the same
            # way (a bounded number), so that the dependencies of the release it will pin (torch 2.10 when the
            # node rules out 2.11+) are fetched now, not after the resolver has worked through the rejections.
            walk = entries[:_PREFETCH_WALK]
            for i, e in enumerate(walk):
                md = self.fetcher.get(e.dist)
                candidate = Candidate(name, e.version, dist=e.dist)
                if self.binary_facts is None:
                    if not self._verdict(candidate):
                        break
                elif not self._bare_verdict(candidate):
                    # the walk goes on at once; the release's binary facts are read meanwhile
                    self._read_pool.submit(_quiet, self._speculative_read, candidate)
                    break
                if i == 0:
                    # the newest is ruled out: fetch the next releases' metadata in parallel, not one by one
                    # (cold, each is two range requests into the wheel's tail)
                    self._prefetch_metadata(walk[1:])
            else:
                return  # nothing the node accepts near the top: leave the rest to the resolver
        except Exception:  # a prefetch is only a hint; the real fetch reports errors
            return
        wanted: list[tuple[str, SpecifierSet]] = []
        for line in md.requires_dist:
            req = parse_requirement(line)
            with contextlib.suppress(Exception):
                if req is not None and self._applies(req, frozenset()):
                    wanted.append((canonicalize_name(req.name), req.specifier))
        self._prefetch_pages(wanted)

    def _prefetch_metadata(self, entries: Sequence[_Entry]) -> None:
        for e in entries:
            self._meta_pool.submit(_quiet, self.fetcher.get, e.dist)


def _settled(rejections: Sequence[Rejection]) -> bool:
    """Whether a verdict made with no wheel byte read is final: the CUDA its metadata pins vs the driver, a
    companion pairing, or Requires-Python (`RS204`) rejects it whatever its binaries hold."""
    return any(r.reason in _NOT_BINARY or (r.reason, r.code) == ("compat", "RS204") for r in rejections)


def _load_matrices() -> None:
    """Parse the matrices the candidate filters and the judge use, in the order the first verdict asks for them
    (each is cached after its first load; a verdict asking meanwhile waits for this load, not a second one)."""
    from envresolve.matrices import (
        abi_matrix,
        cuda_archs_matrix,
        cuda_drivers_matrix,
        cuda_packages_matrix,
        cudnn_nccl_matrix,
        gpus_matrix,
        pytorch_matrix,
    )
    from envresolve.matrices.access import pip_libs_matrix
    from envresolve.matrices.measured import measured_by_sha256

    loads: tuple[Callable[[], object], ...] = (
        cuda_packages_matrix,
        cuda_drivers_matrix,
        pytorch_matrix,
        cuda_archs_matrix,
        abi_matrix,
        lambda: measured_by_sha256(""),
        gpus_matrix,
        cudnn_nccl_matrix,
        pip_libs_matrix,
    )
    for load in loads:
        load()


def _quiet(fn: Callable[[Any], Any], arg: Any) -> None:
    with contextlib.suppress(Exception):
        fn(arg)


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _python_ok(spec: str, python: Version) -> bool:
    try:
        return SpecifierSet(spec).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # pip ignores an invalid Requires-Python too


class PipReporter(BaseReporter[Req, Candidate, str]):
    """Records companion mismatches (a build that does not pair with the chosen one) as rejections.

    With `progress`, a one-line status (packages pinned, the latest one) is kept on stderr and erased at the
    end; callers turn it on only for a TTY outside CI (`HttpClient.progress`).
    """

    def __init__(self, provider: PipProvider, *, progress: bool = False) -> None:
        self.provider = provider
        self.progress = progress
        self._pinned = 0

    def pinning(self, candidate: Candidate) -> None:
        if not self.progress:
            return
        self._pinned += 1
        sys.stderr.write(f"\r\x1b[Kresolving pip packages: {self._pinned} pinned ({candidate})")
        sys.stderr.flush()

    def ending(self, state: Any) -> None:
        if self.progress:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def rejecting_candidate(self, criterion: Any, candidate: Candidate) -> None:
        infos = list(criterion.information)
        self.provider._record_unpaired([i.requirement for i in infos], candidate)
        for info in infos:
            req: Req = info.requirement
            if info.parent == candidate and (req.cxx_abi is not None or req.variant is not None):
                what = f"the {req.cxx_abi} C++ ABI" if req.cxx_abi else f"the +{req.variant} build"
                self.provider._record(
                    Rejection(
                        name=candidate.name,
                        version=str(candidate.version),
                        reason="cxx-abi" if req.cxx_abi else "companion",
                        code="RS204",
                        message=f"needs {req.name} with {what}, which cannot be chosen here",
                        filename=candidate.dist.filename if candidate.dist else None,
                    )
                )
            if req.pairing is not None and info.parent == candidate:
                self.provider._record(
                    Rejection(
                        name=candidate.name,
                        version=str(candidate.version),
                        reason="companion",
                        code="RS204",
                        message=f"pairs only with {req.name}{req.specifier}, which cannot be chosen here",
                        filename=candidate.dist.filename if candidate.dist else None,
                        evidence=(
                            Evidence(
                                fact=f"{candidate.name} {candidate.version} pairs with {req.name}{req.specifier}",
                                source=req.pairing,
                            ),
                        ),
                    )
                )
