"""`EnvSpec`: every spec format (Dataset manifest, environment.yml, requirements.txt, pixi) in one model.

Each item keeps its source span so findings point at the exact line. Credentials in URLs are kept only
as `SecretStr` (never dumped); the `display` forms are masked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from envresolve.diagnostics import Diagnostic, Location
from envresolve.node.images import ImageFacts

__all__ = ["Channel", "CondaDependency", "EnvSpec", "IndexUrl", "PipRequirement", "SystemRequirements"]

SpecFormat = Literal[
    "dataset", "environment-yml", "requirements-txt", "pixi", "conda-lock-virtual-packages", "dockerfile", "imagespec"
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Channel(_Frozen):
    """A conda channel as written (name or URL, credentials masked)."""

    name: str
    location: Location | None = None


class CondaDependency(_Frozen):
    """One conda dependency, normalised to a py-rattler MatchSpec string."""

    name: str
    spec: str = Field(description="MatchSpec string py-rattler accepts, e.g. 'pytorch-cuda ==11.8'")
    raw: str = Field(description="the text as written")
    channel: str | None = None
    location: Location | None = None
    added_by: str | None = Field(
        default=None, description="set when a tool adds the dependency (e.g. the BaizeAI conda loader), not the user"
    )


class PipRequirement(_Frozen):
    """One pip requirement (PEP 508), or a direct URL / VCS / editable reference."""

    name: str = Field(description="canonical PyPI name")
    requirement: str = Field(description="PEP 508 string (URL credentials masked)")
    raw: str
    specifier: str = ""
    extras: tuple[str, ...] = ()
    marker: str | None = None
    url: str | None = Field(default=None, description="direct URL, masked")
    editable: bool = False
    hashes: tuple[str, ...] = ()
    constraint: bool = Field(default=False, description="from a -c file: limits versions, installs nothing")
    location: Location | None = None
    index: str | None = Field(
        default=None, description="the one index this requirement must come from (pixi `index = ...`), masked"
    )


class IndexUrl(_Frozen):
    """A package index or find-links location. `url` keeps the secret; `display` is masked."""

    kind: Literal["index-url", "extra-index-url", "find-links"]
    display: str
    url: SecretStr
    has_credentials: bool = False
    location: Location | None = None


class SystemRequirements(_Frozen):
    """Declared system requirements (pixi `[system-requirements]`, platform inline tables)."""

    cuda: str | None = None
    glibc: str | None = None
    linux: str | None = None
    archspec: str | None = None


class EnvSpec(_Frozen):
    """One environment as it will really be built."""

    name: str | None = None
    source: str = Field(description="the file the spec came from")
    format: SpecFormat
    channels: tuple[Channel, ...] = ()
    conda: tuple[CondaDependency, ...] = ()
    pip: tuple[PipRequirement, ...] = ()
    indexes: tuple[IndexUrl, ...] = ()
    no_index: bool = Field(default=False, description="`--no-index`: pip must not use any package index")
    python: str | None = Field(default=None, description="Python version constraint, e.g. '3.11' or '>=3.10'")
    platforms: tuple[str, ...] = ()
    system_requirements: SystemRequirements = Field(default_factory=SystemRequirements)
    pip_after_conda: bool = Field(
        default=True, description="pip runs after conda with no joint resolution (the BaizeAI loader's behaviour)"
    )
    diagnostics: tuple[Diagnostic, ...] = Field(default=(), description="non-fatal findings made while loading")
    origin: str | None = Field(
        default=None, description="which part of the file: 'Dataset ns/name', 'pixi environment cuda', ..."
    )
    gpu_type: str | None = Field(
        default=None, description="BaizeAI `gpuType` option (nvidia-gpu, nvidia-vgpu, metax-gpu)"
    )
    location: Location | None = Field(default=None, description="where the environment is declared")
    image: ImageFacts | None = Field(
        default=None,
        description="the container image the environment runs in (Dockerfile FROM, ImageSpec base_image): it "
        "decides glibc and libstdc++, the node decides driver and GPUs",
    )
    cpu_variant: bool = Field(
        default=False,
        description="a platform variant for machines without a CUDA driver (pixi selects a CUDA sibling on GPU nodes)",
    )
