"""Lock and spec checks against a `List` of Node manifests with GFD labels (the fleet acceptance)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from envresolve import ResolveSettings
from envresolve.binary.model import ArtifactReport, CudaRuntimeLink, ElfFacts, FatbinEntry
from envresolve.cli import EXIT_FINDINGS, EXIT_OK, main
from envresolve.lock import BinaryVerdict, Lock, LockedPipPackage, SpecRef, write
from envresolve.node import load_nodes
from envresolve.preflight.api import check, check_lock, check_spec
from envresolve.preflight.report import CHECK_JSON_VERSION, REPORT_VERSION
from envresolve.solve.conda import CondaSettings
from tests.check.shape import assert_check_shape
from tests.conftest import FIXTURES, REPO

NODES = FIXTURES / "check" / "nodes-gfd.yaml"
DEMO = REPO / "examples" / "llm-finetune-dataset.yaml"
INDEX = REPO / "examples" / "index"


def torch_lock() -> Lock:
    """A lock whose torch wheel carries recorded binary facts (CUDA 12 runtime, SASS sm_80..sm_120)."""
    sass = (80, 86, 90, 100, 120)
    elf = ElfFacts(
        path="torch/lib/libtorch_cuda.so",
        elf_class=64,
        machine="x86_64",
        needed=("libcudart.so.12", "libc.so.6", "libstdc++.so.6"),
        version_needs={"libc.so.6": ("GLIBC_2.28",), "libstdc++.so.6": ("GLIBCXX_3.4.22",)},
        cuda_runtime=CudaRuntimeLink(mode="dynamic", major=12),
        fatbin=(
            *(FatbinEntry(kind="sass", arch=f"sm_{s}", sm=s) for s in sass),
            FatbinEntry(kind="ptx", arch="compute_120", sm=120),
        ),
    )
    wheel = "torch-2.8.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl"
    report = ArtifactReport(
        artifact=wheel,
        kind="wheel",
        elf=(elf,),
        platform_tag="manylinux_2_28_x86_64",
        tag_glibc="2.28",
        max_glibc="2.28",
        max_glibcxx="3.4.22",
        cuda_runtime_majors=(12,),
        sass_archs=tuple(f"sm_{s}" for s in sass),
        ptx_archs=("compute_120",),
    )
    inspected = BinaryVerdict(status="compatible", basis="binary", reason="ELF and fatbin facts inspected")
    cudart_wheel = "nvidia_cuda_runtime_cu12-12.8.90-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    cudart = ArtifactReport(
        artifact=cudart_wheel,
        kind="wheel",
        elf=(
            ElfFacts(
                path="nvidia/cuda_runtime/lib/libcudart.so.12",
                elf_class=64,
                machine="x86_64",
                soname="libcudart.so.12",
                needed=("libc.so.6",),
                version_needs={"libc.so.6": ("GLIBC_2.17",)},
            ),
        ),
        platform_tag="manylinux2014_x86_64",
        tag_glibc="2.17",
        max_glibc="2.17",
    )
    return Lock(
        created_by="envresolve tests",
        spec=SpecRef(source="env.yml", format="environment-yml", digest="0" * 64),
        platform="linux-64",
        python="3.12.11",
        nodes=(),
        pip=(
            LockedPipPackage(
                name="torch",
                version="2.8.0+cu128",
                filename=wheel,
                url=f"https://example.invalid/{wheel}",
                verdict=inspected,
                binary=report,
            ),
            LockedPipPackage(
                name="nvidia-cuda-runtime-cu12",
                version="12.8.90",
                filename=cudart_wheel,
                url=f"https://example.invalid/{cudart_wheel}",
                verdict=inspected,
                binary=cudart,
            ),
            LockedPipPackage(
                name="filelock",
                version="3.20.0",
                filename="filelock-3.20.0-py3-none-any.whl",
                url="https://example.invalid/filelock-3.20.0-py3-none-any.whl",
                verdict=BinaryVerdict(status="compatible", basis="metadata", reason="pure Python"),
            ),
        ),
    )


def test_lock_against_gfd_node_list_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)
    rc = main(["check", str(lock), "--nodes", str(NODES)])
    out = capsys.readouterr().out
    assert rc == EXIT_FINDINGS
    lines = out.splitlines()
    assert lines[0] == (
        f"FAIL: lock {lock} runs on 5 of 6 nodes (3 group(s) of identical facts; 2 error(s), 1 warning(s))"
    )
    table = lines[2:6]
    assert table[0].split()[:3] == ["group", "nodes", "verdict"]
    assert table[1].split()[:3] == ["1", "3", "runs"] and "580.95.05" in table[1]
    assert table[2].split()[:3] == ["2", "2", "runs"] and "535.247.01" in table[2]
    assert table[3].split()[:4] == ["3", "1", "DOES", "NOT"] and "470.256.02" in table[3]
    assert "group 3 (does-not-run): t4-legacy" in out
    assert "  why: CP101 driver-too-old-for-cuda:" in out and "  why: CP110 no-kernel-for-gpu:" in out
    assert "CK109" not in out  # every compiled package has recorded facts; filelock is pure Python

    assert main(["check", str(lock), "--nodes", str(NODES), "--format", "json"]) == EXIT_FINDINGS
    (obj,) = json.loads(capsys.readouterr().out)["reports"]
    per_node = {n["node"]: n["verdict"] for n in obj["nodes"]}
    assert per_node == {
        "h100-a": "runs",
        "h100-b": "runs",
        "h100-c": "runs",
        "a100-old-driver-1": "runs",
        "a100-old-driver-2": "runs",
        "t4-legacy": "does-not-run",
    }
    # the same verdicts as the table, group by group
    assert [(g["id"], g["verdict"], len(g["nodes"])) for g in obj["groups"]] == [
        (1, "runs", 3),
        (2, "runs", 2),
        (3, "does-not-run", 1),
    ]
    codes = {d["code"] for d in obj["groups"][2]["diagnostics"]}
    assert {"CP101", "CP110"} <= codes

    # the same lock on the H100 nodes only: exit 0
    h100 = tmp_path / "h100.json"
    h100.write_text(load_nodes(NODES)[0].to_json(), encoding="utf-8")
    assert main(["check", str(lock), "--node", str(h100)]) == EXIT_OK
    assert capsys.readouterr().out.startswith(f"OK: lock {lock} runs on h100-a")


def test_lock_without_binary_facts_says_so() -> None:
    lock = torch_lock()
    bare = lock.model_copy(update={"pip": (lock.pip[0].model_copy(update={"binary": None}), *lock.pip[1:])})
    report = check_lock(bare, load_nodes(NODES)[:1])
    notes = [d for d in report.diagnostics if d.code == "CK109"]
    assert len(notes) == 1 and notes[0].message.endswith("re-verified: torch")
    assert notes[0].evidence[0].fact == "pypi torch 2.8.0+cu128: ELF and fatbin facts inspected"


def test_operator_api_check_accepts_objects_and_paths(tmp_path: Path) -> None:
    nodes = load_nodes(NODES)
    report = check(torch_lock(), nodes)
    assert report.summary.nodes == 6 and report.summary.nodes_ok == 5
    lock = tmp_path / "torch.lock"
    write(torch_lock(), lock)
    by_path = check(lock, str(NODES))
    assert [v.verdict for v in by_path.nodes] == [v.verdict for v in report.nodes]
    assert json.loads(by_path.to_json())["verdict"] == "does-not-run"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("check-cache")
    old = os.environ.get("ENVRESOLVE_CACHE_DIR")
    os.environ["ENVRESOLVE_CACHE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("ENVRESOLVE_CACHE_DIR", None)
    else:
        os.environ["ENVRESOLVE_CACHE_DIR"] = old


def test_spec_is_resolved_then_checked(cache: Path) -> None:
    """The offline demo Dataset (examples/): resolved with CONDA's resolve for the fleet, then checked."""
    settings = ResolveSettings(
        conda=CondaSettings(cache_dir=str(cache / "repodata")),
        index_urls=(str(INDEX),),
        notebook_packages=False,
        pip_cache_dir=str(cache / "pip"),
    )
    nodes = load_nodes(NODES)
    (report,) = check_spec(DEMO, nodes, offline=True, settings=settings)
    assert report.kind == "spec" and report.subject.endswith("(llm-finetune)")
    verdicts = {v.node: v.verdict for v in report.nodes}
    assert verdicts["t4-legacy"] == "does-not-run" and verdicts["h100-a"] == "runs"
    t4 = next(g for g in report.groups if "t4-legacy" in g.nodes)
    assert any(d.code == "RS102" for d in t4.diagnostics)  # conda needs __cuda >= 12, the node has 11.4
    # one node that can run it: a common lock exists and is checked like a lockfile
    (ok,) = check_spec(DEMO, nodes[:1], offline=True, settings=settings)
    assert ok.ok and ok.summary.packages > 10


