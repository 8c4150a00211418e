"""Wheel tags and marker environments for a target node (never for the machine we run on).

The tag list is built explicitly with `packaging.tags.cpython_tags(python_version, abis, platforms)` and
`compatible_tags(...)`, the same order pip uses; `sys_tags()` would describe this machine instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.version import Version

from envresolve.diagnostics import make
from envresolve.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from envresolve.node.facts import NodeFacts

__all__ = [
    "UNKNOWN_GLIBC_CEILING",
    "cpython_abi",
    "manylinux_platforms",
    "marker_environment",
    "node_tags",
    "python_tuple",
    "target_glibc",
]

#: The manylinux tags a node of unknown glibc accepts go up to this level: above every glibc released, so an
#: unknown glibc is never held against a wheel (the conda side does the same with `__glibc`). What the chosen
#: wheels need is reported instead (RS130).
UNKNOWN_GLIBC_CEILING = "2.99"

# PEP 600 legacy aliases: manylinux1 == 2.5, manylinux2010 == 2.12, manylinux2014 == 2.17.
_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_LEGACY_ARCHES = {"x86_64", "i686", "aarch64", "ppc64le", "s390x", "armv7l"}


def python_tuple(python_version: str) -> tuple[int, int]:
    """'3.11' or '3.11.9' -> (3, 11)."""
    v = Version(python_version)
    if len(v.release) < 2:
        raise InputError(make("GN104", f"the Python version needs a major and a minor part: {python_version}"))
    return v.release[0], v.release[1]


def manylinux_platforms(glibc: str, arch: str) -> list[str]:
    """Platform tags a glibc `glibc` machine of `arch` accepts, best first (PEP 600 + legacy aliases).

    >>> manylinux_platforms("2.17", "x86_64")[:2]
    ['manylinux_2_17_x86_64', 'manylinux2014_x86_64']
    """
    major, minor = Version(glibc).release[:2]
    out: list[str] = []
    for m in range(minor, -1, -1):
        out.append(f"manylinux_{major}_{m}_{arch}")
        legacy = _LEGACY.get((major, m))
        if legacy and arch in _LEGACY_ARCHES:
            out.append(f"{legacy}_{arch}")
    out.append(f"linux_{arch}")
    return out


def cpython_abi(py: tuple[int, int]) -> str:
    """The ABI tag of a stock CPython build: `cp37m` before 3.8 (pymalloc builds), `cp38` from 3.8 on.

    `packaging.tags` computes this only for the running interpreter (from its sysconfig); for a target
    Python we take its default for a build with pymalloc and without debug, which is what release wheels
    such as torch 1.x's `cp37-cp37m` are built for.

    >>> cpython_abi((3, 7)), cpython_abi((3, 11))
    ('cp37m', 'cp311')
    """
    return f"cp{py[0]}{py[1]}" + ("m" if py < (3, 8) else "")


def target_glibc(nodes: Sequence[NodeFacts]) -> str | None:
    """The lowest glibc among the nodes that state one; None when no node does (unknown, not assumed)."""
    known = [n.glibc for n in nodes if n.glibc]
    return min(known, key=Version) if known else None


def _platforms(nodes: Sequence[NodeFacts], arch: str) -> list[str]:
    glibc = target_glibc(nodes)
    if glibc is not None:
        return manylinux_platforms(glibc, arch)
    # unknown glibc: every manylinux tag, the most portable first, so that of one release's wheels the one
    # needing the least glibc is chosen
    *manylinux, generic = manylinux_platforms(UNKNOWN_GLIBC_CEILING, arch)
    return [*reversed(manylinux), generic]


def node_tags(nodes: Sequence[NodeFacts], python_version: str) -> list[Tag]:
    """Ordered tags (best first) that every node in `nodes` accepts for CPython `python_version`.

    All nodes must share one CPU architecture (RS207 otherwise); the lowest glibc among them decides. Nodes whose
    glibc is unknown do not restrict the tags; when no node states glibc, every manylinux tag is accepted, the
    lowest glibc first.
    """
    if not nodes:
        raise InputError(make("GN104", "pip resolution needs at least one target node"))
    arches = sorted({n.cpu.arch for n in nodes})
    if len(arches) > 1:
        raise InputError(
            make(
                "RS207",
                f"the target nodes have different CPU architectures: {', '.join(arches)}",
                evidence=[f"{n.label}: {n.cpu.arch}" for n in nodes],
                hint="lock each architecture separately",
            )
        )
    py = python_tuple(python_version)
    platforms = _platforms(nodes, arches[0])
    interpreter = f"cp{py[0]}{py[1]}"
    tags = list(cpython_tags(py, [cpython_abi(py)], platforms))
    tags.extend(compatible_tags(py, interpreter, platforms))
    return list(dict.fromkeys(tags))


def marker_environment(node: NodeFacts, python_version: str) -> dict[str, str]:
    """PEP 508 marker variables for CPython `python_version` on `node` (Linux).

    A version given as 'X.Y' is taken as 'X.Y.0' for `python_full_version`.
    """
    v = Version(python_version)
    full = ".".join(str(p) for p in [*v.release, 0, 0][:3])
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": node.cpu.arch,
        "platform_python_implementation": "CPython",
        "platform_release": node.os.kernel or "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": f"{v.release[0]}.{v.release[1]}",
        "sys_platform": "linux",
    }
