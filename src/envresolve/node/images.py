"""Container images as node facts: image reference -> OS release (`matrices/images.yaml`) -> glibc and libstdc++
(`matrices/distros.yaml`), plus the CUDA toolkit and cuDNN that `nvidia/cuda`-style tags carry.

When an environment runs inside an image on a node, the image decides glibc and libstdc++ and the node decides
the driver and the GPUs: `image_on_node(image, node)` builds exactly that node.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, model_validator

from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.matrices.base import Confidence, MatrixFile, MatrixRow, load_matrix
from envresolve.node.distros import infer_glibc, infer_libstdcxx
from envresolve.node.facts import LibStdCxxFacts, NodeFacts, OsFacts, Provenance, VersionStr

__all__ = [
    "ImageCudaRow",
    "ImageFacts",
    "ImageMatrix",
    "ImageOsRow",
    "image_facts",
    "image_matrix",
    "image_node",
    "image_on_node",
    "parse_image_ref",
]

#: registry prefixes that name Docker Hub or NVIDIA's mirror of the same repositories
_HUB_PREFIXES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/", "nvcr.io/")
_MAX_REF = 512


def _regex(v: str) -> str:
    try:
        re.compile(v)
    except re.error as exc:
        raise ValueError(f"bad tag pattern {v!r}: {exc}") from None
    return v


Pattern = Annotated[str, AfterValidator(_regex)]


class ImageOsRow(MatrixRow):
    """Tags of one repository that are built on one OS release."""

    repository: StrictStr
    tag: Pattern
    os_id: StrictStr
    version_id: StrictStr


class ImageCudaRow(MatrixRow):
    """Tags of one repository that name their CUDA toolkit (group `cuda`) and cuDNN major (group `cudnn`)."""

    repository: StrictStr
    tag: Pattern

    @model_validator(mode="after")
    def _has_cuda_group(self) -> ImageCudaRow:
        if "cuda" not in re.compile(self.tag).groupindex:
            raise ValueError(f"{self.repository}: a CUDA row's pattern needs a (?P<cuda>...) group")
        return self


class ImageMatrix(MatrixFile):
    """`matrices/images.yaml`."""

    kind: Literal["images"]
    os: tuple[ImageOsRow, ...]
    cuda: tuple[ImageCudaRow, ...] = ()

    def _all_rows(self) -> list[MatrixRow]:
        return [*self.os, *self.cuda]


def image_matrix() -> ImageMatrix:
    """The validated image table (cached by `load_matrix`)."""
    matrix: ImageMatrix = load_matrix("images.yaml", ImageMatrix)
    return matrix


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ImageFacts(_Frozen):
    """What the image table says about one image reference; what it does not say stays None."""

    ref: str
    repository: str
    tag: str
    os: OsFacts | None = None
    glibc: VersionStr | None = None
    libstdcxx: LibStdCxxFacts | None = None
    cuda: VersionStr | None = None
    cudnn: str | None = None
    evidence: tuple[Evidence, ...] = ()

    @property
    def known(self) -> bool:
        """True when the table knows the image's OS release."""
        return self.os is not None


