"""Cross-file consistency checks of the matrices. Each problem is an MX102 diagnostic."""

from __future__ import annotations

from itertools import pairwise

from packaging.version import Version

from envresolve.diagnostics import Diagnostic, make
from envresolve.errors import InternalError
from envresolve.matrices.access import (
    MATRIX_FILES,
    abi_matrix,
    all_matrices,
    cuda_archs_matrix,
    cuda_drivers_matrix,
    cuda_min_driver,
    frameworks_matrix,
    gpus_matrix,
    minor_compat_floor,
    pytorch_matrix,
    toolkit_archs,
)
from envresolve.matrices.base import matrices_dir, read_matrix_obj

__all__ = ["check_all", "check_invariants"]


def _mx(message: str) -> Diagnostic:
    return make("MX102", message, subject="matrices")


def torch_variants_have_driver_rows() -> list[Diagnostic]:
    """Every torch CUDA variant has a CUDA driver row."""
    return [
        _mx(f"pytorch.yaml {rel.version} cu{var.cuda.replace('.', '')}: no CUDA {var.cuda} row in cuda_drivers.yaml")
        for rel in pytorch_matrix().rows
        for var in rel.variants
        if cuda_min_driver(var.cuda) is None
    ]


def gpu_capabilities_in_arch_table() -> list[Diagnostic]:
    """Every GPU's compute capability appears in the arch table."""
    known = {a.sm for a in cuda_archs_matrix().archs}
    return [
        _mx(f"gpus.yaml {g.name}: compute capability {g.compute_capability} (sm_{g.sm}) is not in cuda_archs.yaml")
        for g in gpus_matrix().rows
        if g.sm not in known
    ]


def torch_archs_buildable() -> list[Diagnostic]:
    """Every torch variant's SASS archs can be built by its CUDA toolkit (per the arch table)."""
    out: list[Diagnostic] = []
    for rel in pytorch_matrix().rows:
        for var in rel.variants:
            tk = toolkit_archs(var.cuda)
            if tk is None:
                out.append(_mx(f"pytorch.yaml {rel.version} cu{var.cuda}: no toolkit row for CUDA {var.cuda}"))
                continue
            for target in (*var.archs, *var.ptx):
                major, minor = target.rstrip("af").split(".")
                sm = int(major) * 10 + int(minor)
                if sm not in tk.row.sass:
                    out.append(
                        _mx(f"pytorch.yaml {rel.version} cu{var.cuda}: sm_{sm} is not buildable by CUDA {tk.row.cuda}")
                    )
                if target.endswith("a") and sm not in tk.row.arch_specific:
                    out.append(_mx(f"pytorch.yaml {rel.version} cu{var.cuda}: sm_{sm}a has no arch-specific target"))
    return out


def driver_minimums_monotonic() -> list[Diagnostic]:
    """A newer CUDA release never needs an older driver; each major's minor-version floor is its lowest row."""
    rows = sorted(cuda_drivers_matrix().rows, key=lambda r: (Version(r.cuda), r.update))
    out: list[Diagnostic] = []
    for prev, cur in pairwise(rows):
        if Version(cur.min_driver) < Version(prev.min_driver):
            out.append(
                _mx(
                    f"cuda_drivers.yaml: {cur.release} needs {cur.min_driver}, older than {prev.release}'s "
                    f"{prev.min_driver}"
                )
            )
    for floor in cuda_drivers_matrix().minor_version_compat:
        same = [r for r in rows if Version(r.cuda).major == floor.major]
        if same and Version(floor.min_driver) > min(Version(r.min_driver) for r in same) and floor.major != 11:
            out.append(_mx(f"cuda_drivers.yaml: CUDA {floor.major} floor {floor.min_driver} is above its GA driver"))
        if same and floor.major != 11 and Version(floor.min_driver) != min(Version(r.min_driver) for r in same):
            out.append(_mx(f"cuda_drivers.yaml: CUDA {floor.major} floor {floor.min_driver} is not its GA driver"))
    return out


