"""Spec intake: every environment format into one `EnvSpec` model, and `lint`.

`load_spec(path)` sniffs the format (BaizeAI Dataset manifest, conda environment.yml, pip requirements file,
pixi manifest or `[tool.pixi]` in pyproject.toml) and returns the environments as they will really be built.
`lint(paths, nodes)` adds the static checks (no network) and returns diagnostics.
"""

from __future__ import annotations

from envresolve.specs.lint import lint
from envresolve.specs.load import LoadResult, load_file, load_spec
from envresolve.specs.model import Channel, CondaDependency, EnvSpec, IndexUrl, PipRequirement, SystemRequirements

__all__ = [
    "Channel",
    "CondaDependency",
    "EnvSpec",
    "IndexUrl",
    "LoadResult",
    "PipRequirement",
    "SystemRequirements",
    "lint",
    "load_file",
    "load_spec",
]
