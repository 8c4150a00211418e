"""BaizeAI Dataset manifests: CRD checks for every source type and the CONDA loader's real environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.specs import load_file, load_spec
from envresolve.specs.dataset import LOADER

DATASETS = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "datasets"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "corpus"


def _codes_at(path: Path) -> list[tuple[str, int | None]]:
    res = load_file(path)
    diags = list(res.diagnostics) + [d for s in res.specs for d in s.diagnostics]
    return sorted((d.code, d.location.line if d.location else None) for d in diags)


def test_crd_form_models_what_the_loader_builds() -> None:
    (spec,) = load_spec(DATASETS / "conda-pytorch-cu121.yaml")
    assert spec.format == "dataset" and spec.name == "pytorch-cu121" and spec.origin == "Dataset ml-envs/pytorch-cu121"
    assert spec.python == "3.11" and spec.gpu_type == "nvidia-gpu" and spec.pip_after_conda
    user = [(d.spec, d.location.line if d.location else None) for d in spec.conda if d.added_by is None]
    # `python=3.11` is dropped by the loader (it matches pythonVersion: no finding)
    assert user == [("numpy 1.26.*", 26), ("pandas >=2.1,<3", 27)]
    added = [d.spec for d in spec.conda if d.added_by == LOADER]
    assert added == ["python 3.11.*", "pip", "ipykernel", "nb_conda_kernels", "notebook"]
    assert [c.name for c in spec.channels] == ["conda-forge"]
    torch = next(r for r in spec.pip if r.name == "torch")
    assert torch.location is not None and (torch.location.line, torch.location.column) == (31, 9)
    assert [(i.kind, i.display) for i in spec.indexes] == [
        ("index-url", "https://pypi-mirror.example.invalid/simple"),
        ("extra-index-url", "https://torch-index.example.invalid/whl/cu121"),
    ]
    assert spec.diagnostics == ()


def test_talk_form_and_default_channels(tmp_path: Path) -> None:
    (spec,) = load_spec(DATASETS / "conda-talk-form.yaml")
    assert spec.python == "3.11.9"
    assert [d.name for d in spec.conda][:5] == ["cuda", "cuda-libraries-dev", "cuda-nvcc", "cuda-nvtx", "cuda-cupti"]
    assert [r.name for r in spec.pip] == ["transformers", "torch", "torchaudio", "torchvision"]
    # no `channels` key: the loader's default [defaults, conda-forge]
    p = tmp_path / "ds.yaml"
    p.write_text(
        "apiVersion: dataset.baizeai.io/v1alpha1\nkind: Dataset\nmetadata: {name: e}\nspec:\n  source:\n"
        "    type: CONDA\n    uri: conda://e\n    options:\n      name: e\n      pythonVersion: '3.12'\n"
        "      condaEnvironmentYml: |\n        dependencies: [numpy]\n"
    )
    (spec,) = load_spec(p)
    assert [c.name for c in spec.channels] == ["defaults", "conda-forge"]


def test_broken_embedded_yaml_points_inside_the_manifest() -> None:
    assert ("SP104", 18) in _codes_at(DATASETS / "conda-broken-embedded.yaml")


def test_conda_option_errors() -> None:
    got = _codes_at(DATASETS / "conda-option-errors.yaml")
    for expected in [
        ("SP140", 11),
        ("SP136", 11),
        ("SP141", 11),
        ("SP142", 12),
        ("SP220", 13),
        ("SP221", 13),
        ("SP144", 14),
        ("SP143", 17),
        ("SP145", 18),
        ("SP143", 19),
        ("SP124", 22),
    ]:
        assert expected in got, expected


def test_crd_errors_one_per_document() -> None:
    got = _codes_at(DATASETS / "crd-errors.yaml")
    for expected in [
        ("SP132", 8),
        ("SP133", 18),
        ("SP134", 27),
        ("SP135", 38),
        ("SP136", 39),
        ("SP137", 47),
        ("SP138", 58),
        ("SP138", 59),
        ("SP139", 74),
        ("SP111", 84),
        ("SP131", 86),
    ]:
        assert expected in got, expected


def test_multi_document_and_list_objects() -> None:
    res = load_file(DATASETS / "multi-doc-list.yaml")
    assert [s.name for s in res.specs] == ["notebook-env"]
    assert [d.code for d in res.diagnostics] == ["SP130"]


@pytest.mark.parametrize(
    "name",
    [
        "config_samples_http-dataset.yaml",
        "config_samples_http-dataset-with-bandwidth-limit.yaml",
        "config_samples_s3-dataset-with-bandwidth-limit.yaml",
        "docs_cascading-deletion-example_block1.yaml",
        "docs_cascading-deletion-example_block2.yaml",
    ],
)
def test_real_samples_have_no_errors(name: str) -> None:
    res = load_file(CORPUS / name)
    assert not [d for d in res.diagnostics if d.severity.value == "error"]


def test_each_source_type_uri_form(tmp_path: Path) -> None:
    good = {
        "GIT": "git://example.invalid/owner/repo.git",
        "S3": "s3://bucket/path",
        "HTTP": "https://example.invalid/files/",
        "PVC": "pvc://claim/dir",
        "NFS": "nfs://10.0.0.1/export",
        "CONDA": "conda://env?python=3.11",
        "REFERENCE": "dataset://ns/name",
        "HUGGING_FACE": "huggingface://org/model?repoType=model",
        "MODEL_SCOPE": "modelscope://ns/model",
        "DATABASE": "database://10.0.0.2:3306",
        "HADOOP": "hdfs://10.0.0.3:8020",
        "MANUAL": "manual://",
    }
    bad = {
        "GIT": "ssh://example.invalid/repo",
        "S3": "s3:/bucket",
        "HTTP": "ftp://example.invalid/",
        "PVC": "claim/dir",
        "NFS": "nfs:///export",
        "CONDA": "pip://env",
        "REFERENCE": "dataset://ns/name/extra",
        "HUGGING_FACE": "hf://org/model",
        "MODEL_SCOPE": "modelscope://model",
        "DATABASE": "database://10.0.0.2",
        "HADOOP": "hdfs://namenode",
        "MANUAL": "manual://x",
    }
    for typ in good:
        for uri, expect_error in ((good[typ], False), (bad[typ], True)):
            p = tmp_path / f"{typ}.yaml"
            opts = "    options: {name: e, pythonVersion: '3.11'}\n" if typ == "CONDA" else ""
            p.write_text(
                "apiVersion: dataset.baizeai.io/v1alpha1\nkind: Dataset\nmetadata: {name: d}\nspec:\n  source:\n"
                f"    type: {typ}\n    uri: '{uri}'\n{opts}"
            )
            codes = {d.code for d in load_file(p).diagnostics}
            assert bool(codes & {"SP133", "SP134"}) is expect_error, (typ, uri, codes)


def test_option_values_the_crd_constrains(tmp_path: Path) -> None:
    def codes(typ: str, uri: str, options: str) -> list[str]:
        p = tmp_path / "d.yaml"
        p.write_text(
            "apiVersion: dataset.baizeai.io/v1alpha1\nkind: Dataset\nmetadata: {name: d}\nspec:\n  source:\n"
            f"    type: {typ}\n    uri: '{uri}'\n    options: {options}\n"
        )
        return [d.code for d in load_file(p).diagnostics]

    assert codes("DATABASE", "database://10.0.0.2:3306", "{type: postgres, exportFormat: parquet}") == ["SP135"] * 2
    assert codes("DATABASE", "database://10.0.0.2:3306", "{type: MySQL, exportFormat: csv, dbName: app}") == []
    assert codes("GIT", "https://example.invalid/o/r.git", "{depth: 'shallow'}") == ["SP135"]
    assert codes("GIT", "https://example.invalid/o/r.git", "{depth: '1', branch: main}") == []
    assert codes("HUGGING_FACE", "huggingface://org/m", "{repoType: models}") == ["SP135"]
