from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from envresolve.errors import InputError
from envresolve.node import load_node, load_nodes, read_node
from envresolve.node.load import parse_node_text

FIX = Path(__file__).parent / "fixtures"


def test_manifest_with_current_and_deprecated_labels_equals_the_facts_file() -> None:
    from_labels = load_node(FIX / "node-gfd-nfd.yaml")
    from_file = load_node(FIX / "node-gfd-nfd.facts.json")
    assert from_labels.same_facts(from_file), (from_labels.facts_dict(), from_file.facts_dict())
    # provenance legitimately differs: declared/inferred from labels, probed in the file
    assert from_labels.provenance["glibc"].value == "inferred"
    assert from_labels.provenance["driver"].value == "declared"
    assert from_file.provenance["glibc"].value == "probed"


def test_deprecated_labels_alone_give_the_same_facts() -> None:
    current = load_node(FIX / "node-gfd-nfd.yaml")
    deprecated = load_node(FIX / "node-deprecated-only.yaml")
    assert deprecated.same_facts(current)
    assert deprecated.driver is not None and deprecated.driver.version == "535.104.05"  # revision keeps "05"
    assert deprecated.driver.cuda == "12.2"


def test_facts_read_from_labels() -> None:
    node, diags = read_node(FIX / "node-gfd-nfd.yaml")
    assert node.name == "gpu-node-a100-0"
    assert (node.os.id, node.os.version_id, node.os.kernel) == ("ubuntu", "22.04", "5.15.0-105-generic")
    assert node.cpu.arch == "x86_64" and node.cpu.microarch_level == 4
    assert [g.compute_capability for g in node.gpus] == ["8.0", "8.0"]
    assert node.gpus[0].memory_mib == 81920 and node.gpus[0].mig_enabled is False
    assert node.glibc == "2.35"
    inferred = [d for d in diags if d.code == "ND207"]
    assert len(inferred) == 2 and all(d.evidence and d.evidence[0].source for d in inferred)


def test_json_manifest_is_read_too(tmp_path: Path) -> None:
    import json

    obj = yaml.safe_load((FIX / "node-gfd-nfd.yaml").read_text())
    path = tmp_path / "node.json"
    path.write_text(json.dumps(obj))
    assert load_node(path).same_facts(load_node(FIX / "node-gfd-nfd.yaml"))


def test_list_of_nodes_and_mig_strategies() -> None:
    single, mixed = load_nodes(FIX / "nodes-list.yaml")
    assert single.name == "mig-single"
    assert len(single.gpus) == 14
    assert {g.name for g in single.gpus} == {"NVIDIA-A100-SXM4-40GB"}
    assert all(g.mig_enabled and g.memory_mib is None for g in single.gpus)
    assert mixed.gpus[0].mig_enabled is True
    assert mixed.glibc == "2.34"  # rhel 9.4 matches the rhel 9 row
    with pytest.raises(InputError) as exc:
        load_node(FIX / "nodes-list.yaml")
    assert exc.value.code == "ND202"


def test_mig_single_warns_that_count_is_mig_devices() -> None:
    nodes = parse_node_text((FIX / "nodes-list.yaml").read_text(), origin="list")
    assert any(d.code == "ND208" for d in nodes[0][1])


def _node(labels: dict[str, str]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "labels": labels}})


def test_bad_label_values_drop_the_fact_with_a_warning() -> None:
    text = _node(
        {
            "nvidia.com/gpu.compute.major": "x",
            "nvidia.com/gpu.compute.minor": "0",
            "nvidia.com/gpu.product": "NVIDIA-A100",
            "nvidia.com/cuda.driver-version.full": "not-a-version",
            "nvidia.com/cuda.driver-version.major": "550",
            "nvidia.com/cuda.driver-version.minor": "54",
            "nvidia.com/cuda.driver-version.revision": "15",
        }
    )
    ((node, diags),) = parse_node_text(text, origin="t")
    assert node.gpus == ()
    assert node.driver is not None and node.driver.version == "550.54.15"  # from the parts
    assert sum(d.code == "ND205" for d in diags) >= 2


def test_current_and_deprecated_disagree_current_wins() -> None:
    text = _node(
        {
            "nvidia.com/cuda.driver-version.full": "550.54.15",
            "nvidia.com/cuda.driver.major": "535",
            "nvidia.com/cuda.driver.minor": "104",
            "nvidia.com/cuda.driver.rev": "05",
        }
    )
    ((node, diags),) = parse_node_text(text, origin="t")
    assert node.driver is not None and node.driver.version == "550.54.15"
    assert any(d.code == "ND205" and "disagree" in d.message for d in diags)


def test_unknown_distro_warns_instead_of_guessing() -> None:
    text = _node(
        {
            "feature.node.kubernetes.io/system-os_release.ID": "gentoo",
            "feature.node.kubernetes.io/system-os_release.VERSION_ID": "2.15",
        }
    )
    ((node, diags),) = parse_node_text(text, origin="t")
    assert node.glibc is None and node.libstdcxx is None
    assert any(d.code == "ND206" for d in diags)


def test_nfd_level_from_visible_features_only() -> None:
    avx2 = _node({f"feature.node.kubernetes.io/cpu-cpuid.{f}": "true" for f in ("AVX", "AVX2", "FMA3")})
    ((node, _),) = parse_node_text(avx2, origin="t")
    assert node.cpu.microarch_level == 3
    sse = _node({"feature.node.kubernetes.io/cpu-cpuid.ADX": "true"})
    ((node, _),) = parse_node_text(sse, origin="t")
    assert node.cpu.microarch_level == 1


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Node\nmetadata: [1, 2]\n",
        "apiVersion: v1\nkind: Node\nmetadata:\n  labels: [a, b]\n",
        "apiVersion: v1\nkind: Node\nmetadata:\n  labels:\n    nvidia.com/gpu.count: {a: 1}\n",
        "apiVersion: v1\nkind: List\nitems: 5\n",
        "apiVersion: v1\nkind: List\nitems: [{kind: Pod}]\n",
        "apiVersion: v1\nkind: List\nitems: []\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {}\n",
        "apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}\n",
    ],
)
def test_malformed_manifests_are_input_errors(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_node_text(text, origin="bad.yaml")
    assert exc.value.code == "ND202"
