"""Filling glibc and libstdc++ from the OS release through the sourced distro table, marked `inferred`."""

from __future__ import annotations

from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.node.distros import DistroMatrix, distro_matrix, infer_glibc, infer_libstdcxx
from envresolve.node.facts import LibStdCxxFacts, NodeFacts, Provenance

__all__ = ["fill_inferred"]

#: what one inference adds: facts, their provenance, the findings that cite the table
_Inferred = tuple[dict[str, object], dict[str, Provenance], tuple[Diagnostic, ...]]
#: (the table the memo was made from, (os id, version id, glibc wanted, libstdc++ wanted) -> what is inferred).
#: A fleet has a handful of OS releases; the findings are frozen values, shared by every node of a release.
_memo: tuple[DistroMatrix, dict[tuple[str | None, str | None, bool, bool], _Inferred]] | None = None


def fill_inferred(node: NodeFacts) -> tuple[NodeFacts, list[Diagnostic]]:
    """Infer what the node does not state: glibc and the default libstdc++ of its OS release.

    Facts the node states are never replaced. Each inferred fact gets an ND207 info finding that cites
    the table row; an OS release missing from the table gets ND206.
    """
    global _memo
    matrix = distro_matrix()
    if _memo is None or _memo[0] is not matrix or len(_memo[1]) > 4096:
        _memo = (matrix, {})
    key = (node.os.id, node.os.version_id, node.glibc is None, node.libstdcxx is None)
    inferred = _memo[1].get(key)
    if inferred is None:
        inferred = _memo[1][key] = _infer(*key)
    facts, provenance, diags = inferred
    if facts:
        prov = dict(node.provenance)
        prov.update(provenance)
        # the inferred values come validated from the table (VersionStr, LibStdCxxFacts): no revalidation
        node = node.model_copy(update={**facts, "provenance": prov})
    return node, list(diags)


def _infer(os_id: str | None, version_id: str | None, want_glibc: bool, want_libstdcxx: bool) -> _Inferred:
    diags: list[Diagnostic] = []
    facts: dict[str, object] = {}
    prov: dict[str, Provenance] = {}
    release = f"{os_id} {version_id}" if os_id and version_id else None
    missing: list[str] = []
    if want_glibc:
        inf = infer_glibc(os_id, version_id)
        if inf is not None and inf.row.glibc is not None:
            facts["glibc"] = inf.row.glibc
            prov["glibc"] = Provenance.INFERRED
            diags.append(
                make(
                    "ND207",
                    f"glibc {inf.row.glibc} inferred from the OS release {release}",
                    subject="glibc",
                    evidence=[
                        Evidence(fact=f"{release}: glibc {inf.row.glibc}", source=inf.citation, unsure=inf.unsure)
                    ],
                )
            )
        else:
            missing.append("glibc")
    if want_libstdcxx:
        inf = infer_libstdcxx(os_id, version_id)
        if inf is not None:
            facts["libstdcxx"] = LibStdCxxFacts(glibcxx=inf.row.glibcxx, cxxabi=inf.row.cxxabi)
            prov["libstdcxx"] = Provenance.INFERRED
            diags.append(
                make(
                    "ND207",
                    f"libstdc++ GLIBCXX_{inf.row.glibcxx} / CXXABI_{inf.row.cxxabi} inferred from the OS release "
                    f"{release} (the distribution's libstdc++ from GCC {inf.row.gcc})",
                    subject="libstdcxx",
                    evidence=[
                        Evidence(
                            fact=f"{release}: libstdc++ from GCC {inf.row.gcc}, GLIBCXX_{inf.row.glibcxx}",
                            source=inf.citation,
                            unsure=inf.unsure,
                        )
                    ],
                )
            )
        else:
            missing.append("libstdc++")
    if missing and release:
        diags.append(
            make(
                "ND206",
                f"{' and '.join(missing)} unknown: the distro table has no row for {release}",
                subject=release,
                hint="state glibc and libstdcxx in a facts file, or add a sourced row to matrices/distros.yaml",
            )
        )
    return facts, prov, tuple(diags)