def toolkit_ranges_consistent() -> list[Diagnostic]:
    """A toolkit's `removed` SMs were buildable by the previous toolkit and are gone from its own list."""
    tks = sorted(cuda_archs_matrix().toolkits, key=lambda t: Version(t.cuda))
    out: list[Diagnostic] = []
    for prev, cur in pairwise(tks):
        for sm in cur.removed:
            if sm in cur.sass:
                out.append(_mx(f"cuda_archs.yaml {cur.cuda}: sm_{sm} is both removed and buildable"))
            if sm not in prev.sass:
                out.append(_mx(f"cuda_archs.yaml {cur.cuda}: removed sm_{sm} was not buildable by {prev.cuda}"))
        for sm in prev.sass:
            if sm not in cur.sass and sm not in cur.removed:
                out.append(_mx(f"cuda_archs.yaml {cur.cuda}: sm_{sm} disappears without being listed as removed"))
    return out


def torch_pairing_unique() -> list[Diagnostic]:
    """No torchvision / torchaudio release pairs with two torch releases."""
    out: list[Diagnostic] = []
    for field in ("torchvision", "torchaudio"):
        seen: dict[str, str] = {}
        for rel in pytorch_matrix().rows:
            val = getattr(rel, field)
            if val is None:
                continue
            if val in seen:
                out.append(_mx(f"pytorch.yaml: {field} {val} pairs with torch {seen[val]} and {rel.version}"))
            seen[val] = rel.version
    return out


def distro_gcc_levels_known() -> list[Diagnostic]:
    """Every GLIBCXX_ level distros.yaml (owned by the node helper) states is a level of some GCC in abi.yaml."""
    path = matrices_dir() / "distros.yaml"
    if not path.exists():
        return []
    levels = {r.glibcxx for r in abi_matrix().gcc}
    out: list[Diagnostic] = []
    for row in read_matrix_obj(path).get("rows", []):
        glibcxx = row.get("glibcxx")
        if glibcxx and glibcxx not in levels:
            out.append(
                _mx(f"distros.yaml {row.get('id')} {row.get('version_id')}: GLIBCXX_{glibcxx} is not in abi.yaml")
            )
    return out


def image_releases_in_distro_table() -> list[Diagnostic]:
    """Every OS release images.yaml (owned by the node code) names has a glibc row in distros.yaml, so an image
    in the table never ends up with unknown C libraries."""
    images, distros = matrices_dir() / "images.yaml", matrices_dir() / "distros.yaml"
    if not images.exists() or not distros.exists():
        return []
    known = {(r.get("id"), r.get("version_id")) for r in read_matrix_obj(distros).get("rows", []) if r.get("glibc")}
    return [
        _mx(f"images.yaml {row.get('repository')} {row.get('tag')}: no glibc row for {row.get('os_id')} "
            f"{row.get('version_id')} in distros.yaml")
        for row in read_matrix_obj(images).get("os", [])
        if (row.get("os_id"), row.get("version_id")) not in known
    ]  # fmt: skip


def manylinux_ceilings_monotonic() -> list[Diagnostic]:
    """A newer manylinux policy never allows less: per architecture, GLIBC_/GLIBCXX_/CXXABI_ ceilings do not fall as
    the policy's glibc rises (a ceiling may sit below the name: glibc 2.37 defined no GLIBC_2.37 symbols)."""
    out: list[Diagnostic] = []
    rows = abi_matrix().manylinux_policies
    for arch in sorted({r.arch for r in rows}):
        mine = sorted((r for r in rows if r.arch == arch), key=lambda r: Version(r.tag_glibc))
        for prev, cur in pairwise(mine):
            for field in ("glibc", "glibcxx", "cxxabi"):
                if Version(getattr(cur, field)) < Version(getattr(prev, field)):
                    out.append(
                        _mx(
                            f"abi.yaml {cur.policy} {arch}: {field} ceiling {getattr(cur, field)} is below "
                            f"{prev.policy}'s {getattr(prev, field)}"
                        )
                    )
    return out


