"""Shared helpers of the rules: building diagnostics (unsure rows lower errors), naming GPUs, reading versions."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, Evidence, Severity, make
from envresolve.diagnostics.registry import REGISTRY
from envresolve.node.facts import GpuFacts, NodeFacts

__all__ = [
    "emit",
    "find_pkg",
    "gpu_label",
    "mm",
    "pkg_label",
    "ver",
]


def emit(
    code: str,
    message: str,
    *,
    subject: str | None,
    evidence: Iterable[Evidence],
    hint: str | None,
    node: NodeFacts | None = None,
    severity: Severity | None = None,
) -> Diagnostic:
    """A diagnostic for a CP code. When any evidence is unsure, an error is lowered to a warning and the
    message says 'unsure' instead of failing hard."""
    ev = tuple(evidence)
    sev = severity or REGISTRY[code].severity
    if any(e.unsure for e in ev):
        message = f"unsure: {message}"
        if sev is Severity.ERROR:
            sev = Severity.WARNING
    return make(
        code,
        message,
        severity=sev,
        subject=subject,
        node=(node.name or node.source) if node else None,
        evidence=ev,
        hint=hint,
    )


def ver(s: str | None) -> Version | None:
    """PEP 440 version, local part dropped; None when absent or unparsable."""
    if not s:
        return None
    try:
        return Version(s.split("+", 1)[0])
    except InvalidVersion:
        return None


def mm(s: str | None) -> tuple[int, int] | None:
    """(major, minor) of a version string."""
    v = ver(s)
    if v is None:
        return None
    rel = (*v.release, 0)
    return rel[0], rel[1]


def gpu_label(*gpus: GpuFacts) -> str:
    """'GPU 1 (Tesla P100-PCIE-16GB, compute capability 6.0)', or 'GPUs 0, 1 (...)' for identical GPUs."""
    first = gpus[0]
    idx = ", ".join(str(g.index) for g in gpus)
    noun = "GPU" if len(gpus) == 1 else "GPUs"
    return f"{noun} {idx} ({first.name}, compute capability {first.compute_capability})"


def pkg_label(pkg: Package) -> str:
    """'torch 2.7.1+cu126' or 'pytorch 2.1.0 (py3.10_cuda12.1_cudnn8.9.2_0)'."""
    if pkg.build:
        return f"{pkg.name} {pkg.version} ({pkg.build})"
    return f"{pkg.name} {pkg.version}"


#: names that mean "torch" in either ecosystem
TORCH_NAMES = frozenset({"torch", "pytorch", "pytorch-gpu", "pytorch-cpu"})


def find_pkg(env: Environment, *names: str) -> Package | None:
    """The first package whose canonical name is one of `names`."""
    wanted = {canonicalize_name(n) for n in names}
    for p in env.packages:
        if canonicalize_name(p.name) in wanted:
            return p
    return None


def torch_pkg(env: Environment) -> Package | None:
    """The torch package of the environment (PyPI torch, or conda pytorch with a real build)."""
    for p in env.packages:
        if canonicalize_name(p.name) == "torch":
            return p
    for p in env.packages:
        if p.name == "pytorch":
            return p
    return None


def env_python(env: Environment) -> str | None:
    """The interpreter version: `Environment.python`, else the conda `python` package."""
    if env.python:
        return env.python
    p = next((p for p in env.packages if p.name == "python" and p.ecosystem == "conda"), None)
    return p.version if p else None
