"""Acceptance: lint every spec and Dataset file of the corpus copy: no crash, exit 0 or 1, valid JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envresolve.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "corpus"
FILES = sorted(p for p in CORPUS.iterdir() if p.is_file())


def test_corpus_copy_is_complete() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[p.name[:60] for p in FILES])
def test_lint_each_corpus_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["lint", str(path), "--format", "json"])
    captured = capsys.readouterr()
    assert rc in (0, 1), captured.err
    assert "Traceback" not in captured.err
    out = json.loads(captured.out)
    assert out["version"] == 1
    for d in out["diagnostics"]:
        assert d["code"].startswith(("SP", "GN"))
        assert d["location"]["file"] == str(path)


def test_expected_findings_on_real_files(capsys: pytest.CaptureFixture[str]) -> None:
    def run(name: str) -> list[dict[str, object]]:
        main(["lint", str(CORPUS / name), "--format", "json"])
        return list(json.loads(capsys.readouterr().out)["diagnostics"])

    # TensorRT-LLM: `-c constraints.txt` is not in the repository copy
    assert any(d["code"] == "SP124" for d in run("NVIDIA__TensorRT-LLM__requirements.txt"))
    # openfold: pytorch::pytorch=1.12.* with no CUDA pin
    assert any(d["code"] == "SP212" for d in run("aqlaboratory__openfold__environment.yml"))
    # pixi-sample cu117 feature: pytorch-cuda 11.7 and cudatoolkit 11.7
    assert any(d["code"] == "SP211" for d in run("intMinsu__pixi-sample__pixi.toml"))
    # pixi docs: declares cuda 12.0, asks for cuda-version 12.6
    assert any(
        d["code"] == "SP205" for d in run("prefix-dev__pixi__docs_source_files_pixi_tomls_pytorch-conda-forge.toml")
    )
    # rapids: clang-tools listed twice
    assert any(d["code"] == "SP126" for d in run("rapidsai__cudf__conda_environments_all_cuda-129_arch-x86_64.yaml"))
