"""C library rules: glibc (CP120), libstdc++ GLIBCXX_/CXXABI_ (CP121, CP122) and DT_NEEDED resolution (CP130)."""

from __future__ import annotations

import posixpath
import re

from packaging.utils import canonicalize_name
from packaging.version import Version

from envresolve.compat.common import emit, pkg_label, ver
from envresolve.compat.facts import glibc_need, runtime_cuda
from envresolve.compat.measured import measured_facts
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, Evidence
from envresolve.matrices import (
    MatrixRow,
    Sourced,
    driver_libs,
    gcc_levels,
    soname_providers,
    system_libs,
    torch_release,
)
from envresolve.node.facts import NodeFacts

__all__ = ["check_glibc", "check_libstdcxx", "check_needed", "libstdcxx_provider"]


def _provenance(node: NodeFacts, fact: str) -> str:
    """'probed', 'declared' or 'inferred' (declared when the source did not say)."""
    prov = node.provenance.get(fact)
    return prov.value if prov is not None else "declared"


def check_glibc(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP120: every package's glibc need against the node's glibc."""
    have = node.glibc_version
    if have is None:
        return []
    out: list[Diagnostic] = []
    node_ev = Evidence(fact=f"node glibc {node.glibc} ({_provenance(node, 'glibc')})", source=node.source)
    for pkg in env.packages:
        need = glibc_need(pkg)
        if need is None:
            continue
        glibc, ev = need
        need_v = ver(glibc)
        if need_v is None or need_v <= have:
            continue
        out.append(
            emit(
                "CP120",
                f"{pkg_label(pkg)} needs glibc >= {glibc}, the node has {node.glibc}",
                subject=pkg.name,
                evidence=[ev, node_ev],
                hint=f"use a node (or container base image) with glibc >= {glibc}, or an older build of {pkg.name}",
                node=node,
            )
        )
    return out


def libstdcxx_provider(env: Environment, node: NodeFacts) -> tuple[str | None, str | None, Evidence] | None:
    """(GLIBCXX level, CXXABI level, evidence) of the libstdc++ that will load: the environment's conda
    libstdcxx / libstdcxx-ng if it ships one, else the node's."""
    conda = next((p for p in env.packages if p.ecosystem == "conda" and p.name in ("libstdcxx", "libstdcxx-ng")), None)
    if conda is not None:
        levels = gcc_levels(conda.version)
        if levels is not None:
            fact = (
                f"the environment ships {pkg_label(conda)}: GCC {levels.row.gcc} libstdc++ defines up to "
                f"GLIBCXX_{levels.row.glibcxx} / CXXABI_{levels.row.cxxabi}"
            )
            return levels.row.glibcxx, levels.row.cxxabi, levels.evidence(fact)
    if node.libstdcxx is not None and (node.libstdcxx.glibcxx or node.libstdcxx.cxxabi):
        fact = (
            f"the node's libstdc++ ({node.libstdcxx.path or 'system'}) defines up to "
            f"GLIBCXX_{node.libstdcxx.glibcxx or '?'} / CXXABI_{node.libstdcxx.cxxabi or '?'}"
        )
        return node.libstdcxx.glibcxx, node.libstdcxx.cxxabi, Evidence(fact=fact, source=node.source)
    return None


def _cxx_needs(pkg: Package) -> tuple[str | None, str | None, Evidence] | None:
    rep = pkg.binary
    label = pkg_label(pkg)
    if rep is not None and (rep.max_glibcxx or rep.max_cxxabi):
        fact = f"{label} needs GLIBCXX_{rep.max_glibcxx or '-'} / CXXABI_{rep.max_cxxabi or '-'} (binary facts)"
        return rep.max_glibcxx, rep.max_cxxabi, Evidence(fact=fact, source=rep.artifact)
    measured = measured_facts(pkg) if rep is None else None
    if measured is not None and (measured.row.glibcxx or measured.row.cxxabi):
        row = measured.row
        fact = f"{label} needs GLIBCXX_{row.glibcxx or '-'} / CXXABI_{row.cxxabi or '-'}"
        return row.glibcxx, row.cxxabi, measured.evidence(fact)
    if str(canonicalize_name(pkg.name)) == "torch" and pkg.ecosystem == "pypi":
        rel = torch_release(pkg.version)
        if rel is not None and (rel.row.glibcxx or rel.row.cxxabi):
            fact = (
                f"{label} needs GLIBCXX_{rel.row.glibcxx or '-'} / CXXABI_{rel.row.cxxabi or '-'} "
                "(derived from the matrix)"
            )
            return rel.row.glibcxx, rel.row.cxxabi, rel.evidence(fact)
    return None


def check_libstdcxx(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP121/CP122: GLIBCXX_/CXXABI_ needs against the libstdc++ that will load."""
    provider = libstdcxx_provider(env, node)
    if provider is None:
        return []
    have_glibcxx, have_cxxabi, prov_ev = provider
    out: list[Diagnostic] = []
    for pkg in env.packages:
        needs = _cxx_needs(pkg)
        if needs is None:
            continue
        need_glibcxx, need_cxxabi, need_ev = needs
        for code, prefix, need, have in (
            ("CP121", "GLIBCXX", need_glibcxx, have_glibcxx),
            ("CP122", "CXXABI", need_cxxabi, have_cxxabi),
        ):
            nv, hv = ver(need), ver(have)
            if nv is None or hv is None or nv <= hv:
                continue
            out.append(
                emit(
                    code,
                    f"{pkg_label(pkg)} needs {prefix}_{need}, the libstdc++ that will load provides up to "
                    f"{prefix}_{have}",
                    subject=pkg.name,
                    evidence=[need_ev, prov_ev],
                    hint=_cxx_hint(prefix, need),
                    node=node,
                )
            )
    return out


def _cxx_hint(prefix: str, need: str | None) -> str:
    from envresolve.matrices import abi_matrix

    nv = ver(need)
    rows = sorted(abi_matrix().gcc, key=lambda r: Version(r.gcc))
    for row in rows:
        level = ver(row.glibcxx if prefix == "GLIBCXX" else row.cxxabi)
        if nv is not None and level is not None and level >= nv:
            return (
                f"add libstdcxx-ng >= {row.gcc} (GCC {row.gcc} defines {prefix}_{need}) to the environment, "
                "or use a node image with a newer libstdc++"
            )
    return "use a newer libstdc++ (environment or node)"


# --- DT_NEEDED ------------------------------------------------------------------------------------------------

_DEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_CUDA_LIB_PREFIXES = ("libcu", "libnv", "libnccl", "libcudnn")


def check_needed(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP130: DT_NEEDED entries that nothing in the environment or on the node provides."""
    provided: set[str] = set()
    names = {str(canonicalize_name(p.name)) for p in env.packages} | {p.name for p in env.packages}
    # a dependency a package declares will be installed with it (this matters for candidate verdicts, where the
    # dependencies are not chosen yet)
    for p in env.packages:
        for dep in p.depends:
            match = _DEP_NAME.match(dep.strip())
            if match:
                names |= {match.group(0), str(canonicalize_name(match.group(0)))}
    for pkg in env.packages:
        if pkg.binary is None:
            continue
        for elf in pkg.binary.elf:
            provided.add(posixpath.basename(elf.path))
            if elf.soname:
                provided.add(elf.soname)
    always = driver_libs() | system_libs()
    out: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    for pkg in env.packages:
        if pkg.binary is None:
            continue
        for elf in pkg.binary.elf:
            for lib in elf.needed:
                if lib in provided or lib in always or (pkg.name, lib) in seen:
                    continue
                providers = list(soname_providers(lib))
                if any(name in names for name, _, _ in providers):
                    continue
                seen.add((pkg.name, lib))
                out.append(_missing(pkg, elf.path, lib, providers, env, node))
    return out


def _missing(
    pkg: Package,
    path: str,
    lib: str,
    providers: list[tuple[str, int | None, Sourced[MatrixRow]]],
    env: Environment,
    node: NodeFacts,
) -> Diagnostic:
    label = pkg_label(pkg)
    where = posixpath.basename(path)
    ev: list[Evidence] = [
        Evidence(
            fact=f"{where} of {label} has DT_NEEDED {lib} (binary facts)",
            source=pkg.binary.artifact if pkg.binary else None,
        )
    ]
    cuda = runtime_cuda(env)
    hint: str
    if providers:
        same = [p for p in providers if p[0].startswith("nvidia-") == (pkg.ecosystem == "pypi")]
        providers = same or providers
        providers.sort(key=lambda p: p[2].unsure)
        names = sorted({name for name, _, _ in providers})
        ev.append(providers[0][2].evidence(f"{lib} is shipped by {', '.join(names)}"))
        hint = f"add {' or '.join(names)} to the environment"
        majors = [m if m is not None else _suffix_major(name) for name, m, _ in providers]
        if cuda is not None and all(m is not None and m != cuda.major for m in majors):
            hint += f", or use a build of {pkg.name} for the environment's CUDA {cuda.major}"
        severity = None
    elif lib.startswith(_CUDA_LIB_PREFIXES):
        hint = f"add the package that ships {lib} to the environment"
        severity = None
    else:
        from envresolve.diagnostics import Severity

        hint = f"make sure the node (or container image) provides {lib}, or add a package that ships it"
        severity = Severity.WARNING
        ev.append(Evidence(fact="the node's system libraries beyond glibc and libstdc++ are not inventoried"))
    return emit(
        "CP130",
        f"{lib} needed by {where} of {label} is provided by nothing in the environment or on the node",
        subject=pkg.name,
        evidence=ev,
        hint=hint,
        node=node,
        severity=severity,
    )


def _suffix_major(name: str) -> int | None:
    match = re.search(r"-cu(1[0-9])$", name)
    return int(match.group(1)) if match else None
