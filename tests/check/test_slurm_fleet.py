"""`check LOCK --nodes` on saved `scontrol show node` output: identical Slurm nodes group, the table prints, and
what Slurm does not say (the driver) never becomes an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import EXIT_FINDINGS, EXIT_OK, main
from envresolve.lock import write
from envresolve.specs.checks import check_spec
from envresolve.specs.load import load_spec
from tests.check.test_lock_spec import torch_lock
from tests.conftest import FIXTURES

SLURM = FIXTURES / "slurm"


@pytest.fixture
def partition(tmp_path: Path) -> Path:
    """One saved file: the captured cluster plus the two published nodes (the CRLF one as published)."""
    text = "".join(
        (SLURM / name).read_text(encoding="utf-8")
        for name in (
            "captured-multiline.txt",
            "published-rcic-hpc3-gpu-16-00.txt",
            "published-nyush-gpu187.txt",
            "published-upenn-node-2080ti-3.txt",
        )
    )
    path = tmp_path / "slurm.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_lock_groups_slurm_nodes_and_prints_the_table(
    tmp_path: Path, partition: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)  # torch with SASS sm_80..sm_120, needs GLIBC_2.28
    assert main(["check", str(lock), "--nodes", str(partition)]) == EXIT_FINDINGS
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (
        f"FAIL: lock {lock} runs on 6 of 8 nodes (7 group(s) of identical facts; 2 error(s), 18 warning(s))"
    )
    rows = [line.split() for line in lines[2:10]]
    assert rows[0][:3] == ["group", "nodes", "verdict"]
    assert rows[2][:3] == ["2", "2", "runs"] and rows[2][-1] == "8.0"  # gpu-a100-01 and -02: one group
    assert rows[2][-3:-1] == ["?", "?"]  # driver and its CUDA level: unknown, not absent
    assert "group 2 (runs): gpu-a100-01, gpu-a100-02" in out
    assert rows[5][:5] == ["5", "1", "DOES", "NOT", "RUN"] and rows[5][-5:-3] == ["2.28", "3.4.25"]
    assert "group 5 (does-not-run): hpc3-gpu-16-00" in out and "why: CP110 no-kernel-for-gpu" in out
    assert rows[7][:5] == ["7", "1", "DOES", "NOT", "RUN"] and rows[7][-1] == "7.5"  # gpu:rtx2080ti:4(S:0)
    # GPUs whose model Slurm does not name are said once per node in the report: unchecked, not failed
    assert "warning[ND312 slurm-gpu-model-unknown] [node gpu187]" in out
    assert "warning[ND312 slurm-gpu-model-unknown] [node gpu-untyped-01]" in out
    for code in ("CP101", "CP103", "SP202"):  # no driver verdict rests on what Slurm does not report
        assert code not in out
    # what Slurm does not report is a warning naming the floor the lock needs (the 16 new warnings: RS130-RS132)
    assert (
        "warning[RS130 needs-glibc-unknown-on-node] [node gpu-h100-01] torch: this environment needs glibc >= 2.28"
        in out
    )
    assert "warning[RS132 needs-driver-unknown-on-node] [node gpu-a100-01 (+1 more)]" in out
    assert "driver >= 570.26" in out and "error[RS13" not in out

    assert main(["check", str(lock), "--nodes", str(partition), "--format", "json"]) == EXIT_FINDINGS
    (obj,) = json.loads(capsys.readouterr().out)["reports"]
    verdicts = {n["node"]: n["verdict"] for n in obj["nodes"]}
    assert verdicts["hpc3-gpu-16-00"] == verdicts["node-2080ti-3"] == "does-not-run"
    assert {k for k, v in verdicts.items() if v == "runs"} == {
        "cpu-01",
        "gpu-a100-01",
        "gpu-a100-02",
        "gpu-h100-01",
        "gpu-untyped-01",
        "gpu187",
    }


def test_one_finding_names_the_many_nodes_it_is_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)
    # the captured untyped node, repeated under nine names: one ND312 that names the nodes, not nine
    block = next(
        b for b in (SLURM / "captured-multiline.txt").read_text(encoding="utf-8").split("\n\n") if "gpu:2" in b
    )
    nodes = tmp_path / "untyped.txt"
    nodes.write_text("\n\n".join(block.replace("gpu-untyped-01", f"u{i}") for i in range(9)), encoding="utf-8")
    assert main(["check", str(lock), "--nodes", str(nodes), "--format", "json"]) == EXIT_OK
    (report,) = json.loads(capsys.readouterr().out)["reports"]
    [note] = [d for d in report["diagnostics"] if d["code"] == "ND312"]
    assert note.get("node") is None and note["evidence"][-1]["fact"] == "9 nodes: u0, u1, u2, u3, u4, u5, ... (+3)"


def test_el7_node_fails_a_manylinux_2_28_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)
    el7 = tmp_path / "el7.txt"
    el7.write_text(
        "NodeName=old01 Arch=x86_64 Gres=gpu:a100:4 OS=Linux 3.10.0-1160.el7.x86_64 #1 SMP Mon Oct 19 16:18:59 "
        "UTC 2020 Partitions=gpu\n",
        encoding="utf-8",
    )
    assert main(["check", str(lock), "--nodes", str(el7), "--verbose"]) == EXIT_FINDINGS  # evidence lines
    out = capsys.readouterr().out
    assert "GLIBC_2.28" in out and "2.17" in out


def test_pixi_cuda_requirement_is_not_judged_against_an_unknown_driver() -> None:
    spec = load_spec(
        FIXTURES / "specs" / "corpus" / "prefix-dev__pixi__docs_source_files_pixi_tomls_pytorch-conda-forge.toml"
    )[0]
    from envresolve.node import load_node

    node = load_node(SLURM / "published-rcic-hpc3-gpu-16-00.txt")
    assert spec.system_requirements.cuda  # the spec declares cuda = "12.0"
    assert not [d for d in check_spec(spec, node) if d.code == "SP202"]


def test_lint_with_a_slurm_node_file(capsys: pytest.CaptureFixture[str]) -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "llm-finetune-dataset.yaml"
    assert main(["lint", str(demo), "--node", str(SLURM / "captured-one-node.txt")]) == EXIT_OK


def test_lock_made_for_a_slurm_node_checks_ok_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    node = SLURM / "published-rcic-hpc3-gpu-16-00.txt"
    out = tmp_path / "env.lock"
    args = ["--offline", "--index-url", str(examples / "index"), "--no-notebook-packages", "--node", str(node)]
    # torch 2.11.0's PyPI wheel has no sm_70 SASS and no PTX (measured, pytorch.yaml): the search skips it for
    # these V100s and locks 2.10.0 (CUDA 12.8, ships sm_70)
    assert main(["lock", str(examples / "llm-finetune-dataset.yaml"), *args, "-o", str(out)]) == EXIT_OK
    capsys.readouterr()
    assert {p["name"]: p["version"] for p in json.loads(out.read_text(encoding="utf-8"))["pip"]}["torch"] == "2.10.0"
    out.unlink()
    # the same Dataset with torch held below 2.11 (2.10.0, CUDA 12.8, ships sm_70) locks for the node
    spec = tmp_path / "dataset.yaml"
    text = (examples / "llm-finetune-dataset.yaml").read_text(encoding="utf-8")
    text = text.replace("./channel/conda-forge", str(examples / "channel" / "conda-forge"))
    spec.write_text(text.replace("        torch\n", "        torch<2.11\n"), encoding="utf-8")
    assert main(["lock", str(spec), *args, "-o", str(out)]) == EXIT_OK
    capsys.readouterr()
    locked = json.loads(out.read_text(encoding="utf-8"))["nodes"][0]
    assert locked["name"] == "hpc3-gpu-16-00" and locked["facts"]["glibc"] == "2.28"
    assert locked["facts"]["labels"]["slurm/gres"] == "gpu:V100:4"  # labels travel with the lock's node facts
    assert main(["check", str(out), "--nodes", str(node)]) == EXIT_OK
    out_text = capsys.readouterr().out
    assert out_text.startswith(f"OK: lock {out} runs on hpc3-gpu-16-00") and "LK101" not in out_text
