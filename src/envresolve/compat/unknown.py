"""What an environment needs of a fact the node does not state (RS130 glibc, RS131 libstdc++, RS132 driver,
RS133 kernel).

Unknown is never an error: the resolvers do not hold an unknown glibc, libstdc++ or driver CUDA level against a
package. What the chosen packages need of that fact is still known, so each rule here states it, as a warning
on the node, with the package that sets the floor:

- glibc: the highest `__glibc >=` among conda records' `depends`, and each package's glibc need
  (`compat.facts.glibc_need`: binary facts, the torch matrix row, the wheel's manylinux tag);
- libstdc++: the highest `GLIBCXX_` / `CXXABI_` need, when no conda libstdc++ in the environment provides them;
- kernel: the highest `__linux >=` among conda records' `depends`, for a node whose kernel release is unknown;
- driver: the highest CUDA a package brings (`compat.facts.cuda_claims`) or a conda record's `__cuda >=`, for
  a node whose driver is present (it lists GPUs) with neither its version nor its CUDA level known.
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from envresolve.compat.common import emit, pkg_label, ver
from envresolve.compat.facts import env_cuda_claims, glibc_need
from envresolve.compat.libs import _cxx_needs, libstdcxx_provider
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, Evidence
from envresolve.matrices import cuda_min_driver, minor_compat_floor
from envresolve.node.facts import NodeFacts

__all__ = ["check_unknown_facts", "virtual_package_floor"]

_LOWER = re.compile(r"(>=|==|>|=)\s*([0-9][0-9.]*)")


def virtual_package_floor(depends: tuple[str, ...] | list[str], name: str) -> str | None:
    """The lowest version of virtual package `name` that these conda `depends` admit ('__glibc >=2.28' -> '2.28').

    Alternatives (`|`) take their lowest bound, conjunctions (`,`) their highest; a dependency with no lower
    bound gives none.

    >>> virtual_package_floor(("python >=3.12", "__glibc >=2.17,<3.0.a0"), "__glibc")
    '2.17'
    """
    best: Version | None = None
    text: str | None = None
    for dep in depends:
        parts = dep.strip().split(None, 1)
        if not parts or parts[0] != name or len(parts) < 2:
            continue
        alts: list[tuple[Version, str]] = []
        for alt in parts[1].split()[0].split("|"):
            highs = [(v, s) for s, v in _bounds(alt)]
            if not highs:
                alts = []
                break
            alts.append(max(highs))
        if not alts:
            continue
        low = min(alts)
        if best is None or low[0] > best:
            best, text = low
    return text


def _bounds(alt: str) -> list[tuple[str, Version]]:
    out: list[tuple[str, Version]] = []
    for part in alt.split(","):
        m = _LOWER.match(part.strip())
        if m is None:
            continue
        s = m.group(2).rstrip(".")
        try:
            out.append((s, Version(s)))
        except InvalidVersion:
            continue
    return out


def _highest(found: list[tuple[str, Evidence, Package]]) -> tuple[str, Evidence, Package] | None:
    known = [(v, f) for f in found if (v := ver(f[0])) is not None]
    return max(known, key=lambda t: t[0])[1] if known else None


def _glibc_floor(env: Environment) -> tuple[str, Evidence, Package] | None:
    found: list[tuple[str, Evidence, Package]] = []
    for pkg in env.packages:
        need = glibc_need(pkg)
        if need is not None:
            found.append((need[0], need[1], pkg))
        if pkg.ecosystem == "conda":
            floor = virtual_package_floor(pkg.depends, "__glibc")
            if floor is not None:
                fact = f"{pkg_label(pkg)} depends on __glibc >={floor} (repodata)"
                found.append((floor, Evidence(fact=fact, source=pkg.url or pkg.channel), pkg))
    return _highest(found)


def _cuda_floor(env: Environment) -> tuple[str, Evidence, Package] | None:
    found = [(c.version, c.evidence, c.package) for c in env_cuda_claims(env)]
    for pkg in env.packages:
        if pkg.ecosystem == "conda":
            floor = virtual_package_floor(pkg.depends, "__cuda")
            if floor is not None:
                fact = f"{pkg_label(pkg)} depends on __cuda >={floor} (repodata)"
                found.append((floor, Evidence(fact=fact, source=pkg.url or pkg.channel), pkg))
    return _highest(found)


def _unknown_ev(node: NodeFacts, what: str) -> Evidence:
    return Evidence(fact=f"{node.label}: {what} unknown (the node facts do not state it)", source=node.source)


def check_unknown_facts(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """RS130/RS131/RS132: the floor the environment needs of each fact the node leaves unknown."""
    out: list[Diagnostic] = []
    if node.glibc is None:
        found = _glibc_floor(env)
        if found is not None:
            need, ev, pkg = found
            out.append(
                emit(
                    "RS130",
                    f"this environment needs glibc >= {need} on {node.label}, whose glibc is unknown "
                    f"({pkg_label(pkg)} sets the floor)",
                    subject=pkg.name,
                    evidence=[ev, _unknown_ev(node, "glibc")],
                    hint=f"make sure {node.label} (or its container image) has glibc >= {need}; state glibc in "
                    "its node facts (envresolve probe --format json) to have it checked",
                    node=node,
                )
            )
    if node.os.kernel is None:
        out.extend(_kernel(env, node))
    if node.libstdcxx is None or not (node.libstdcxx.glibcxx or node.libstdcxx.cxxabi):
        out.extend(_libstdcxx(env, node))
    driver = node.driver
    if driver is not None and driver.version is None and driver.cuda is None:
        found = _cuda_floor(env)
        if found is not None:
            need, ev, pkg = found
            level = need if "." in need else f"{need}.0"
            row = cuda_min_driver(level) if "." in need else None
            floor = minor_compat_floor(int(need.split(".")[0]))
            if row is not None:
                drv, drv_ev = row.row.min_driver, row.evidence(f"CUDA {level} needs driver >= {row.row.min_driver}")
            elif floor is not None:
                drv = floor.row.min_driver
                drv_ev = floor.evidence(f"CUDA {need.split('.')[0]}.x runs on driver >= {drv}")
            else:
                drv, drv_ev = None, None
            out.append(
                emit(
                    "RS132",
                    f"this environment needs a driver supporting CUDA >= {level}"
                    + (f" (driver >= {drv})" if drv else "")
                    + f" on {node.label}, whose driver version is unknown ({pkg_label(pkg)} sets the floor)",
                    subject=pkg.name,
                    evidence=[ev, *([drv_ev] if drv_ev else []), _unknown_ev(node, "NVIDIA driver version")],
                    hint=f"make sure {node.label} runs an NVIDIA driver"
                    + (f" >= {drv}" if drv else f" supporting CUDA {level}")
                    + "; state the driver in its node facts (envresolve probe --format json) to have it checked",
                    node=node,
                )
            )
    return out


def _libstdcxx(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    if libstdcxx_provider(env, node) is not None:
        return []  # a libstdc++ in the environment (or known on the node) decides; CP121/CP122 judge it
    found: list[tuple[str, Evidence, Package]] = []
    for pkg in env.packages:
        needs = _cxx_needs(pkg)
        if needs is not None and needs[0]:
            found.append((needs[0], needs[2], pkg))
    top = _highest(found)
    if top is None:
        return []
    need, ev, pkg = top
    return [
        emit(
            "RS131",
            f"this environment needs a libstdc++ defining GLIBCXX_{need} on {node.label}, whose libstdc++ is unknown "
            f"({pkg_label(pkg)} sets the floor)",
            subject=pkg.name,
            evidence=[ev, _unknown_ev(node, "libstdc++")],
            hint=f"make sure {node.label} (or its image) has a libstdc++ with GLIBCXX_{need}, or add libstdcxx-ng to "
            "the conda dependencies so the environment brings its own",
            node=node,
        )
    ]


def _kernel(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    found: list[tuple[str, Evidence, Package]] = []
    for pkg in env.packages:
        floor = virtual_package_floor(pkg.depends, "__linux") if pkg.ecosystem == "conda" else None
        if floor is not None:
            fact = f"{pkg_label(pkg)} depends on __linux >={floor} (repodata)"
            found.append((floor, Evidence(fact=fact, source=pkg.url or pkg.channel), pkg))
    top = _highest(found)
    if top is None:
        return []
    need, ev, pkg = top
    return [
        emit(
            "RS133",
            f"this environment needs a Linux kernel >= {need} on {node.label}, whose kernel is unknown "
            f"({pkg_label(pkg)} sets the floor)",
            subject=pkg.name,
            evidence=[ev, _unknown_ev(node, "kernel release")],
            hint=f"make sure {node.label} runs a kernel >= {need}; state `os.kernel` in its node facts to have it "
            "checked",
            node=node,
        )
    ]
