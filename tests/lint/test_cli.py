"""`envresolve lint`: exit codes, output formats, GitHub annotations, SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from envresolve.cli import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "specs"
NODE_535 = FIX / "nodes" / "a100-driver535.yaml"
NODE_580 = FIX / "nodes" / "h100-driver580.yaml"
CU130 = FIX / "datasets" / "conda-cu130-on-driver535.yaml"


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = tmp_path / "requirements.txt"
    ok.write_text("numpy>=2\n")
    assert main(["lint", str(ok)]) == 0
    assert "no findings" in capsys.readouterr().out
    bad = tmp_path / "r2.txt"
    bad.write_text("torch=2.1\n")
    assert main(["lint", str(bad)]) == 1
    assert "SP121" in capsys.readouterr().out
    assert main(["lint", str(tmp_path / "missing.txt")]) == 2
    assert "GN101" in capsys.readouterr().err
    assert main(["lint", str(ok), "--node", str(tmp_path / "no-node.yaml")]) == 2
    assert main(["lint", str(ok), "--format", "xml"]) == 2
    capsys.readouterr()


def test_acceptance_dataset_contradicting_node_driver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(CU130), "--node", str(NODE_535), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    (finding,) = [d for d in out["diagnostics"] if d["code"] == "CP101"]
    assert finding["node"] == "gpu-a100-07"
    assert finding["severity"] == "error"
    assert finding["location"]["line"] == 26  # `torch==2.9.0+cu130` inside the embedded pipRequirementsTxt
    assert finding["location"]["column"] == 9
    assert CU130.read_text().splitlines()[25].strip() == "torch==2.9.0+cu130"
    # the same Dataset is fine on a node whose driver runs CUDA 13.0
    assert main(["lint", str(CU130), "--node", str(NODE_580)]) == 0
    capsys.readouterr()


def test_github_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(CU130), "--node", str(NODE_535), "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    (line,) = [x for x in lines if "CP101" in x]
    assert line.startswith("::error file=")
    assert ",line=26,col=9,title=CP101 driver-too-old-for-cuda::" in line


def test_sarif_validates_against_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    schema = json.loads((FIX / "sarif" / "sarif-schema-2.1.0.json").read_text())
    paths = [str(FIX / "datasets"), str(FIX / "corpus" / "NVIDIA__TensorRT-LLM__requirements.txt")]
    assert main(["lint", *paths, "--node", str(NODE_535), "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator.check_schema(schema)
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(log))
    assert errors == []
    (run,) = log["runs"]
    assert len(run["results"]) > 20
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(res["ruleId"] == rule_ids[res["ruleIndex"]] for res in run["results"])
    sp202 = next(
        r
        for r in run["results"]
        if r["ruleId"] == "CP101"
        and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(CU130.name)
    )
    region = sp202["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (26, 9)
    # a SARIF log with no findings validates too
    empty = FIX / "datasets" / "conda-pytorch-cu121.yaml"
    assert main(["lint", str(empty), "--format", "sarif"]) == 0
    assert list(jsonschema.Draft4Validator(schema).iter_errors(json.loads(capsys.readouterr().out))) == []


def test_credentials_never_reach_any_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "requirements.txt"
    p.write_text(
        "-i https://alice:hunter2@pypi.example.invalid/simple\nnumpy @ https://bob:pw123@files.example.invalid/numpy-2.0-py3-none-any.whl\n"
    )
    for fmt in ("text", "json", "sarif", "github"):
        assert main(["lint", str(p), "--format", fmt]) == 1
        out = capsys.readouterr().out
        assert "hunter2" not in out and "pw123" not in out and "SP220" in out


def test_directory_walk_and_virtual_package_node(capsys: pytest.CaptureFixture[str]) -> None:
    vp = FIX / "corpus" / "conda__conda-lock__tests_test-cuda_virtual-packages.yaml"
    env = FIX / "corpus" / "conda__conda-lock__tests_test-cuda_environment.yaml"
    assert main(["lint", str(env), "--node", str(vp), "--format", "json"]) in (0, 1)
    out = json.loads(capsys.readouterr().out)
    assert out["nodes"]
    # a virtual-package file given as a PATH is recognised and skipped with an info
    assert main(["lint", str(vp)]) == 0
    assert "SP107" in capsys.readouterr().out


def test_directory_walk_picks_spec_looking_files(tmp_path: Path) -> None:
    from envresolve.specs.lint import iter_spec_files

    for name, text in {
        "LICENSE.txt": "Permission is hereby granted, free of charge\n",
        "requirements-dev.txt": "pytest\n",
        "ci/constraints.txt": "numpy<2\n",
        "notes.toml": "[x]\n",
        "pixi.toml": '[workspace]\nname = "x"\nplatforms = ["linux-64"]\n',
        "k8s/dataset.yaml": "apiVersion: v1\nkind: ConfigMap\n",
        ".git/config.yaml": "a: 1\n",
    }.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    found = sorted(p.relative_to(tmp_path).as_posix() for p in iter_spec_files([tmp_path]))
    assert found == ["ci/constraints.txt", "k8s/dataset.yaml", "pixi.toml", "requirements-dev.txt"]
    assert main(["lint", str(tmp_path)]) == 0
