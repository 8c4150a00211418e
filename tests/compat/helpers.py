"""Builders for rule tests: nodes, packages, binary facts, and the citation of a real matrix row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from envresolve.binary.model import ArtifactReport, ElfFacts, FatbinEntry
from envresolve.compat import Environment, Package
from envresolve.diagnostics import Diagnostic
from envresolve.matrices import MatrixFile, MatrixRow
from envresolve.node.facts import DriverFacts, GpuFacts, LibStdCxxFacts, NodeFacts


def node(
    *,
    driver: str | None = "580.65.06",
    cuda: str | None = "13.0",
    gpus: tuple[tuple[str, str], ...] = (("NVIDIA H100 80GB HBM3", "9.0"),),
    glibc: str | None = "2.35",
    glibcxx: str | None = "3.4.30",
    cxxabi: str | None = "1.3.13",
) -> NodeFacts:
    """A node; `gpus` as (name, compute capability) pairs, indexed in order."""
    return NodeFacts(
        name="test-node",
        glibc=glibc,
        driver=DriverFacts(version=driver, cuda=cuda) if driver or cuda else None,
        libstdcxx=LibStdCxxFacts(glibcxx=glibcxx, cxxabi=cxxabi) if glibcxx or cxxabi else None,
        gpus=tuple(GpuFacts(index=i, name=n, compute_capability=cc) for i, (n, cc) in enumerate(gpus)),
    )


def pypi(name: str, version: str, **kw: Any) -> Package:
    """A PyPI package."""
    return Package(name=name, version=version, ecosystem="pypi", **kw)


def conda(name: str, version: str, build: str | None = None, **kw: Any) -> Package:
    """A conda package."""
    return Package(name=name, version=version, ecosystem="conda", build=build, **kw)


def env(*packages: Package, python: str | None = "3.12.3") -> Environment:
    """An environment."""
    return Environment(packages=packages, python=python)


def elf(path: str, **kw: Any) -> ElfFacts:
    """ELF facts of one shared object (x86-64)."""
    return ElfFacts(path=path, elf_class=64, machine="x86_64", **kw)


def fatbin(
    sass: tuple[int, ...] = (), ptx: tuple[int, ...] = (), toolkit: str | None = None
) -> tuple[FatbinEntry, ...]:
    """Fatbinary entries for plain sm_XY SASS and compute_XY PTX targets."""
    out = [FatbinEntry(kind="sass", arch=f"sm_{s}", sm=s) for s in sass]
    out += [FatbinEntry(kind="ptx", arch=f"compute_{s}", sm=s, toolkit=toolkit) for s in ptx]
    return tuple(out)


def report(artifact: str, *elves: ElfFacts, **kw: Any) -> ArtifactReport:
    """A wheel report holding the given ELF files."""
    return ArtifactReport(artifact=artifact, kind="wheel", elf=elves, **kw)


def cite(matrix: MatrixFile, pred: Callable[[Any], bool], rows: str = "rows") -> tuple[MatrixRow, str]:
    """The first row of `matrix.<rows>` matching `pred`, and its citation (asserts there is one)."""
    row = next(r for r in getattr(matrix, rows) if pred(r))
    return row, matrix.cite(row)


def codes(diags: list[Diagnostic]) -> list[str]:
    """The codes of a list of findings."""
    return [d.code for d in diags]


def sources(diag: Diagnostic) -> list[str]:
    """The evidence sources of one finding."""
    return [e.source or "" for e in diag.evidence]
