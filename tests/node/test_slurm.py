"""Slurm node facts from real `scontrol show node` output: captured from a one-host Slurm 22.05 cluster
(tests/fixtures/slurm/capture.sh) and published by HPC centres (tests/fixtures/slurm/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import EXIT_OK, EXIT_USAGE, main
from envresolve.errors import InputError
from envresolve.node import load_node, load_nodes, read_nodes
from envresolve.node.facts import NodeFacts, Provenance
from envresolve.node.slurm import gpu_row_for_gres_type, nodes_from_scontrol
from tests.conftest import FIXTURES

SLURM = FIXTURES / "slurm"
MULTILINE = SLURM / "captured-multiline.txt"
ONELINE = SLURM / "captured-oneline.txt"
ONE_NODE = SLURM / "captured-one-node.txt"
RCIC = SLURM / "published-rcic-hpc3-gpu-16-00.txt"
NYUSH = SLURM / "published-nyush-gpu187.txt"
UPENN = SLURM / "published-upenn-node-2080ti-3.txt"


def by_name(nodes: list[NodeFacts]) -> dict[str, NodeFacts]:
    return {n.name or "": n for n in nodes}


def gpu_summary(node: NodeFacts) -> tuple[int, tuple[str, ...]]:
    return len(node.gpus), node.compute_capabilities


def test_captured_multiline_gives_one_node_per_nodename() -> None:
    loaded = read_nodes(MULTILINE)
    nodes = by_name([n for n, _ in loaded])
    assert list(nodes) == ["cpu-01", "gpu-a100-01", "gpu-a100-02", "gpu-h100-01", "gpu-untyped-01"]
    assert gpu_summary(nodes["gpu-a100-01"]) == (4, ("8.0",))
    assert gpu_summary(nodes["gpu-a100-02"]) == (4, ("8.0",))
    assert gpu_summary(nodes["gpu-h100-01"]) == (8, ("9.0",))  # Gres=gpu:h100:8(S:0)
    assert {g.name for g in nodes["gpu-h100-01"].gpus} == {"NVIDIA H100"}
    assert [g.index for g in nodes["gpu-h100-01"].gpus] == list(range(8))
    assert nodes["gpu-a100-01"].provenance["gpus"] is Provenance.INFERRED
    # untyped gres: the count is known (label), the model is not (no GPU listed, a warning)
    untyped = nodes["gpu-untyped-01"]
    assert untyped.gpus == () and untyped.labels["slurm/gpus"] == "2" and untyped.labels["slurm/gres"] == "gpu:2"
    diags = dict(zip([n.name for n, _ in loaded], [d for _, d in loaded], strict=True))
    assert [d.code for d in diags["gpu-untyped-01"] if d.code == "ND312"] == ["ND312"]
    # features and partitions are labels; the cpu node has no GPU and no driver
    assert nodes["gpu-a100-01"].labels["slurm.feature/ib"] == "active"
    assert nodes["gpu-a100-01"].labels["slurm/partitions"] == "gpu"
    assert nodes["cpu-01"].gpus == () and nodes["cpu-01"].driver is None
    # what Slurm does not say stays unknown: driver version and CUDA level, glibc on a non-RHEL kernel
    for name in ("gpu-a100-01", "gpu-h100-01", "gpu-untyped-01"):
        drv = nodes[name].driver
        assert drv is not None and drv.version is None and drv.cuda is None
        assert nodes[name].glibc is None and nodes[name].libstdcxx is None
        assert nodes[name].os.kernel == "6.18.44-fc-v1300" and nodes[name].cpu.arch == "x86_64"
        assert {"ND313", "ND315"} <= {d.code for d in diags[name]}


def test_oneline_form_gives_the_same_nodes() -> None:
    multi = load_nodes(MULTILINE)
    one = load_nodes(ONELINE)
    assert [n.model_dump(exclude={"source"}) for n in one] == [n.model_dump(exclude={"source"}) for n in multi]


def test_partition_capture_holds_the_partitions_nodes_only() -> None:
    nodes = load_nodes(SLURM / "captured-partition-gpu.txt")
    assert [n.name for n in nodes] == ["gpu-a100-01", "gpu-a100-02", "gpu-h100-01", "gpu-untyped-01"]
    assert all(n.labels["slurm/partitions"] == "gpu" for n in nodes)


def test_one_node_file_loads_as_one_node() -> None:
    node = load_node(ONE_NODE)
    assert node.name == "gpu-h100-01" and gpu_summary(node) == (8, ("9.0",))


def test_published_el8_node_infers_glibc_228() -> None:
    [(node, diags)] = read_nodes(RCIC)
    assert node.name == "hpc3-gpu-16-00"
    assert gpu_summary(node) == (4, ("7.0",)) and node.gpus[0].name == "Tesla V100"  # Gres=gpu:V100:4
    assert node.os.kernel == "4.18.0-477.15.1.el8_8.x86_64"
    assert node.glibc == "2.28" and node.provenance["glibc"] is Provenance.INFERRED
    assert node.libstdcxx is not None and node.libstdcxx.glibcxx == "3.4.25"
    assert node.provenance["libstdcxx"] is Provenance.INFERRED
    inferred = [d for d in diags if d.code == "ND207"]
    assert len(inferred) == 2
    glibc = next(d for d in inferred if d.subject == "glibc")
    assert "el8" in glibc.message and any(e.fact == "rhel 8: glibc 2.28" for e in glibc.evidence)
    assert node.labels["slurm/partitions"] == "free-gpu,gpu" and node.labels["slurm.feature/avx512"] == "active"


def test_published_crlf_node_with_a_type_the_table_lacks() -> None:
    assert b"\r\n" in NYUSH.read_bytes()  # kept as published
    [(node, diags)] = read_nodes(NYUSH)
    assert node.name == "gpu187" and node.gpus == ()  # Gres=gpu:a800:8(S:0-1): A800 is not in the GPU table
    assert node.labels["slurm/gpus"] == "8" and node.glibc == "2.28"
    unknown = next(d for d in diags if d.code == "ND312")
    assert "8 x 'a800'" in unknown.message


def test_published_ubuntu_node_keeps_glibc_unknown() -> None:
    [(node, diags)] = read_nodes(UPENN)
    assert node.name == "node-2080ti-3" and gpu_summary(node) == (4, ("7.5",))  # Gres=gpu:rtx2080ti:4(S:0)
    assert node.gpus[0].name == "GeForce RTX 2080 Ti"
    assert node.os.kernel == "4.15.0-108-generic" and node.glibc is None and node.libstdcxx is None
    assert node.labels["slurm/partitions"] == "compute,kostas-compute"
    assert not any(k.startswith("slurm.feature/") for k in node.labels)  # AvailableFeatures=(null)
    assert {"ND311", "ND313", "ND315"} <= {d.code for d in diags}


@pytest.mark.parametrize(
    ("kernel", "glibc", "glibcxx"),
    [
        ("3.10.0-1160.el7.x86_64", "2.17", "3.4.19"),
        ("4.18.0-372.9.1.el8.x86_64", "2.28", "3.4.25"),
        ("5.14.0-362.8.1.el9_3.x86_64", "2.34", "3.4.29"),
        ("5.4.17-2136.300.7.el8uek.x86_64", "2.28", "3.4.25"),
        ("5.15.0-58-generic", None, None),
        ("6.1.0-18-amd64", None, None),
    ],
)
def test_kernel_release_decides_what_is_inferred(kernel: str, glibc: str | None, glibcxx: str | None) -> None:
    text = f"NodeName=n1 Arch=x86_64 Gres=(null) OS=Linux {kernel} #1 SMP Thu Jan 5 11:43:13 UTC 2023 RealMemory=1\n"
    [(node, diags)] = nodes_from_scontrol(text, origin="t.txt")
    assert node.os.kernel == kernel and node.glibc == glibc
    assert (node.libstdcxx.glibcxx if node.libstdcxx else None) == glibcxx
    assert ("ND315" in {d.code for d in diags}) is (glibc is None)


@pytest.mark.parametrize(
    ("gres_type", "model", "mig"),
    [
        ("a100", "NVIDIA A100", False),
        ("A100", "NVIDIA A100", False),
        ("nvidia_a100-sxm4-80gb", "NVIDIA A100", False),
        ("a100_80gb", "NVIDIA A100", False),
        ("tesla_v100-sxm2-16gb", "Tesla V100", False),
        ("h100", "NVIDIA H100", False),
        ("rtx_a6000", "NVIDIA RTX A6000", False),
        ("a100_3g.20gb", "NVIDIA A100", True),
        ("a10", "NVIDIA A10", False),
        ("a800", None, False),
        ("tesla", None, False),
        ("titanxp", None, False),
    ],
)
def test_gres_type_names_a_model_or_nothing(gres_type: str, model: str | None, mig: bool) -> None:
    found = gpu_row_for_gres_type(gres_type)
    assert (found[0].row.name if found else None) == model
    assert (found[1] if found else False) is mig


def test_typed_gres_with_socket_binding() -> None:
    [(node, _)] = nodes_from_scontrol("NodeName=h1 Gres=gpu:h100:8(S:0-1) Arch=x86_64\n", origin="t.txt")
    assert gpu_summary(node) == (8, ("9.0",)) and node.labels["slurm/gres"] == "gpu:h100:8(S:0-1)"


def test_several_gres_entries_and_unreadable_counts() -> None:
    text = "NodeName=mix Gres=gpu:a100:2,gpu:v100:2(S:0,1),shard:8,gpu:x:lots Arch=x86_64\n"
    [(node, diags)] = nodes_from_scontrol(text, origin="t.txt")
    assert gpu_summary(node) == (4, ("7.0", "8.0")) and [g.index for g in node.gpus] == [0, 1, 2, 3]
    assert node.labels["slurm/gpus"] == "4"
    assert [d.code for d in diags if d.code == "ND314"] == ["ND314"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("NodeName=a Arch=x86_64\n   [...]\n", "line 2"),
        ("NodeName=a Arch=x86_64\nNodeName=a Arch=x86_64\n", "listed twice"),
        ("NodeName= Arch=x86_64\n", "no value"),
        ("NodeName=a Arch=x86_64\n   Gres = gpu:2\n", "line 2"),
    ],
)
def test_malformed_scontrol_text_is_a_coded_error(text: str, needle: str) -> None:
    with pytest.raises(InputError) as err:
        nodes_from_scontrol(text, origin="bad.txt")
    [diag] = err.value.diagnostics
    assert diag.code == "ND310" and needle in diag.message


def test_malformed_file_on_the_cli_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "nodes.txt"
    bad.write_text(MULTILINE.read_text(encoding="utf-8") + "scontrol: error: Node gpu9 not found\n", encoding="utf-8")
    assert main(["probe", "--node", str(bad), "--format", "json"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "ND310" in captured.err and "Traceback" not in captured.err + captured.out


def test_probe_json_prints_a_list_for_several_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--node", str(ONELINE), "--format", "json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and [n["name"] for n in data][:2] == ["cpu-01", "gpu-a100-01"]
    assert NodeFacts.from_obj(data[1]).labels["slurm.feature/a100"] == "active"  # the JSON reads back
    assert main(["probe", "--node", str(ONE_NODE), "--format", "json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["name"] == "gpu-h100-01"


def test_labels_stay_out_of_json_and_fingerprints_when_empty() -> None:
    from envresolve.lock.model import node_fingerprint

    plain = load_node("h100-driver580")
    assert "labels" not in plain.model_dump(mode="json")
    labelled = plain.model_copy(update={"labels": {"slurm/partitions": "gpu"}})
    assert node_fingerprint(labelled) != node_fingerprint(plain) and plain.same_facts(labelled)
