"""conda dependency strings -> MatchSpecs py-rattler's strict parser accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from rattler import MatchSpec

from envresolve.solve.conda import translate_matchspec
from envresolve.specs import load_spec
from envresolve.specs.conda import parse_conda_dependency, translate_conda_spec


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pytorch 1.11.0", "pytorch ==1.11.0"),  # conda's exact pin; strict py-rattler rejects it as written
        ("numpy 1.2.3 py310_0", "numpy ==1.2.3 py310_0"),
        ("python=3.10.14=hb885b13_0", "python ==3.10.14 hb885b13_0"),
        ("pytorch=1.12.*", "pytorch 1.12.*"),
        ("pytorch::pytorch=1.12.*", "pytorch::pytorch 1.12.*"),
        ("pytorch-cuda=11.8", "pytorch-cuda 11.8.*"),
        ("blas[build=mkl]", 'blas[build="mkl"]'),
        ("cudatoolkit >=11,<12", "cudatoolkit >=11,<12"),
        ("python >= 3.8", "python >=3.8"),
        ("numpy==1.*", "numpy 1.*"),
        ("nvidia/label/cuda-12.1.0::cuda", "nvidia/label/cuda-12.1.0::cuda"),
    ],
)
def test_translation_is_accepted_by_strict_rattler(raw: str, expected: str) -> None:
    out = translate_conda_spec(raw)
    assert out == expected
    MatchSpec(out, strict=True)


def test_untranslated_forms_are_rejected_by_strict_rattler() -> None:
    # the reason the translation exists: py-rattler 0.28's strict parser refuses conda's historic forms
    for raw in ("pytorch 1.11.0", "python=3.10.14=hb885b13_0"):
        with pytest.raises(Exception):  # noqa: B017,PT011 - rattler's own exception type
            MatchSpec(raw, strict=True)


@pytest.mark.parametrize("raw", ["python=", "foo bar baz qux", "", ">=1.0"])
def test_invalid_specs_give_sp120(raw: str) -> None:
    dep, diags = parse_conda_dependency(raw, None)
    assert dep is None
    assert [d.code for d in diags] == ["SP120"]


def test_channel_and_name_and_masked_credentials() -> None:
    dep, diags = parse_conda_dependency("https://alice:pw@conda.example.invalid/ch::cuda", None)
    assert not diags and dep is not None
    assert dep.name == "cuda"
    assert "pw" not in dep.spec and "pw" not in dep.raw and "pw" not in (dep.channel or "")
    dep, _ = parse_conda_dependency("pytorch::pytorch-cuda=11.8", None)
    assert dep is not None and (dep.name, dep.channel) == ("pytorch-cuda", "pytorch")


@pytest.mark.parametrize(
    "raw",
    [
        "pytorch=1.12.1=py3.9_cpu_0",
        "pytorch 1.12.1 py3.9_cpu_0",
        "pytorch==1.12.1=py3.9_cpu_0",
        "pytorch::pytorch=1.12.1=py3.9_cuda11.3_cudnn8.3.2_0",
    ],
)
def test_build_string_with_a_dot_parses(raw: str) -> None:
    # real pytorch-channel builds carry the Python version in the build string; py-rattler 0.28's strict
    # parser refuses a dot in the positional build slot, so these were SP120 before
    dep, diags = parse_conda_dependency(raw, None)
    assert not diags and dep is not None and dep.name == "pytorch"
    ms = MatchSpec(dep.spec, strict=True)
    assert str(ms.version) == "==1.12.1" and ms.build is not None and ms.build.startswith("py3.9_c")


def test_dotted_build_in_environment_yml_dataset_and_pixi(tmp_path: Path) -> None:
    env = tmp_path / "environment.yml"
    env.write_text("channels: [pytorch]\ndependencies:\n  - python=3.9\n  - pytorch=1.12.1=py3.9_cpu_0\n")
    ds = tmp_path / "ds.yaml"
    ds.write_text(
        "apiVersion: dataset.baizeai.io/v1alpha1\nkind: Dataset\nmetadata: {name: e}\nspec:\n  source:\n"
        "    type: CONDA\n    uri: conda://e\n    options:\n      name: e\n      pythonVersion: '3.9'\n"
        "      condaEnvironmentYml: |\n        channels: [pytorch]\n"
        "        dependencies: [pytorch=1.12.1=py3.9_cpu_0]\n"
    )
    pixi = tmp_path / "pixi.toml"
    pixi.write_text(
        '[workspace]\nname = "x"\nchannels = ["pytorch"]\nplatforms = ["linux-64"]\n[dependencies]\n'
        'python = "3.9.*"\npytorch = { version = "==1.12.1", build = "py3.9_cpu_0" }\n'
    )
    for path in (env, ds, pixi):
        (spec,) = load_spec(path)
        assert not [d for d in spec.diagnostics if d.code == "SP120"], path.name
        torch = next(d for d in spec.conda if d.name == "pytorch")
        assert MatchSpec(torch.spec, strict=True).build == "py3.9_cpu_0", path.name
        assert translate_matchspec(torch.spec)[0] == torch.spec  # the solver takes it as it is
