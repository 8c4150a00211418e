"""Node facts: the model, and the sources that produce it.

- `probe()`: the live machine (NVML, /proc, nvidia-smi, the C library, the loader's libstdc++);
- `load_node(source)` / `load_nodes(source)`: a facts file, a Kubernetes Node or List, a conda-lock
  virtual-packages file, a directory of those, or a bundled profile name;
- `apply_conda_overrides(node, env)`: conda's CONDA_OVERRIDE_* variables, as a pure function;
- `virtual_packages(node)`: the conda virtual packages the node offers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envresolve.node.conda import apply_conda_overrides, virtual_packages
from envresolve.node.facts import NodeFacts
from envresolve.node.load import load_node, load_nodes, read_node, read_nodes
from envresolve.node.profiles import profile_names

if TYPE_CHECKING:
    from envresolve.node.probe import probe, probe_with_diagnostics

__all__ = [
    "NodeFacts",
    "apply_conda_overrides",
    "load_node",
    "load_nodes",
    "probe",
    "probe_with_diagnostics",
    "profile_names",
    "read_node",
    "read_nodes",
    "virtual_packages",
]


def __getattr__(name: str) -> Any:
    # the live probe (ctypes, subprocess, NVML) loads only for the commands that probe; importing the submodule
    # binds its name here, so both functions are bound over it (as an eager `from ... import` would)
    if name in ("probe", "probe_with_diagnostics"):
        import importlib

        module = importlib.import_module("envresolve.node.probe")
        globals().update(probe=module.probe, probe_with_diagnostics=module.probe_with_diagnostics)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
