"""pixi manifests: pixi.toml and [tool.pixi] in pyproject.toml, TOML 1.1 included."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.errors import InputError
from envresolve.specs import load_file, load_spec
from envresolve.specs.pixi import normalize_toml_1_1, tomllib

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "corpus"
PIXI_PYPI = CORPUS / "prefix-dev__pixi__docs_source_files_pixi_tomls_pytorch-pypi-envs.toml"


def test_toml_1_1_file_is_read_with_an_info() -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(PIXI_PYPI.read_text())
    text = PIXI_PYPI.read_text()
    assert len(normalize_toml_1_1(text).splitlines()) == len(text.splitlines())
    specs = load_spec(PIXI_PYPI)
    assert [s.origin for s in specs] == [
        "pixi environment default, platform linux-64-cuda",
        "pixi environment default, platform linux-64-cpu",
    ]
    cuda, cpu = specs
    assert cuda.system_requirements.cuda == "12.0" and cpu.system_requirements.cuda is None
    torch = next(r for r in cuda.pip if r.name == "torch")
    assert torch.index and torch.index.endswith("/whl/cu124") and torch.specifier == ">=2.5.1"
    assert torch.location is not None and torch.location.line == 18
    assert (next(r for r in cpu.pip if r.name == "torch").index or "").endswith("/whl/cpu")
    assert [d.code for d in cuda.diagnostics] == ["SP108"]


def test_real_toml_error_is_sp106_not_a_crash(tmp_path: Path) -> None:
    p = tmp_path / "pixi.toml"
    p.write_text('[workspace]\nname = "x"\n[dependencies]\npython = ">=3.11\n')
    (diag,) = load_file(p).diagnostics
    assert diag.code == "SP106" and diag.location is not None and diag.location.line == 4
    with pytest.raises(InputError):
        load_spec(p)


def test_features_environments_targets_and_sysreq() -> None:
    specs = load_spec(CORPUS / "intMinsu__pixi-sample__pixi.toml")
    by_name = {s.name: s for s in specs}
    assert len(specs) == 13 and by_name["pixi-sample"].origin == "pixi environment default"
    env = by_name["py310cu117"]
    assert env.python == "3.10"
    assert env.system_requirements.linux == "5.4.0"
    assert {d.name for d in env.conda} >= {"pandas", "pytorch", "pytorch-cuda", "cudatoolkit", "cudnn"}
    cuda = next(d for d in env.conda if d.name == "pytorch-cuda")
    assert cuda.channel == "pytorch" and cuda.location is not None and cuda.location.line == 54
    assert "nvidia/label/cuda-12.1.0" in [c.name for c in env.channels]


def test_inline_platform_tables_and_pyproject() -> None:
    (spec,) = load_spec(CORPUS / "prefix-dev__pixi__docs_source_files_pixi_tomls_pytorch-conda-forge.toml")
    assert spec.platforms == ("linux-64", "win-64") and spec.system_requirements.cuda == "12.0"
    (spec,) = load_spec(CORPUS / "prefix-dev__pixi__examples_detectron2-from-source_pyproject.toml")
    assert spec.python == ">=3.11"
    assert [r.name for r in spec.pip] == ["detectron2"]
    assert {d.name for d in spec.conda} >= {"pytorch", "cxx-compiler"}


def test_undefined_feature_and_bad_platform(tmp_path: Path) -> None:
    p = tmp_path / "pixi.toml"
    p.write_text(
        '[workspace]\nname = "x"\nchannels = ["conda-forge"]\nplatforms = ["linux-x86_64", "linux-64"]\n'
        '[dependencies]\npython = "3.12.*"\n[environments]\ncuda = ["cuda12"]\n'
    )
    codes = sorted(d.code for s in load_spec(p) for d in s.diagnostics)
    assert codes == ["SP150", "SP151"]
