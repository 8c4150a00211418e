"""Driver rules: is the node's driver new enough for the environment's CUDA runtimes (CP101, CP102, CP103)."""

from __future__ import annotations

from packaging.version import Version

from envresolve.compat.common import emit, pkg_label, ver
from envresolve.compat.facts import CudaClaim, env_cuda_claims
from envresolve.compat.model import Environment
from envresolve.diagnostics import Diagnostic, Evidence
from envresolve.matrices import cuda_min_driver, gpu_by_name, minor_compat_floor, rule
from envresolve.node.facts import NodeFacts

__all__ = ["check_driver"]


def _needs(env: Environment) -> dict[int, CudaClaim]:
    """Per CUDA major, the claim that needs the newest driver (a major.minor beats a bare major)."""
    best: dict[int, CudaClaim] = {}
    for claim in env_cuda_claims(env):
        cur = best.get(claim.major)
        key = (claim.minor is not None, claim.minor or 0)
        if cur is None or key > (cur.minor is not None, cur.minor or 0):
            best[claim.major] = claim
    return best


def check_driver(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP101/CP102/CP103: the driver against every CUDA major the environment brings."""
    needs = _needs(env)
    if not needs:
        return []
    out: list[Diagnostic] = []
    if node.driver is None:
        if node.gpus:
            claim = max(needs.values(), key=lambda c: c.major)
            out.append(
                emit(
                    "CP103",
                    f"no NVIDIA driver on the node, but {pkg_label(claim.package)} needs CUDA {claim.version}",
                    subject=claim.package.name,
                    evidence=[claim.evidence, Evidence(fact="node facts list GPUs but no driver", source=node.source)],
                    hint="install the NVIDIA driver (and check that the container runtime exposes it)",
                    node=node,
                )
            )
        return out
    text = node.driver.version
    if text is None:
        return _check_by_level(needs, node)
    driver = Version(text)
    node_ev = Evidence(fact=f"node driver {text}", source=node.source)
    compat = _forward_compat(env, node)
    compat_driver = ver(compat[0]) if compat is not None else None
    if compat is not None and compat_driver is not None and compat_driver > driver:
        text, driver = compat[0], compat_driver
        node_ev = Evidence(fact=f"{compat[1].fact}; node kernel driver {node.driver.version}", source=compat[1].source)
    for major, claim in sorted(needs.items()):
        out.extend(_check_one(claim, major, driver, text, node_ev, node))
    return out


def _check_one(
    claim: CudaClaim, major: int, driver: Version, driver_text: str, node_ev: Evidence, node: NodeFacts
) -> list[Diagnostic]:
    label = pkg_label(claim.package)
    floor = minor_compat_floor(major)
    exact = cuda_min_driver(claim.version) if claim.minor is not None else None
    if exact is not None and driver >= Version(exact.row.min_driver):
        return []
    first_mvc = minor_compat_floor(11)
    if floor is None and exact is not None and major < 11 and first_mvc is not None:
        # before CUDA 11 there is no minor-version compatibility: the release's own minimum driver is the floor
        return [
            emit(
                "CP101",
                f"{label} needs CUDA {claim.version}: driver >= {exact.row.min_driver}; the node has {driver_text}",
                subject=claim.package.name,
                evidence=[
                    claim.evidence,
                    exact.evidence(f"{exact.row.release} needs driver >= {exact.row.min_driver}"),
                    node_ev,
                    first_mvc.evidence(
                        "minor-version compatibility starts with CUDA 11: CUDA 10.x and older need "
                        "their own release's driver"
                    ),
                ],
                hint=f"upgrade the driver to >= {exact.row.min_driver}",
                node=node,
            )
        ]
    if floor is None:
        return [
            emit(
                "CP101",
                f"no driver data for CUDA major {major} ({label}); cannot tell whether driver {driver_text} runs it",
                subject=claim.package.name,
                evidence=[claim.evidence, node_ev, Evidence(fact=f"no matrix row for CUDA {major}.x", unsure=True)],
                hint="check the CUDA release notes for the driver this CUDA major needs",
                node=node,
            )
        ]
    floor_v = Version(floor.row.min_driver)
    if driver < floor_v:
        target = exact.row.min_driver if exact else floor.row.min_driver
        ev = [
            claim.evidence,
            node_ev,
            floor.evidence(f"CUDA {major}.x minor-version compatibility needs >= {floor.row.min_driver}"),
        ]
        if exact:
            ev.insert(1, exact.evidence(f"{exact.row.release} needs driver >= {exact.row.min_driver}"))
        return [
            emit(
                "CP101",
                f"{label} needs CUDA {claim.version}: driver >= {target}{_under(target, floor.row.min_driver)}; "
                f"the node has {driver_text}",
                subject=claim.package.name,
                evidence=ev,
                hint=f"upgrade the driver to >= {target}",
                node=node,
            )
        ]
    if exact is None:
        if claim.minor is None:
            return []  # a bare major above the floor runs
        newest = _newest_minimum(major)
        if newest is not None and driver >= Version(newest):
            return []  # newer than every listed release of this major needs
        return [
            emit(
                "CP102",
                f"{label} needs CUDA {claim.version}, which has no row in the driver matrix; driver {driver_text} "
                f"is above the CUDA {major}.x floor {floor.row.min_driver}, so it runs at most under minor-version "
                "compatibility",
                subject=claim.package.name,
                evidence=[claim.evidence, node_ev, floor.evidence(f"CUDA {major}.x floor {floor.row.min_driver}")],
                hint="check the CUDA release notes for this release's driver",
                node=node,
            )
        ]
    limits = [rule("no-newer-ptx-jit"), rule("new-features-unavailable")]
    return [
        emit(
            "CP102",
            f"{label} needs CUDA {claim.version} (driver >= {exact.row.min_driver}); driver {driver_text} runs it "
            f"only under minor-version compatibility (floor {floor.row.min_driver}): no JIT of PTX newer than the "
            "driver, no APIs newer than the driver's CUDA version",
            subject=claim.package.name,
            evidence=[
                claim.evidence,
                exact.evidence(f"{exact.row.release} needs driver >= {exact.row.min_driver}"),
                node_ev,
                floor.evidence(f"CUDA {major}.x minor-version compatibility from {floor.row.min_driver}"),
                *(lim.evidence(lim.row.text) for lim in limits),
            ],
            hint=f"upgrade the driver to >= {exact.row.min_driver} to lift these limits",
            node=node,
        )
    ]


def _check_by_level(needs: dict[int, CudaClaim], node: NodeFacts) -> list[Diagnostic]:
    """Without a driver version, compare against the driver's CUDA level (e.g. a Kubernetes label) only."""
    level = node.cuda_driver_version
    if level is None or node.driver is None:
        return []
    lv = (*level.release, 0)
    node_ev = Evidence(
        fact=f"node driver supports CUDA {node.driver.cuda} (driver version unknown)", source=node.source
    )
    out: list[Diagnostic] = []
    for major, claim in sorted(needs.items()):
        label = pkg_label(claim.package)
        if major > lv[0]:
            floor = minor_compat_floor(major)
            hint = f"upgrade the driver to >= {floor.row.min_driver}" if floor else "upgrade the driver"
            ev = [claim.evidence, node_ev] + (
                [floor.evidence(f"CUDA {major}.x needs >= {floor.row.min_driver}")] if floor else []
            )
            out.append(
                emit(
                    "CP101",
                    f"{label} needs CUDA {claim.version}, the node's driver supports CUDA {node.driver.cuda}",
                    subject=claim.package.name,
                    evidence=ev,
                    hint=hint,
                    node=node,
                )
            )
        elif major == lv[0] and claim.minor is not None and claim.minor > lv[1]:
            exact = cuda_min_driver(claim.version)
            lim = rule("no-newer-ptx-jit")
            out.append(
                emit(
                    "CP102",
                    f"{label} needs CUDA {claim.version}, the node's driver supports CUDA {node.driver.cuda}: it runs "
                    "only under minor-version compatibility (no JIT of newer PTX, no newer APIs)",
                    subject=claim.package.name,
                    evidence=[claim.evidence, node_ev, lim.evidence(lim.row.text)],
                    hint=f"upgrade the driver to >= {exact.row.min_driver}" if exact else "upgrade the driver",
                    node=node,
                )
            )
    return out


def _forward_compat(env: Environment, node: NodeFacts) -> tuple[str, Evidence] | None:
    """The user-mode driver a conda cuda-compat-impl package provides, when forward compatibility applies to every
    GPU of the node (data-center parts and Jetson boards only)."""
    pkg = next((p for p in env.packages if p.ecosystem == "conda" and p.name == "cuda-compat-impl"), None)
    if pkg is None or not node.gpus or ver(pkg.version) is None:
        return None
    for gpu in node.gpus:
        row = gpu_by_name(gpu.name)
        if row is None or row.row.segment not in ("datacenter", "jetson"):
            return None
    fwd = rule("cuda-compat-package")
    fact = f"{pkg_label(pkg)} provides user-mode driver {pkg.version} by forward compatibility"
    return pkg.version, fwd.evidence(fact)


def _newest_minimum(major: int) -> str | None:
    from envresolve.matrices import cuda_drivers_matrix

    rows = [r for r in cuda_drivers_matrix().rows if Version(r.cuda).major == major]
    return max((r.min_driver for r in rows), key=Version) if rows else None


def _under(target: str, floor: str) -> str:
    return "" if target == floor else f" (>= {floor} under minor-version compatibility)"