def parse_image_ref(ref: str) -> tuple[str, str]:
    """(repository, tag) of an image reference, with Docker Hub's and nvcr.io's prefixes and `library/` removed.

    `nvcr.io/nvidia/cuda:12.1.0-base-ubuntu22.04` -> ('nvidia/cuda', '12.1.0-base-ubuntu22.04'); no tag -> 'latest';
    a digest is dropped (the table goes by tag).
    """
    text = ref.strip()[:_MAX_REF]
    text = text.split("@", 1)[0]
    for prefix in _HUB_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    name, tag = text, "latest"
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        name, tag = text[:colon], text[colon + 1 :]
    name = name.lower().removeprefix("library/")
    return name, tag or "latest"


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def image_facts(ref: str) -> tuple[ImageFacts, list[Diagnostic]]:
    """The facts the tables give for an image reference, with ND330 (inferred) and ND331 (unknown) findings."""
    repository, tag = parse_image_ref(ref)
    matrix = image_matrix()
    diags: list[Diagnostic] = []
    evidence: list[Evidence] = []
    update: dict[str, object] = {}
    row = next((r for r in matrix.os if r.repository == repository and _compiled(r.tag).fullmatch(tag)), None)
    if row is not None:
        unsure = row.confidence is Confidence.UNSURE
        note = f" (unsure: {row.note})" if unsure and row.note else (" (unsure)" if unsure else "")
        evidence.append(
            Evidence(
                fact=f"{repository}:{tag} is {row.os_id} {row.version_id}{note}", source=matrix.cite(row), unsure=unsure
            )
        )
        update["os"] = OsFacts(id=row.os_id, version_id=row.version_id)
        glibc = infer_glibc(row.os_id, row.version_id)
        cxx = infer_libstdcxx(row.os_id, row.version_id)
        if glibc is not None and glibc.row.glibc is not None:
            update["glibc"] = glibc.row.glibc
            evidence.append(
                Evidence(
                    fact=f"{row.os_id} {row.version_id}: glibc {glibc.row.glibc}",
                    source=glibc.citation,
                    unsure=glibc.unsure or unsure,
                )
            )
        if cxx is not None:
            update["libstdcxx"] = LibStdCxxFacts(glibcxx=cxx.row.glibcxx, cxxabi=cxx.row.cxxabi)
            evidence.append(
                Evidence(
                    fact=f"{row.os_id} {row.version_id}: libstdc++ GLIBCXX_{cxx.row.glibcxx} (GCC {cxx.row.gcc})",
                    source=cxx.citation,
                    unsure=cxx.unsure or unsure,
                )
            )
    cuda_row = next((r for r in matrix.cuda if r.repository == repository and _compiled(r.tag).fullmatch(tag)), None)
    if cuda_row is not None:
        match = _compiled(cuda_row.tag).fullmatch(tag)
        assert match is not None
        update["cuda"] = match["cuda"]
        cudnn = match.groupdict().get("cudnn")
        if cudnn is not None:
            update["cudnn"] = cudnn or "present"
        evidence.append(
            Evidence(
                fact=f"the tag names CUDA {match['cuda']}"
                + (f" and cuDNN {cudnn}" if cudnn else " and cuDNN (major not in the tag)" if cudnn == "" else ""),
                source=matrix.cite(cuda_row),
            )
        )
    facts = ImageFacts(ref=ref.strip()[:_MAX_REF], repository=repository, tag=tag, evidence=tuple(evidence), **update)
    if facts.known:
        assert facts.os is not None
        what = ", ".join(
            x
            for x in (
                f"glibc {facts.glibc}" if facts.glibc else "glibc unknown",
                f"libstdc++ GLIBCXX_{facts.libstdcxx.glibcxx}" if facts.libstdcxx else "libstdc++ unknown",
                f"CUDA {facts.cuda}" if facts.cuda else "",
            )
            if x
        )
        diags.append(
            make(
                "ND330",
                f"image {facts.ref} is {facts.os.id} {facts.os.version_id}: {what}",
                subject=facts.ref,
                evidence=evidence,
            )
        )
    else:
        diags.append(
            make(
                "ND331",
                f"image {facts.ref} is not in the image table: its glibc and libstdc++ are unknown",
                subject=facts.ref,
                evidence=evidence,
                hint="add a sourced row to matrices/images.yaml, or pass a facts file probed inside the image",
            )
        )
    return facts, diags


def _with_image(base: NodeFacts, image: ImageFacts, *, name: str) -> NodeFacts:
    prov = {k: v for k, v in base.provenance.items() if k not in ("os", "glibc", "libstdcxx")}
    if image.os is not None:
        prov["os"] = Provenance.INFERRED
    if image.glibc is not None:
        prov["glibc"] = Provenance.INFERRED
    if image.libstdcxx is not None:
        prov["libstdcxx"] = Provenance.INFERRED
    os_facts = OsFacts(
        id=image.os.id if image.os else None,
        version_id=image.os.version_id if image.os else None,
        kernel=base.os.kernel,  # the kernel is the node's
    )
    return base.model_copy(
        update={
            "name": name,
            "source": f"image {image.ref}" + (f" on {base.source}" if base.source else ""),
            "os": os_facts,
            "glibc": image.glibc,
            "libstdcxx": image.libstdcxx,
            "provenance": prov,
        }
    )


def image_on_node(image: ImageFacts, node: NodeFacts) -> NodeFacts:
    """The node an environment inside `image` sees on `node`: the image's OS, glibc and libstdc++ (unknown where
    the table does not know the image, never the host's), the node's kernel, CPU, driver and GPUs."""
    return _with_image(node, image, name=f"{image.ref} on {node.label}")


def image_node(image: ImageFacts) -> NodeFacts:
    """The image alone: its C libraries, no driver and no GPUs (for checks that need no GPU node)."""
    return _with_image(NodeFacts(), image, name=image.ref)
