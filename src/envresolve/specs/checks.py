"""Static lint checks (no network) on the environment a spec really builds, optionally against a node.

Every fact about packages, CUDA and drivers comes from the matrices (`envresolve.matrices`), cited in the
finding's evidence; this module only reads the spec and applies the rules.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve import matrices as mx
from envresolve.diagnostics import Diagnostic, Evidence, Location, Severity, make
from envresolve.specs.claims import CudaClaim
from envresolve.specs.extensions import extension_findings
from envresolve.specs.judged import WheelFactsLookup, judge_spec, spec_environment
from envresolve.specs.model import CondaDependency, EnvSpec, PipRequirement

if TYPE_CHECKING:
    from envresolve.node.facts import NodeFacts

__all__ = ["NODE_FACTS", "CudaClaim", "check_spec", "check_spec_nodes", "cuda_claims"]

_CU_INDEX = re.compile(r"(?:^|/)cu(?P<major>1[0-9]|[7-9])(?P<minor>[0-9])(?:/|$)")
_CU_LOCAL = re.compile(r"^cu(?P<major>1[0-9]|[7-9])(?P<minor>[0-9])$")
_EXACT = re.compile(r"^(?:==)?(?P<v>[0-9]+(?:\.[0-9]+)*)(?:\.\*)?$")
_RANGE_MAJOR = re.compile(r"^>=(?P<lo>[0-9]+)(?:\.0)*,<(?P<hi>[0-9]+)(?:\.0)*(?:a0)?$")
_JAX_GUIDE = (
    "JAX installation guide: `pip install jax` is CPU-only on Linux; NVIDIA GPUs need `jax[cuda12]` or `jax[cuda13]`"
)


def _where(loc: Location | None) -> str | None:
    return str(loc) if loc else None


@functools.lru_cache(maxsize=8192)
def _spec_parts(spec: str) -> tuple[str | None, str | None]:
    """(version, build) of a MatchSpec string, cached (manifests repeat their specs)."""
    from rattler import MatchSpec

    try:
        ms = MatchSpec(spec, strict=True)
    except Exception:  # specs were validated at load time; be defensive anyway
        return None, None
    return (str(ms.version) if ms.version is not None else None), ms.build


def _conda_version(dep: CondaDependency) -> str | None:
    """The single version (or major) a conda spec pins, if it pins one."""
    version, _build = _spec_parts(dep.spec)
    if version is None:
        return None
    text = version.replace(" ", "")
    m = _EXACT.match(text)
    if m:
        return m.group("v")
    m = _RANGE_MAJOR.match(text)
    if m and int(m.group("hi")) == int(m.group("lo")) + 1:
        return m.group("lo")
    return None


def _pip_pinned(req: PipRequirement) -> str | None:
    m = re.fullmatch(r"===?(?P<v>[^,;\s]+)", req.specifier.strip())
    return m.group("v") if m else None


def _indexes_for(spec: EnvSpec, req: PipRequirement) -> list[tuple[str, Location | None]]:
    if req.index:
        return [(req.index, req.location)]
    return [(i.display, i.location) for i in spec.indexes if i.kind in ("index-url", "extra-index-url")]


def _claim(
    what: str,
    dep: CondaDependency | PipRequirement,
    cuda: str,
    kind: Literal["runtime", "framework"],
    evidence: Evidence,
    *,
    torch_version: str | None = None,
    specifier: str = "",
) -> CudaClaim:
    return CudaClaim(
        cuda=cuda,
        what=what,
        ecosystem="conda" if isinstance(dep, CondaDependency) else "pypi",
        package=dep.name,
        kind=kind,
        location=dep.location,
        evidence=evidence,
        torch_version=torch_version,
        specifier=specifier,
    )


def cuda_claims(spec: EnvSpec) -> list[CudaClaim]:
    """Every CUDA version the spec pins: conda CUDA packages and builds, pip CUDA wheels, torch variants."""
    claims: list[CudaClaim] = []
    for dep in spec.conda:
        what = f"conda {dep.raw}"
        version = _conda_version(dep)
        if version is not None:
            probe = version if "." in version else f"{version}.0"
            hit = _cuda_of(dep.name, probe, "conda")
            if hit is not None:
                cuda = hit[0] if "." in version else version
                ev = hit[1].evidence(f"{dep.name} {version} pins CUDA {cuda}")
                claims.append(_claim(what, dep, cuda, "runtime", ev))
                continue
        build = _spec_parts(dep.spec)[1]
        if build and not any(c in build for c in "*?"):
            hit = mx.cuda_of_build_string(build)
            if hit is not None:
                ev = hit[1].evidence(f"build {build} is CUDA {hit[0]}")
                claims.append(_claim(what, dep, hit[0], "framework", ev))
    for req in spec.pip:
        if req.constraint or not req.name:
            continue
        what = f"pip {req.raw}"
        pinned = _pip_pinned(req)
        if pinned:
            hit = _cuda_of(req.name, pinned.split("+")[0], "pypi")
            if hit is not None:
                ev = hit[1].evidence(f"{req.name} {pinned} is built for CUDA {hit[0]}")
                claims.append(_claim(what, req, hit[0], "runtime", ev))
                continue
        else:
            hit = _cuda_of(req.name, "0", "pypi")
            if hit is not None:
                if "." not in hit[0]:
                    ev = hit[1].evidence(f"{req.name} is built for CUDA {hit[0]}")
                    claims.append(_claim(what, req, hit[0], "runtime", ev))
                continue
        local = pinned.split("+", 1)[1] if pinned and "+" in pinned else None
        if local:
            m = _CU_LOCAL.match(local)
            if m:
                cuda = f"{m['major']}.{m['minor']}"
                ev = Evidence(fact=f"local version +{local} names CUDA {cuda}")
                torch_version = pinned if req.name == "torch" else None
                claims.append(_claim(what, req, cuda, "framework", ev, torch_version=torch_version))
            continue
        if req.name != "torch":
            continue
        for url, where in _indexes_for(spec, req):
            m = _CU_INDEX.search(url.split("?")[0].rstrip("/") + "/")
            if m:
                cuda = f"{m['major']}.{m['minor']}"
                ev = Evidence(fact=f"the index {url} serves CUDA {cuda} builds", source=_where(where))
                claims.append(
                    _claim(
                        f"{what} from {url}", req, cuda, "framework", ev, torch_version=pinned, specifier=req.specifier
                    )
                )
                break
        else:
            # a pinned torch from PyPI itself (no wheel index for a variant in the spec) is PyPI's default variant
            if pinned and not req.url and not any("/whl/" in u for u, _w in _indexes_for(spec, req)):
                default = mx.torch_variant(pinned)
                if default is not None:
                    cuda = default.row.cuda
                    ev = default.evidence(f"torch {pinned} on PyPI without a local version is the CUDA {cuda} build")
                    claims.append(
                        _claim(
                            f"{what} (PyPI's default CUDA {cuda} build)",
                            req,
                            cuda,
                            "framework",
                            ev,
                            torch_version=pinned,
                            specifier=req.specifier,
                        )
                    )
    return claims


@functools.lru_cache(maxsize=1024)
def _min_driver(cuda: str) -> mx.Sourced[Any] | None:
    return mx.cuda_min_driver(cuda)


@functools.lru_cache(maxsize=1024)
def _cuda_of(name: str, version: str, ecosystem: str) -> tuple[str, mx.Sourced[Any]] | None:
    return mx.cuda_of_package_name(name, version, ecosystem)


@functools.lru_cache(maxsize=1024)
def _tegra(gpu_name: str) -> bool:
    row = mx.gpu_by_name(gpu_name)
    return row is not None and row.row.tegra


# -- checks without a node ------------------------------------------------------------------------------------
def _variant_conflicts(claims: list[CudaClaim]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    conda = [c for c in claims if c.ecosystem == "conda"]
    pip_fw = [c for c in claims if c.ecosystem == "pypi" and c.kind == "framework"]
    for p in pip_fw:
        for c in conda:
            if c.major == p.major and _differs(c, p):
                out.append(
                    make(
                        "SP201",
                        f"{p.what} is built for CUDA {p.cuda}, but {c.what} pins CUDA {c.cuda}; pip installs after "
                        "conda with no joint resolution, so both end up in the environment",
                        subject=p.package,
                        location=p.location,
                        evidence=[e for e in (p.evidence, c.evidence) if e]
                        + [Evidence(fact=f"{c.what} is at {c.location}")],
                        hint=f"use the cu{c.cuda.replace('.', '')} torch build, or pin CUDA {p.cuda} on the conda side",
                    )
                )
                break
    # conda pins that disagree with each other (cudatoolkit is handled as a second runtime below)
    split = [c for c in conda if c.kind == "runtime" and c.package != "cudatoolkit"]
    for a, b in itertools.pairwise(split):
        if _differs(a, b):
            out.append(
                make(
                    "SP201",
                    f"{b.what} pins CUDA {b.cuda} but {a.what} pins CUDA {a.cuda}: no environment satisfies both",
                    subject=b.package,
                    location=b.location,
                    evidence=[e for e in (a.evidence, b.evidence) if e],
                )
            )
    return out


def _differs(a: CudaClaim, b: CudaClaim) -> bool:
    if a.major != b.major:
        return True
    return a.has_minor and b.has_minor and a.cuda != b.cuda


def _two_runtimes(claims: list[CudaClaim]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    runtime = [c for c in claims if c.kind == "runtime"]
    toolkit = [c for c in runtime if c.ecosystem == "conda" and c.package == "cudatoolkit"]
    others = [c for c in runtime if c.ecosystem == "conda" and c.package != "cudatoolkit"]
    pip_rt = [c for c in runtime if c.ecosystem == "pypi"]
    pairs: list[tuple[CudaClaim, CudaClaim]] = []
    if toolkit and others:
        pairs.append((toolkit[0], others[0]))
    conda_rt = toolkit[:1] + others[:1]
    if conda_rt and pip_rt:
        pairs.append((conda_rt[0], pip_rt[0]))
    for a, b in pairs:
        if a.major != b.major:
            continue  # different majors: CP160 from the judge
        out.append(
            make(
                "SP211",
                f"two CUDA runtimes: {a.what} (CUDA {a.cuda}) and {b.what} (CUDA {b.cuda}); same major, but two "
                "copies of the libraries",
                severity=Severity.WARNING,
                subject=b.package,
                location=b.location,
                evidence=[e for e in (a.evidence, b.evidence) if e] + [Evidence(fact=f"{a.what} is at {a.location}")],
                hint="keep one CUDA packaging: cudatoolkit (CUDA 11 and older) or cuda-version/cuda-* (CUDA 12+)",
            )
        )
    return out


def _declared_cuda(spec: EnvSpec, claims: list[CudaClaim]) -> list[Diagnostic]:
    declared = spec.system_requirements.cuda
    if not declared:
        return []
    try:
        dv = Version(declared)
    except InvalidVersion:
        return []
    out: list[Diagnostic] = []
    for c in claims:
        try:
            cv = Version(c.cuda)
        except InvalidVersion:
            continue
        if cv.release[0] > dv.release[0] or (c.has_minor and "." in declared and cv > dv):
            out.append(
                make(
                    "SP205",
                    f"{c.what} asks for CUDA {c.cuda} but the spec declares CUDA {declared} as its system requirement",
                    severity=Severity.ERROR if cv.release[0] != dv.release[0] else None,
                    subject=c.package,
                    location=c.location,
                    evidence=[Evidence(fact=f"declared cuda = {declared}", source=_where(spec.location))]
                    + ([c.evidence] if c.evidence else []),
                    hint=f"raise the declared cuda to {c.cuda}, or pin CUDA {declared}",
                )
            )
    return out


def _shadows(spec: EnvSpec) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    conda_by_pypi: dict[str, tuple[CondaDependency, mx.Sourced[mx.MatrixRow]]] = {}
    for dep in spec.conda:
        if dep.name == "python":
            continue
        pypi, src = mx.conda_to_pypi(dep.name)
        if pypi:
            conda_by_pypi.setdefault(str(canonicalize_name(pypi)), (dep, src))
    for req in spec.pip:
        if req.constraint or not req.name:
            continue
        hit = conda_by_pypi.get(str(canonicalize_name(req.name)))
        if hit is None:
            continue
        dep, src = hit
        origin = f" (added by the {dep.added_by})" if dep.added_by else ""
        out.append(
            make(
                "SP210",
                f"pip installs {req.name} over conda's {dep.name}{origin}; pip runs after conda with no joint "
                "resolution and overwrites its files",
                subject=req.name,
                location=req.location,
                evidence=[
                    src.evidence(f"conda {dep.name} is PyPI {req.name}"),
                    Evidence(fact=f"conda {dep.raw}", source=_where(dep.location)),
                ],
                hint=f"install {req.name} from one side only",
            )
        )
    return out


@functools.cache
def _ambiguous_gpu_names() -> dict[str, str]:
    """conda names that exist as CPU and GPU builds: those with a `-gpu`/`-cpu` selector of the same PyPI project."""
    rows = mx.conda_names_matrix().rows
    out: dict[str, str] = {}
    for row in rows:
        for suffix in ("-gpu", "-cpu"):
            if row.conda.endswith(suffix) and row.pypi:
                base = row.conda[: -len(suffix)]
                pypi, _src = mx.conda_to_pypi(base)
                if pypi and canonicalize_name(pypi) == canonicalize_name(row.pypi):
                    out[base] = row.pypi
    return out


def _cpu_fallback(spec: EnvSpec, claims: list[CudaClaim], node: NodeFacts | None) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    ambiguous = _ambiguous_gpu_names()
    names = {d.name for d in spec.conda}
    has_cuda_pin = any(c.ecosystem == "conda" for c in claims)
    for dep in spec.conda:
        if dep.name not in ambiguous or dep.added_by:
            continue
        if has_cuda_pin or f"{dep.name}-gpu" in names or f"{dep.name}-cpu" in names or "cuda" in dep.spec:
            continue
        pypi, src = mx.conda_to_pypi(f"{dep.name}-gpu")
        out.append(
            make(
                "SP212",
                f"{dep.raw!r} does not say CPU or CUDA: the solver may pick a CPU build "
                "(and will wherever __cuda is missing)",
                subject=dep.name,
                location=dep.location,
                evidence=[src.evidence(f"{dep.name}-gpu selects the CUDA build of {pypi}")],
                hint=f"add {dep.name}-gpu, a CUDA pin (cuda-version / pytorch-cuda) or a `*cuda*` build string",
            )
        )
    pip_names = {r.name for r in spec.pip}
    # a jaxlib pinned to a CUDA build (`jaxlib==0.4.9+cuda11.cudnn86`, the pre-plugin way) is not the CPU one
    cuda_jaxlib = any(r.name == "jaxlib" and "+cuda" in (_pip_pinned(r) or "") for r in spec.pip)
    for req in spec.pip:
        if req.name == "jax" and not any("cuda" in e for e in req.extras):
            if cuda_jaxlib or any(n.startswith("jax-cuda") for n in pip_names):
                continue
            out.append(
                make(
                    "SP212",
                    f"{req.raw!r} installs the CPU-only jaxlib",
                    subject="jax",
                    location=req.location,
                    evidence=[Evidence(fact=_JAX_GUIDE)],
                    hint="use jax[cuda12] (or jax[cuda13])",
                )
            )
        if req.name == "torch" and node is not None and node.gpus:
            pinned = _pip_pinned(req) or ""
            cpu_index = next(
                (u for u, _w in _indexes_for(spec, req) if re.search(r"/cpu/?$", u.split("?")[0])),
                None,
            )
            if pinned.endswith("+cpu") or cpu_index:
                why = f"from {cpu_index}" if cpu_index else "pinned +cpu"
                out.append(
                    make(
                        "SP212",
                        f"torch is the CPU build ({why}) but the node has {len(node.gpus)} GPU(s)",
                        subject="torch",
                        location=req.location,
                        evidence=[Evidence(fact=f"node GPUs: {', '.join(g.name for g in node.gpus)}")],
                    )
                )
    return out


# -- checks against a node ------------------------------------------------------------------------------------
def _missing_variants(claims: list[CudaClaim]) -> list[Diagnostic]:
    """SP204: a pinned torch release asked for a CUDA variant it was never built for (pip finds no such wheel)."""
    out: list[Diagnostic] = []
    for c in claims:
        if c.package != "torch" or c.kind != "framework" or not c.torch_version:
            continue
        version = c.torch_version.split("+", 1)[0]
        rel = mx.torch_release(version)
        if rel is None or mx.torch_variant(version, c.cuda) is not None:
            continue
        have = ", ".join(v.cuda for v in rel.row.variants)
        out.append(
            make(
                "SP204",
                f"torch {rel.row.version} has no CUDA {c.cuda} build in the matrix (it lists CUDA {have})",
                subject="torch",
                location=c.location,
                evidence=[rel.evidence(f"torch {rel.row.version} variants: CUDA {have}")],
                hint=f"pick a CUDA variant torch {rel.row.version} was built for",
            )
        )
    return out


#: the node facts the checks below read (`node.<fact>`) for a spec without an image (one with an image is checked
#: on the image-on-node facts: the image's OS and C libraries); callers may group nodes by these alone
#: (`envresolve webhook` does, for Datasets). tests/webhook/test_review.py fails when a check reads another fact.
NODE_FACTS = ("cpu", "driver", "gpus")


def check_spec(
    spec: EnvSpec, node: NodeFacts | None, *, wheel_facts: WheelFactsLookup | None = None
) -> list[Diagnostic]:
    """Every lint check on one spec; node-dependent checks run only when a node is given.

    Compatibility findings (driver, kernels, glibc, pairing, Python, CUDA majors, cuDNN) come from the judge
    (`envresolve.compat`) with the same codes lock and check use; the SP checks read the spec's structure.
    `wheel_facts` reads the binary facts of wheels the spec names by URL."""
    return check_spec_nodes(spec, [node], wheel_facts=wheel_facts)[0]


def check_spec_nodes(
    spec: EnvSpec, nodes: Sequence[NodeFacts | None], *, wheel_facts: WheelFactsLookup | None = None
) -> list[list[Diagnostic]]:
    """`check_spec` for each node; the checks that do not read the node run once per CPU architecture (the
    only node fact they depend on, through PEP 508 markers)."""
    shared: dict[str | None, tuple[EnvSpec, list[CudaClaim], list[Diagnostic]]] = {}
    out: list[list[Diagnostic]] = []
    for node in nodes:
        arch = node.cpu.arch if node is not None else None
        if arch not in shared:
            shared[arch] = _spec_only(spec, node)
        applied, claims, found = shared[arch]
        out.append([*found, *_node_checks(applied, claims, node, wheel_facts)])
    return out


def _spec_only(spec: EnvSpec, node: NodeFacts | None) -> tuple[EnvSpec, list[CudaClaim], list[Diagnostic]]:
    applicable = tuple(r for r in spec.pip if _applies(r, spec, node))
    if len(applicable) != len(spec.pip):
        spec = spec.model_copy(update={"pip": applicable})
    claims = cuda_claims(spec)
    out: list[Diagnostic] = []
    out += _variant_conflicts(claims)
    out += _two_runtimes(claims)
    out += _declared_cuda(spec, claims)
    out += _shadows(spec)
    return spec, claims, out


def _node_checks(
    spec: EnvSpec, claims: list[CudaClaim], node: NodeFacts | None, wheel_facts: WheelFactsLookup | None = None
) -> list[Diagnostic]:
    out = extension_findings(spec, node)
    if not (spec.cpu_variant and node is not None and node.driver is not None):
        out += _cpu_fallback(spec, claims, node)
    if spec.image is not None:
        from envresolve.node.images import image_node, image_on_node
        from envresolve.specs.container_checks import check_image

        node = image_on_node(spec.image, node) if node is not None else None
        out += check_image(spec, node or image_node(spec.image), claims)
    on_node = node is not None and not _node_is_other_platform(spec, node)
    if on_node and node is not None:
        out += _declared_vs_node(spec, node)
        out += _missing_variants(claims)
    pins = {d.name: v for d in spec.conda if (v := _conda_version(d)) is not None}
    packages = spec_environment(spec, claims, pins, wheel_facts)
    # in an image, glibc, libstdc++ and CUDA majors are judged with the image's facts (`check_image`)
    image_rules = frozenset({"glibc", "libstdcxx", "mixed-cuda-majors"}) if spec.image is not None else frozenset()
    out += judge_spec(packages, _spec_python(spec), node if on_node else None, without=image_rules)
    return out


def _spec_python(spec: EnvSpec) -> str | None:
    m = re.fullmatch(r"(?:==)?(?P<v>[0-9]+\.[0-9]+(?:\.[0-9]+)?)(?:\.\*)?", (spec.python or "").strip())
    return m["v"] if m else None


def _declared_vs_node(spec: EnvSpec, node: NodeFacts) -> list[Diagnostic]:
    """A declared `cuda` system requirement (pixi) that the node's driver does not meet."""
    declared = spec.system_requirements.cuda
    if not declared:
        return []
    node_cuda = node.cuda_driver_version
    try:
        need = Version(declared)
    except InvalidVersion:
        return []
    if node_cuda is not None and node_cuda >= need:
        return []
    if node_cuda is None and node.driver is not None:
        return []  # a driver whose CUDA level is unknown (Slurm node facts): unknown is never an error
    have = f"its driver supports CUDA {node.driver.cuda}" if node.driver and node.driver.cuda else "it has no driver"
    return [
        make(
            "SP202",
            f"the environment declares cuda >= {declared}, but {have} on node {node.label}; "
            "the solver will refuse it there",
            subject="cuda",
            location=spec.location,
            evidence=[Evidence(fact=f"declared cuda = {declared}", source=_where(spec.location))],
        )
    ]


