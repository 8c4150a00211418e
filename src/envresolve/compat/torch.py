"""PyTorch-family rules: cxx11 ABI of extensions (CP140), torchvision/torchaudio pairing (CP150), Python (CP180)."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from envresolve.compat.common import emit, env_python, find_pkg, mm, pkg_label, torch_pkg
from envresolve.compat.measured import measured_facts
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, Evidence
from envresolve.matrices import framework_row, pytorch_matrix, torch_release, torch_variant
from envresolve.node.facts import NodeFacts

__all__ = ["check_companions", "check_cxx11_abi", "check_python", "torch_cxx11_abi"]

_TORCH_LIBS = ("libtorch", "libc10")


def torch_cxx11_abi(torch: Package) -> tuple[bool, Evidence] | None:
    """torch's cxx11 ABI flag: from its ELF files where known, else from the matrix row of its variant."""
    label = pkg_label(torch)
    rep = torch.binary
    if rep is not None:
        abis = {e.cxx_abi for e in rep.elf if any(n in e.path for n in _TORCH_LIBS)} - {"none", "mixed"}
        if len(abis) == 1:
            flag = abis.pop() == "cxx11"
            return flag, Evidence(fact=f"{label} uses the {'cxx11' if flag else 'pre-cxx11'} ABI (binary facts)")
    measured = measured_facts(torch) if rep is None else None
    if measured is not None and measured.row.cxx11_abi in ("cxx11", "pre-cxx11"):
        flag = measured.row.cxx11_abi == "cxx11"
        return flag, measured.evidence(f"{label} uses the {measured.row.cxx11_abi} ABI")
    if torch.ecosystem != "pypi":
        return None
    rel = torch_release(torch.version)
    var = torch_variant(torch.version)
    if rel is None:
        return None
    flag = rel.row.variant_cxx11(var.row) if var is not None else rel.row.cxx11_abi
    src = var if var is not None and var.row.cxx11_abi is not None else rel
    fact = f"{label} pip wheels use the {'cxx11' if flag else 'pre-cxx11'} ABI (derived from the matrix)"
    return flag, src.evidence(fact)


def _is_extension(pkg: Package) -> bool:
    if pkg.binary is None:
        return False
    if any(str(canonicalize_name(d.split()[0])) in ("torch", "pytorch") for d in pkg.depends if d.strip()):
        return True
    return any(any(n.startswith(_TORCH_LIBS) for n in e.needed) for e in pkg.binary.elf)