def test_lock_for_another_platform() -> None:
    nodes = load_nodes(NODES)
    arm = nodes[0].model_copy(update={"name": "grace-1", "cpu": nodes[0].cpu.model_copy(update={"arch": "aarch64"})})
    report = check_lock(torch_lock(), [nodes[0], arm])
    verdicts = {v.node: v.verdict for v in report.nodes}
    assert verdicts == {"h100-a": "runs", "grace-1": "does-not-run"}
    (group,) = [g for g in report.groups if g.nodes == ("grace-1",)]
    assert [d.code for d in group.diagnostics if d.code == "CK113"] == ["CK113"]
    assert "linux-64" in group.reasons[0] and "aarch64" in group.reasons[0]


def test_spec_with_two_environments_on_the_cli(tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest with two CONDA Datasets gives two reports: one JSON document, one SARIF log with two runs."""
    text = DEMO.read_text(encoding="utf-8")
    second = text.replace("name: llm-finetune-env", "name: llm-finetune-env-2").replace(
        "name: llm-finetune\n", "name: llm-finetune-2\n"
    )
    spec = tmp_path / "two.yaml"
    spec.write_text(text + "\n---\n" + second, encoding="utf-8")
    (tmp_path / "channel").symlink_to(REPO / "examples" / "channel")
    h100 = tmp_path / "h100.json"
    h100.write_text(load_nodes(NODES)[0].to_json(), encoding="utf-8")
    base = ["check", str(spec), "--node", str(h100), "--offline", "--no-notebook-packages", "--index-url", str(INDEX)]
    assert main([*base, "--format", "json"]) == EXIT_OK
    obj = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in obj["reports"]] == ["runs", "runs"] and obj["verdict"] == "runs"
    assert obj["version"] == CHECK_JSON_VERSION and obj["reports"][0]["version"] == REPORT_VERSION
    assert_check_shape(obj)  # the same shape as one report (tests/check/test_json_shape.py)
    assert obj["reports"][1]["subject"].endswith("(llm-finetune-2)")
    assert main([*base, "--format", "sarif"]) == EXIT_OK
    assert len(json.loads(capsys.readouterr().out)["runs"]) == 2
    assert main(base) == EXIT_OK
    assert capsys.readouterr().out.count("OK: spec ") == 2
