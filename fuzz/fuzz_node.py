"""Fuzz the node loaders: random text, random YAML/JSON structures and random GFD/NFD labels go into
`envresolve.node.load.parse_node_text`; the only exception allowed out is `EnvresolveError`.

Call `fuzz(max_examples=N)` from the bounded CI fuzz pass, or run `python fuzz/fuzz_node.py --examples N`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.errors import EnvresolveError
from envresolve.node.conda import apply_conda_overrides, virtual_packages
from envresolve.node.load import parse_node_text

__all__ = ["fuzz"]

_GFD = [
    "nvidia.com/cuda.driver-version.full",
    "nvidia.com/cuda.driver-version.major",
    "nvidia.com/cuda.driver-version.minor",
    "nvidia.com/cuda.driver-version.revision",
    "nvidia.com/cuda.runtime-version.full",
    "nvidia.com/cuda.runtime-version.major",
    "nvidia.com/cuda.runtime-version.minor",
    "nvidia.com/cuda.driver.major",
    "nvidia.com/cuda.driver.minor",
    "nvidia.com/cuda.driver.rev",
    "nvidia.com/cuda.runtime.major",
    "nvidia.com/cuda.runtime.minor",
    "nvidia.com/gpu.compute.major",
    "nvidia.com/gpu.compute.minor",
    "nvidia.com/gpu.product",
    "nvidia.com/gpu.memory",
    "nvidia.com/gpu.count",
    "nvidia.com/mig.strategy",
    "nvidia.com/mig.capable",
    "nvidia.com/mig-1g.10gb.count",
    "kubernetes.io/arch",
    "feature.node.kubernetes.io/system-os_release.ID",
    "feature.node.kubernetes.io/system-os_release.VERSION_ID",
    "feature.node.kubernetes.io/kernel-version.full",
    "feature.node.kubernetes.io/kernel-version.major",
    "feature.node.kubernetes.io/cpu-cpuid.AVX2",
    "feature.node.kubernetes.io/cpu-cpuid.AVX512F",
]
_KEYS = ["apiVersion", "kind", "metadata", "labels", "name", "items", "status", "capacity", "nodeInfo", "subdirs",
         "linux-64", "linux-aarch64", "packages", "__cuda", "__glibc", "__cuda_arch", "__linux", "__archspec",
         "schema_version", "gpus", "driver", "version", "cuda", "glibc", "os", "cpu", "arch", "index",
         "compute_capability", "provenance"]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["Node", "List", "v1", "true", "12.8", "2.39", "535.104.05", "8", "0", "-MIG-1g.5gb", "x86_64"]),
)
keys = st.one_of(st.sampled_from(_KEYS + _GFD), st.text(max_size=8))
trees = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6), max_leaves=30
)
_SLURM_KEYS = ["Arch", "OS", "Gres", "AvailableFeatures", "ActiveFeatures", "Features", "Partitions", "NodeName",
               "CfgTRES", "Reason"]  # fmt: skip
slurm_values = st.one_of(
    st.text(max_size=16),
    st.sampled_from(
        [
            "x86_64",
            "aarch64",
            "(null)",
            "Linux 4.18.0-477.10.1.el8_8.x86_64 #1 SMP",
            "Linux 3.10.0-1160.el7.x86_64",
            "Linux",
            "gpu:a100:4",
            "gpu:h100:8(S:0-1)",
            "gpu:2",
            "gpu:a100:2,gpu:v100:2(S:0,1),shard:8",
            "gpu:x:\u00b2",
            "gpu:a100:99999999999999999999",
            "gpu::",
            "a100,ib",
            "",
        ]
    ),
)
label_values = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "0",
            "05",
            "12",
            "8",
            "9",
            "true",
            "false",
            "single",
            "mixed",
            "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb",
            "1e9",
            "99999999999",
        ]
    ),
)


def _node_doc(labels: dict[str, Any], kind: str) -> dict[str, Any]:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fuzz", "labels": labels}}
    return {"apiVersion": "v1", "kind": "List", "items": [node, node]} if kind == "List" else node


def _check(text: str) -> None:
    try:
        for node, _diags in parse_node_text(text, origin="fuzz"):
            node.to_json()
            virtual_packages(node)
            apply_conda_overrides(node, {"CONDA_OVERRIDE_CUDA": "12.8", "CONDA_OVERRIDE_CUDA_ARCH": ""})
    except EnvresolveError:
        pass


def fuzz(max_examples: int = 200) -> int:
    """Run every fuzz target with at most `max_examples` examples each; returns the number of targets run.

    Raises (hypothesis reports the falsifying example) when anything but EnvresolveError escapes.
    """
    cfg = settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))

    @cfg
    @given(st.text(max_size=300))
    def raw_text(text: str) -> None:
        _check(text)

    @cfg
    @given(trees, st.sampled_from(["json", "yaml"]))
    def structures(tree: Any, fmt: str) -> None:
        _check(json.dumps(tree, default=str) if fmt == "json" else yaml.safe_dump(tree))

    @cfg
    @given(st.dictionaries(st.sampled_from(_GFD), label_values, max_size=len(_GFD)), st.sampled_from(["Node", "List"]))
    def labels(labels: dict[str, str], kind: str) -> None:
        _check(yaml.safe_dump(_node_doc(labels, kind)))

    @cfg
    @given(
        st.dictionaries(
            st.sampled_from(["__cuda", "__glibc", "__cuda_arch", "__linux", "__archspec", "__unix", "__osx"]),
            scalars | trees,
            max_size=6,
        )
    )
    def virtual(packages: dict[str, Any]) -> None:
        _check(yaml.safe_dump({"subdirs": {"linux-64": {"packages": packages}}}))

    @cfg
    @given(
        st.lists(
            st.lists(st.tuples(st.sampled_from(_SLURM_KEYS) | st.text(max_size=6), slurm_values), max_size=8),
            min_size=1,
            max_size=4,
        ),
        st.sampled_from([" ", "\n   ", "\r\n   "]),
        st.sampled_from(["", "[...]\n", "NodeName=dup\n"]),
    )
    def slurm(records: list[list[tuple[str, str]]], sep: str, stray: str) -> None:
        text = "\n".join(
            f"NodeName=n{i}" + "".join(f"{sep}{k}={v}" for k, v in fields) for i, fields in enumerate(records)
        )
        _check(text + "\n" + stray)

    targets = [raw_text, structures, labels, virtual, slurm]
    for target in targets:
        target()
    return len(targets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=500)
    args = parser.parse_args()
    n = fuzz(args.examples)
    print(f"fuzz_node: {n} targets x {args.examples} examples, nothing but EnvresolveError escaped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
