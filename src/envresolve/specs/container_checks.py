"""Checks of an environment that runs inside a container image, judged by the compat rules.

The image (Dockerfile `FROM`, ImageSpec `base_image`, `--image`) decides glibc and libstdc++; its CUDA toolkit
(nvidia/cuda tags, ImageSpec `cuda`) sits beside the environment's own CUDA packages. The packages the spec pins
become a compat `Environment` and the rules `check_glibc`, `check_libstdcxx` and `check_mixed_majors` judge them
against the image (on the node, when one is given). Findings get the position of the requirement they are about.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from envresolve.compat import Environment, Package, check_glibc, check_libstdcxx, check_mixed_majors
from envresolve.diagnostics import Diagnostic, Evidence, Location, Severity

if TYPE_CHECKING:
    from envresolve.node.facts import NodeFacts
    from envresolve.specs.claims import CudaClaim
    from envresolve.specs.model import EnvSpec

__all__ = ["check_image", "image_environment"]

#: the compat package that stands for the CUDA toolkit installed in the image
TOOLKIT = "cuda-toolkit"


def image_environment(spec: EnvSpec, claims: list[CudaClaim]) -> tuple[Environment, dict[str, Location | None]]:
    """The packages the spec pins (torch with the CUDA variant its index or local tag names), plus the image's
    CUDA toolkit; and where each was declared."""
    packages: list[Package] = []
    where: dict[str, Location | None] = {}
    torch_cuda = {c.package: c.cuda for c in claims if c.kind == "framework" and c.ecosystem == "pypi"}
    for req in spec.pip:
        m = re.fullmatch(r"===?(?P<v>[0-9][^,;\s]*)", req.specifier.strip())
        if req.constraint or not req.name or m is None:
            continue
        version = m["v"]
        cuda = torch_cuda.get(req.name)
        if req.name == "torch" and cuda and "+" not in version and "." in cuda:
            version = f"{version}+cu{cuda.replace('.', '')}"
        packages.append(Package(name=req.name, version=version, ecosystem="pypi"))
        where.setdefault(req.name, req.location)
    for dep in spec.conda:
        m = re.fullmatch(r"(?:==|=)?\s*(?P<v>[0-9]+(?:\.[0-9]+)+)", dep.spec.removeprefix(dep.name).strip())
        if m is None or dep.name == "python":
            continue
        packages.append(Package(name=dep.name, version=m["v"], ecosystem="conda"))
        where.setdefault(dep.name, dep.location)
    image = spec.image
    if image is not None and image.cuda:
        packages.append(Package(name=TOOLKIT, version=image.cuda, ecosystem="pypi", channel=f"image {image.ref}"))
        where.setdefault(TOOLKIT, spec.location)
    return Environment(packages=tuple(packages), python=spec.python), where


#: which image facts each rule rests on (the OS row always)
_RESTS_ON = {"CP120": "glibc", "CP121": "libstdc++", "CP122": "libstdc++", "CP160": "CUDA"}


def _image_evidence(evidence: tuple[Evidence, ...], code: str) -> tuple[Evidence, ...]:
    word = _RESTS_ON.get(code, "")
    return tuple(e for i, e in enumerate(evidence) if i == 0 or (word and word in e.fact))


def check_image(spec: EnvSpec, node: NodeFacts, claims: list[CudaClaim]) -> list[Diagnostic]:
    """glibc, libstdc++ and mixed CUDA majors of the spec's pinned packages in its image; `node` is the image on
    the target node (or the image alone)."""
    image = spec.image
    if image is None:
        return []
    env, where = image_environment(spec, claims)
    if not env.packages:
        return []
    found = check_glibc(env, node) + check_mixed_majors(env, node)
    # a conda environment brings its own libstdc++ (its version unknown here): the image's may not be the one loaded
    if not spec.conda:
        found += check_libstdcxx(env, node)
    cuda_first = next((c.location for c in claims if c.location is not None), None)
    out: list[Diagnostic] = []
    for d in found:
        cited = _image_evidence(image.evidence, d.code)
        unsure = any(e.unsure for e in cited)
        update: dict[str, object] = {"evidence": (*d.evidence, *cited)}
        if d.code == "CP160":
            update["location"] = cuda_first or spec.location
        else:
            update["location"] = where.get(d.subject or "", None) or spec.location
        if unsure and d.severity is Severity.ERROR:
            update["severity"] = Severity.WARNING
            update["message"] = f"unsure: {d.message}"
        out.append(d.model_copy(update=update))
    return out
