"""Extensions built against torch, judged from the facts their names state (CP200 ABI, CP201 torch minor,
CP202 CUDA major).

Pure: an `Environment` in, diagnostics out. The extension's facts are encoded in its wheel file name or local
version label (`envresolve.matrices.names`); torch's come from its binary facts, its local label, or the matrix
row of its PyPI build. A fact that is not known gives no finding; a finding resting on an unsure row is a warning.
When the extension's binary facts are known, its measured ABI is judged by CP140 instead of CP200.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from envresolve.compat.common import emit, mm, pkg_label, torch_pkg
from envresolve.compat.model import Environment, Package
from envresolve.compat.torch import torch_cxx11_abi
from envresolve.diagnostics import Diagnostic, Evidence
from envresolve.matrices import torch_variant
from envresolve.matrices.names import NameFacts, decode_local_label, decode_wheel_filename, torch_binding
from envresolve.node.facts import NodeFacts

__all__ = ["check_extensions", "extension_name_facts"]


def extension_name_facts(pkg: Package) -> NameFacts | None:
    """What a package's wheel file name (from its URL), else its local version label, says about its build."""
    if pkg.ecosystem != "pypi":
        return None
    if pkg.url:
        path = urlsplit(pkg.url).path
        if path.endswith(".whl"):
            facts = decode_wheel_filename(path)
            if facts is not None:
                return facts
    if "+" in pkg.version:
        return decode_local_label(pkg.name, pkg.version.split("+", 1)[1])
    return None


def _torch_cuda_major(torch: Package) -> tuple[int, Evidence] | None:
    """torch's CUDA major: from its local label, else the matrix's PyPI default variant."""
    if torch.ecosystem != "pypi":
        return None
    if "+" in torch.version:
        facts = decode_local_label("torch", torch.version.split("+", 1)[1])
        if facts is None or facts.cuda_major is None:
            return None
        return facts.cuda_major, facts.evidence(f"{pkg_label(torch)} is built for CUDA {facts.cuda}")
    var = torch_variant(torch.version)
    if var is None:
        return None
    fact = f"{pkg_label(torch)} on PyPI without a local version is the CUDA {var.row.cuda} build"
    return int(var.row.cuda.split(".")[0]), var.evidence(fact)


def _measured_abi(pkg: Package) -> bool:
    """True when the package's binary facts state one C++ ABI for code linking libtorch (CP140 judges it)."""
    if pkg.binary is None:
        return False
    abis = {e.cxx_abi for e in pkg.binary.elf if any(n.startswith(("libtorch", "libc10")) for n in e.needed)}
    return len(abis - {"none", "mixed"}) == 1


def _torch_abi(torch: Package) -> tuple[bool, Evidence] | None:
    """torch's cxx11 flag; unknown for a labelled build the matrix has no variant row for (ROCm, +cpu, ...)."""
    if torch.binary is None and "+" in torch.version and torch_variant(torch.version) is None:
        return None
    return torch_cxx11_abi(torch)


def _abi(pkg: Package, facts: NameFacts, torch: Package, node: NodeFacts | None) -> list[Diagnostic]:
    if facts.cxx11_abi is None or _measured_abi(pkg):
        return []
    known = _torch_abi(torch)
    if known is None or known[0] == facts.cxx11_abi:
        return []
    flag, torch_ev = known
    ext, tor = ("cxx11" if facts.cxx11_abi else "pre-cxx11"), ("cxx11" if flag else "pre-cxx11")
    return [
        emit(
            "CP200",
            f"{pkg_label(pkg)} was built with the {ext} ABI (its name says so), {pkg_label(torch)} uses the "
            f"{tor} ABI: it will fail to load with undefined C++ symbols",
            subject=pkg.name,
            evidence=[facts.evidence(f"{pkg.name} is built with the {ext} ABI"), torch_ev],
            hint=f"use the cxx11abi{'TRUE' if flag else 'FALSE'} build of {pkg.name} for this torch, or rebuild it "
            "against this torch",
            node=node,
        )
    ]


def _torch_minor(pkg: Package, facts: NameFacts, torch: Package, node: NodeFacts | None) -> list[Diagnostic]:
    have = mm(torch.version)
    if facts.torch is None or have is None:
        return []
    built = mm(facts.torch)
    binding = torch_binding(pkg.name)
    if built is None or built == have or binding is None:
        return []
    return [
        emit(
            "CP201",
            f"{pkg_label(pkg)} was built for torch {facts.torch}, the environment has {pkg_label(torch)}: it will "
            "fail to load with undefined symbols",
            subject=pkg.name,
            evidence=[
                facts.evidence(f"{pkg.name} is built for torch {facts.torch}"),
                binding.evidence(f"{pkg.name}'s compiled code binds to the torch minor it was built for"),
            ],
            hint=f"use the {pkg.name} build for torch {have[0]}.{have[1]}, or torch {facts.torch}",
            node=node,
        )
    ]


def _cuda_major(pkg: Package, facts: NameFacts, torch: Package, node: NodeFacts | None) -> list[Diagnostic]:
    if facts.cuda_major is None:
        return []
    known = _torch_cuda_major(torch)
    if known is None or known[0] == facts.cuda_major:
        return []
    major, torch_ev = known
    return [
        emit(
            "CP202",
            f"{pkg_label(pkg)} was built for CUDA {facts.cuda_major}, {pkg_label(torch)} for CUDA {major}",
            subject=pkg.name,
            evidence=[facts.evidence(f"{pkg.name} is built for CUDA {facts.cuda or facts.cuda_major}"), torch_ev],
            hint=f"use the {pkg.name} build for CUDA {major}",
            node=node,
        )
    ]


def check_extensions(env: Environment, node: NodeFacts | None = None) -> list[Diagnostic]:
    """CP200/CP201/CP202: extensions whose names say they were built for another torch ABI, minor or CUDA major."""
    torch = torch_pkg(env)
    if torch is None:
        return []
    out: list[Diagnostic] = []
    for pkg in env.packages:
        if pkg is torch or canonicalize_name(pkg.name) in {"torch", "torchvision", "torchaudio"}:
            continue
        facts = extension_name_facts(pkg)
        if facts is None:
            continue
        out += _abi(pkg, facts, torch, node)
        out += _torch_minor(pkg, facts, torch, node)
        out += _cuda_major(pkg, facts, torch, node)
    return out
