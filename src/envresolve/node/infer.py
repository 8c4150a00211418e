"""Filling glibc and libstdc++ from the OS release through the sourced distro table, marked `inferred`."""

from __future__ import annotations

from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.node.distros import infer_glibc, infer_libstdcxx
from envresolve.node.facts import LibStdCxxFacts, NodeFacts, Provenance

__all__ = ["fill_inferred"]


def fill_inferred(node: NodeFacts) -> tuple[NodeFacts, list[Diagnostic]]:
    """Infer what the node does not state: glibc and the default libstdc++ of its OS release.

    Facts the node states are never replaced. Each inferred fact gets an ND207 info finding that cites
    the table row; an OS release missing from the table gets ND206.
    """
    diags: list[Diagnostic] = []
    update: dict[str, object] = {}
    prov = dict(node.provenance)
    os_id, version_id = node.os.id, node.os.version_id
    release = f"{os_id} {version_id}" if os_id and version_id else None
    missing: list[str] = []
    if node.glibc is None:
        inf = infer_glibc(os_id, version_id)
        if inf is not None and inf.row.glibc is not None:
            update["glibc"] = inf.row.glibc
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
    if node.libstdcxx is None:
        inf = infer_libstdcxx(os_id, version_id)
        if inf is not None:
            update["libstdcxx"] = LibStdCxxFacts(glibcxx=inf.row.glibcxx, cxxabi=inf.row.cxxabi)
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
    if update:
        update["provenance"] = prov
        node = node.model_copy(update=update)
        node = NodeFacts.model_validate(node.model_dump())
    return node, diags