def arch_support_matches_toolkits() -> list[Diagnostic]:
    """An architecture whose last CUDA is N.x has no SASS target in a toolkit of a later major, and one in the
    toolkits of major N that the arch table lists; a CUDA release's driver branch supports its CUDA major."""
    out: list[Diagnostic] = []
    toolkits = cuda_archs_matrix().toolkits
    for arch in cuda_drivers_matrix().arch_last_branch:
        last = arch.last_cuda_major
        if last is None:
            continue
        for cc in arch.compute_capabilities:
            major, minor = cc.split(".")
            sm = int(major) * 10 + int(minor)
            for tk in toolkits:
                tk_major = Version(tk.cuda).major
                if tk_major > last and sm in tk.sass:
                    out.append(_mx(f"cuda_archs.yaml {tk.cuda} builds sm_{sm}, whose last CUDA is {arch.last_cuda}"))
                if tk_major == last and arch.last_cuda.endswith(".x") and sm not in tk.sass:  # type: ignore[union-attr]
                    out.append(_mx(f"cuda_archs.yaml {tk.cuda} lacks sm_{sm}, supported through CUDA {arch.last_cuda}"))
    branches = {b.branch: b for b in cuda_drivers_matrix().branches}
    for row in cuda_drivers_matrix().rows:
        b = branches.get(row.branch or "")
        if b is not None and b.max_cuda_major is not None and b.max_cuda_major < Version(row.cuda).major:
            out.append(_mx(f"cuda_drivers.yaml {row.release}: branch {b.branch} supports CUDA {b.max_cuda_major} only"))
    return out


def framework_floors_consistent() -> list[Diagnostic]:
    """A framework's stated driver floor is in the branch of its CUDA major's minor-version floor, and its lowest
    compute capability is one its CUDA toolkit builds."""
    out: list[Diagnostic] = []
    for row in frameworks_matrix().rows:
        label = f"frameworks.yaml {row.package} {row.versions}"
        floor = minor_compat_floor(row.cuda_major)
        if row.min_driver and floor and Version(row.min_driver).major != Version(floor.row.min_driver).major:
            out.append(_mx(f"{label}: driver floor {row.min_driver} is not in CUDA {row.cuda_major}'s branch"))
        if row.min_compute_capability:
            major, minor = row.min_compute_capability.split(".")
            tk = toolkit_archs(row.cuda)
            if tk is not None and int(major) * 10 + int(minor) not in tk.row.sass:
                out.append(_mx(f"{label}: CUDA {row.cuda} cannot build sm_{major}{minor}"))
    return out


INVARIANTS = (
    torch_variants_have_driver_rows,
    gpu_capabilities_in_arch_table,
    torch_archs_buildable,
    driver_minimums_monotonic,
    toolkit_ranges_consistent,
    torch_pairing_unique,
    distro_gcc_levels_known,
    image_releases_in_distro_table,
    manylinux_ceilings_monotonic,
    arch_support_matches_toolkits,
    framework_floors_consistent,
)


def check_invariants() -> list[Diagnostic]:
    """All cross-file checks (the files must validate first)."""
    return [d for check in INVARIANTS for d in check()]


def check_all() -> list[Diagnostic]:
    """Validate every file (MX101 per invalid file), then run the invariants if all validate."""
    from envresolve.matrices.base import load_matrix

    out: list[Diagnostic] = []
    for name, model in MATRIX_FILES.items():
        try:
            load_matrix(name, model)
        except InternalError as exc:
            msg = "; ".join(d.message for d in exc.diagnostics) if exc.diagnostics else str(exc)
            out.append(make("MX101", msg, subject=name))
    if out:
        return out
    all_matrices()
    return check_invariants()