def _applies(req: PipRequirement, spec: EnvSpec, node: NodeFacts | None) -> bool:
    """False when the requirement's PEP 508 marker is false for this environment (Linux, the spec's Python, the
    node's CPU); markers naming anything we do not know are kept."""
    if not req.marker:
        return True
    env = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython"}
    env["platform_machine"] = node.cpu.arch if node is not None else "x86_64"
    m = re.fullmatch(
        r"(?:==)?(?P<maj>[0-9]+)\.(?P<min>[0-9]+)(?P<rest>(?:\.[0-9]+)?)(?:\.\*)?", (spec.python or "").strip()
    )
    if m:
        env["python_version"] = f"{m['maj']}.{m['min']}"
        env["python_full_version"] = f"{m['maj']}.{m['min']}{m['rest'] or '.0'}"
    try:
        return bool(Marker(req.marker).evaluate(env))
    except (InvalidMarker, UndefinedEnvironmentName, TypeError, ValueError):
        return True


def _node_is_other_platform(spec: EnvSpec, node: NodeFacts) -> bool:
    """A spec that does not run on this node at all: no platform for its OS/arch, or a pixi platform variant
    that pixi does not select there (the CPU variant on a GPU node; a variant that declares `cuda` on a node
    without a driver)."""
    if spec.cpu_variant and node.driver is not None:
        return True
    if spec.format == "pixi" and spec.system_requirements.cuda and node.driver is None and spec.cpu_variant is False:
        return spec.origin is not None and ", platform " in spec.origin
    if not spec.platforms:
        return False
    arch = {"x86_64": "64", "aarch64": "aarch64", "ppc64le": "ppc64le"}[node.cpu.arch]
    return f"linux-{arch}" not in spec.platforms
