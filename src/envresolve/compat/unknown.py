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


_Floor = tuple[str, Evidence, Package]


def _conda_floors(env: Environment, name: str) -> list[_Floor]:
    """Each conda record's lower bound on virtual package `name`, with its evidence."""
    found: list[_Floor] = []
    for pkg in env.packages:
        floor = virtual_package_floor(pkg.depends, name) if pkg.ecosystem == "conda" else None
        if floor is not None:
            fact = f"{pkg_label(pkg)} depends on {name} >={floor} (repodata)"
            found.append((floor, Evidence(fact=fact, source=pkg.url or pkg.channel), pkg))
    return found


def _glibc_floor(env: Environment) -> _Floor | None:
    found = [(need[0], need[1], pkg) for pkg in env.packages if (need := glibc_need(pkg)) is not None]
    return _highest(found + _conda_floors(env, "__glibc"))


def _cuda_floor(env: Environment) -> _Floor | None:
    found = [(c.version, c.evidence, c.package) for c in env_cuda_claims(env)]
    return _highest(found + _conda_floors(env, "__cuda"))


def _note(
    code: str, node: NodeFacts, floor: _Floor, needs: str, unknown: str, hint: str, *extra: Evidence
) -> Diagnostic:
    """The warning that `node`, whose `unknown` is not stated, must offer what `floor` needs."""
    _, ev, pkg = floor
    return emit(
        code,
        f"this environment needs {needs} on {node.label}, whose {unknown} is unknown ({pkg_label(pkg)} sets the floor)",
        subject=pkg.name,
        evidence=[
            ev,
            *extra,
            Evidence(fact=f"{node.label}: {unknown} unknown (the node facts do not state it)", source=node.source),
        ],
        hint=hint,
        node=node,
    )


def check_unknown_facts(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """RS130-RS133: the floor the environment needs of each fact the node leaves unknown."""
    out: list[Diagnostic] = []
    label = node.label
    if node.glibc is None and (top := _glibc_floor(env)) is not None:
        need = top[0]
        hint = (
            f"make sure {label} (or its container image) has glibc >= {need}; state glibc in its node facts "
            "(envresolve probe --format json) to have it checked"
        )
        out.append(_note("RS130", node, top, f"glibc >= {need}", "glibc", hint))
    if node.os.kernel is None and (top := _highest(_conda_floors(env, "__linux"))) is not None:
        need = top[0]
        hint = f"make sure {label} runs a kernel >= {need}; state `os.kernel` in its node facts to have it checked"
        out.append(_note("RS133", node, top, f"a Linux kernel >= {need}", "kernel", hint))
    no_cxx = node.libstdcxx is None or not (node.libstdcxx.glibcxx or node.libstdcxx.cxxabi)
    # a libstdc++ in the environment (or known on the node) decides; CP121/CP122 judge it
    if no_cxx and libstdcxx_provider(env, node) is None:
        cxx = [(n[0], n[2], pkg) for pkg in env.packages if (n := _cxx_needs(pkg)) is not None and n[0]]
        if (top := _highest(cxx)) is not None:
            need = top[0]
            hint = (
                f"make sure {label} (or its image) has a libstdc++ with GLIBCXX_{need}, or add libstdcxx-ng to the "
                "conda dependencies so the environment brings its own"
            )
            out.append(_note("RS131", node, top, f"a libstdc++ defining GLIBCXX_{need}", "libstdc++", hint))
    driver = node.driver
    if driver is not None and driver.version is None and driver.cuda is None and (top := _cuda_floor(env)):
        out.append(_driver_note(node, top))
    return out


def _driver_note(node: NodeFacts, top: _Floor) -> Diagnostic:
    need = top[0]
    level = need if "." in need else f"{need}.0"
    row = cuda_min_driver(level) if "." in need else None
    floor = minor_compat_floor(int(need.split(".")[0]))
    drv: str | None = None
    extra: list[Evidence] = []
    if row is not None:
        drv = row.row.min_driver
        extra.append(row.evidence(f"CUDA {level} needs driver >= {drv}"))
    elif floor is not None:
        drv = floor.row.min_driver
        extra.append(floor.evidence(f"CUDA {need.split('.')[0]}.x runs on driver >= {drv}"))
    needs = f"a driver supporting CUDA >= {level}" + (f" (driver >= {drv})" if drv else "")
    hint = (
        f"make sure {node.label} runs an NVIDIA driver"
        + (f" >= {drv}" if drv else f" supporting CUDA {level}")
        + "; state the driver in its node facts (envresolve probe --format json) to have it checked"
    )
    return _note("RS132", node, top, needs, "driver version", hint, *extra)
