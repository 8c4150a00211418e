"""conda environment.yml files."""

from __future__ import annotations

from pathlib import Path

from envresolve.specs import load_file, load_spec


def test_environment_yml_model(tmp_path: Path) -> None:
    p = tmp_path / "environment.yml"
    p.write_text(
        "name: demo\n"
        "prefix: /opt/envs/demo\n"
        "channels:\n  - pytorch\n  - conda-forge\n"
        "dependencies:\n"
        "  - python=3.10\n"
        "  - pytorch::pytorch 2.1.0\n"
        "  - blas[build=mkl]\n"
        "  - cudatoolkit=11.8=h4ba93d1_13\n"
        "  - pip\n"
        "  - pip:\n"
        "    - --extra-index-url https://torch-index.example.invalid/whl/cu118\n"
        "    - transformers==4.41.2\n"
        "    - -e git+https://github.com/CompVis/taming-transformers.git@master#egg=taming-transformers\n"
    )
    (spec,) = load_spec(p)
    assert spec.format == "environment-yml" and spec.name == "demo"
    assert [c.name for c in spec.channels] == ["pytorch", "conda-forge"]
    assert [d.spec for d in spec.conda] == [
        "python 3.10.*",
        "pytorch::pytorch ==2.1.0",
        'blas[build="mkl"]',
        "cudatoolkit ==11.8 h4ba93d1_13",
        "pip",
    ]
    assert spec.python == "3.10"
    assert [d.location.line for d in spec.conda if d.location] == [7, 8, 9, 10, 11]
    assert [r.name for r in spec.pip] == ["transformers", "taming-transformers"]
    assert spec.pip[0].location is not None and (spec.pip[0].location.line, spec.pip[0].location.column) == (14, 7)
    assert [i.display for i in spec.indexes] == ["https://torch-index.example.invalid/whl/cu118"]
    assert spec.diagnostics == ()


def test_structure_problems(tmp_path: Path) -> None:
    p = tmp_path / "environment.yml"
    p.write_text("name: x\nchannel:\n  - conda-forge\ndependencies:\n  - 3.8\n  - {conda: numpy}\n  - python=\n")
    (spec,) = load_spec(p)
    codes = sorted(d.code for d in spec.diagnostics)
    assert codes == ["SP110", "SP110", "SP111", "SP112", "SP120"]


def test_dependencies_must_be_a_list(tmp_path: Path) -> None:
    p = tmp_path / "environment.yml"
    p.write_text("dependencies: numpy\n")
    res = load_file(p)
    assert [d.code for s in res.specs for d in s.diagnostics] == ["SP110", "SP112"]
