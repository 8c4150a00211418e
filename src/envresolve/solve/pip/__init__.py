"""The pip side of a resolution: a resolvelib provider over simple indexes, aware of the target GPU node.

Public API:

- `resolve_pip(requirements, nodes, *, python, index_urls=..., find_links=(), installed=None, env=None,
  filters=None, binary_facts="cache", client=None, cache_dir=None, use_cache=True, offline=False,
  allow_prereleases=False, max_rounds=10000) -> PipResolution` (raises `PipResolutionError`, exit 1);
- `PipResolution`, `PipPackage`, `Rejection`, `CandidateInfo`, `CudaNeed`: the value types;
- `CandidateFilter`: the protocol of a node-level candidate rule; `default_filters()`;
- `node_tags(nodes, python)`, `marker_environment(node, python)`: tags and markers for a target;
- `indexes_from_spec(spec)`: index URLs and find-links locations of an `EnvSpec`.

Sdists: only wheels are resolved. A project with nothing but sdists for the target fails with RS203
(reading metadata from an sdist means running its build backend).
"""

from __future__ import annotations

from envresolve.solve.pip.gpu import cuda_need, default_filters
from envresolve.solve.pip.model import (
    CandidateFilter,
    CandidateInfo,
    CudaNeed,
    PipPackage,
    PipResolution,
    Rejection,
    RejectionReason,
)
from envresolve.solve.pip.resolve import PYPI_SIMPLE, PipResolutionError, indexes_from_spec, resolve_pip
from envresolve.solve.pip.tags import marker_environment, node_tags

__all__ = [
    "PYPI_SIMPLE",
    "CandidateFilter",
    "CandidateInfo",
    "CudaNeed",
    "PipPackage",
    "PipResolution",
    "PipResolutionError",
    "Rejection",
    "RejectionReason",
    "cuda_need",
    "default_filters",
    "indexes_from_spec",
    "marker_environment",
    "node_tags",
    "resolve_pip",
]