def check_cxx11_abi(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP140: extension packages built with the other C++ string ABI than torch."""
    torch = torch_pkg(env)
    if torch is None:
        return []
    known = torch_cxx11_abi(torch)
    if known is None:
        return []
    flag, torch_ev = known
    out: list[Diagnostic] = []
    for pkg in env.packages:
        if pkg is torch or not _is_extension(pkg) or pkg.binary is None:
            continue
        abis = {e.cxx_abi for e in pkg.binary.elf if any(n.startswith(_TORCH_LIBS) for n in e.needed)} - {
            "none",
            "mixed",
        }
        if len(abis) != 1:
            continue
        ext_flag = abis.pop() == "cxx11"
        if ext_flag == flag:
            continue
        ext_name = "cxx11" if ext_flag else "pre-cxx11"
        want = "cxx11abiTRUE" if flag else "cxx11abiFALSE"
        out.append(
            emit(
                "CP140",
                f"{pkg_label(pkg)} uses the {ext_name} ABI, {pkg_label(torch)} the {'cxx11' if flag else 'pre-cxx11'} "
                "ABI: it will fail to load with undefined C++ symbols",
                subject=pkg.name,
                evidence=[
                    Evidence(fact=f"{pkg_label(pkg)} links libtorch with the {ext_name} ABI (binary facts)"),
                    torch_ev,
                ],
                hint=f"install a build of {pkg.name} made with _GLIBCXX_USE_CXX11_ABI={int(flag)} (often "
                f"tagged {want}), or rebuild it against this torch",
                node=node,
            )
        )
    return out


def check_companions(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP150: torchvision / torchaudio releases that do not pair with torch, or carry another CUDA variant."""
    torch = torch_pkg(env)
    if torch is None:
        return []
    torch_mm = mm(torch.version)
    out: list[Diagnostic] = []
    for comp, field in (("torchvision", "torchvision"), ("torchaudio", "torchaudio")):
        pkg = find_pkg(env, comp)
        if pkg is None:
            continue
        comp_mm = mm(pkg.version)
        m = pytorch_matrix()
        row = next((r for r in m.rows if mm(getattr(r, field)) == comp_mm), None)
        if row is None:
            continue
        from envresolve.matrices import Sourced

        src = Sourced(row, m)
        if mm(row.version) != torch_mm:
            good = torch_release(torch.version)
            partner = getattr(good.row, field) if good is not None else None
            hint = (
                f"use {comp} {partner} with torch {torch_mm[0]}.{torch_mm[1]}"
                if partner and torch_mm
                else f"use the {comp} release built for torch {torch.version}"
            )
            ev = [src.evidence(f"{comp} {getattr(row, field)} pairs with torch {row.version}")]
            if good is not None and partner:
                ev.append(good.evidence(f"torch {good.row.version} pairs with {comp} {partner}"))
            out.append(
                emit(
                    "CP150",
                    f"{pkg_label(pkg)} pairs with torch {row.version}, the environment has {pkg_label(torch)}",
                    subject=pkg.name,
                    evidence=ev,
                    hint=hint,
                    node=node,
                )
            )
            continue
        t_local = torch.version.split("+", 1)[1] if "+" in torch.version else None
        c_local = pkg.version.split("+", 1)[1] if "+" in pkg.version else None
        if t_local and c_local and t_local != c_local:
            out.append(
                emit(
                    "CP150",
                    f"{pkg_label(pkg)} is the +{c_local} build, {pkg_label(torch)} the +{t_local} build",
                    subject=pkg.name,
                    evidence=[Evidence(fact=f"local version tags +{c_local} and +{t_local} differ")],
                    hint=f"install {comp}=={pkg.version.split('+', 1)[0]}+{t_local} from the same index as torch",
                    node=node,
                )
            )
    return out


def check_python(env: Environment, node: NodeFacts) -> list[Diagnostic]:
    """CP180: the interpreter against the Pythons a torch release (or JAX plugin, TensorFlow) supports."""
    py = env_python(env)
    py_mm = mm(py)
    if py is None or py_mm is None:
        return []
    out: list[Diagnostic] = []
    torch = torch_pkg(env)
    if torch is not None:
        rel = torch_release(torch.version)
        if rel is not None and f"{py_mm[0]}.{py_mm[1]}" not in rel.row.python:
            supported = ", ".join(rel.row.python)
            alt = _torch_for_python(f"{py_mm[0]}.{py_mm[1]}")
            out.append(
                emit(
                    "CP180",
                    f"torch {rel.row.version} supports Python {supported}; the environment has {py}",
                    subject=torch.name,
                    evidence=[rel.evidence(f"torch {rel.row.version} wheels exist for Python {supported}")],
                    hint=f"use Python {rel.row.python[0]}-{rel.row.python[-1]}"
                    + (f", or torch {alt} for Python {py_mm[0]}.{py_mm[1]}" if alt else ""),
                    node=node,
                )
            )
    for pkg in env.packages:
        cname = str(canonicalize_name(pkg.name))
        if not (cname.startswith("jax-cuda") or cname == "tensorflow") or pkg.ecosystem != "pypi":
            continue
        row = framework_row(cname.replace("-pjrt", "-plugin"), pkg.version)
        if row is None or row.row.python is None:
            continue
        if py.split("+", 1)[0] not in SpecifierSet(row.row.python):
            out.append(
                emit(
                    "CP180",
                    f"{pkg_label(pkg)} requires Python {row.row.python}; the environment has {py}",
                    subject=pkg.name,
                    evidence=[row.evidence(f"{row.row.package} {row.row.versions} Requires-Python {row.row.python}")],
                    hint=f"use a Python matching {row.row.python}",
                    node=node,
                )
            )
    return out


def _torch_for_python(py: str) -> str | None:
    from packaging.version import Version

    rows = sorted(pytorch_matrix().rows, key=lambda r: Version(r.version), reverse=True)
    return next((r.latest_patch for r in rows if py in r.python), None)
