"""Dockerfile/Containerfile and Flyte ImageSpec specs; container images as node facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import envresolve
from envresolve.cli import main
from envresolve.node.images import image_facts, image_node, image_on_node, parse_image_ref
from envresolve.specs import load_spec
from envresolve.specs.load import load_file

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "containers"
NODES = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "nodes"
REAL = sorted(p for p in (FIX / "real").iterdir() if p.name != "README.md")


def _lint_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, object]]]:
    code = main(["lint", *args, "--format", "json", "--no-env"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, json.loads(captured.out)["diagnostics"]


# -- image facts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ref", "os_id", "version_id", "glibc", "cuda", "cudnn"),
    [
        ("nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04", "ubuntu", "22.04", "2.35", "12.1", "8"),
        ("nvcr.io/nvidia/cuda:12.5.1-cudnn-devel-ubuntu20.04", "ubuntu", "20.04", "2.31", "12.5", "present"),
        ("nvidia/cuda:11.8.0-runtime-centos7", "centos", "7", "2.17", "11.8", None),
        ("nvidia/cuda:12.4.1-base-ubi9", "rhel", "9", "2.34", "12.4", None),
        ("docker.io/nvidia/cuda:12.8.0-devel-rockylinux8", "rocky", "8", "2.28", "12.8", None),
        ("nvidia/cuda:13.0.0-runtime-ubuntu24.04", "ubuntu", "24.04", "2.39", "13.0", None),
        ("python:3.11-slim-bookworm", "debian", "12", "2.36", None, None),
        ("python:3.9-bullseye", "debian", "11", "2.31", None, None),
        ("library/ubuntu:jammy", "ubuntu", "22.04", "2.35", None, None),
        ("debian:bookworm-slim", "debian", "12", "2.36", None, None),
        ("rockylinux:9.3", "rocky", "9", "2.34", None, None),
        ("almalinux:8", "almalinux", "8", "2.28", None, None),
        ("centos:7", "centos", "7", "2.17", None, None),
        ("pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime", "ubuntu", "22.04", "2.35", "12.8", "9"),
    ],
)
def test_image_table(ref: str, os_id: str, version_id: str, glibc: str, cuda: str | None, cudnn: str | None) -> None:
    facts, diags = image_facts(ref)
    assert facts.os is not None and (facts.os.id, facts.os.version_id) == (os_id, version_id)
    assert facts.glibc == glibc and facts.libstdcxx is not None
    assert (facts.cuda, facts.cudnn) == (cuda, cudnn)
    assert [d.code for d in diags] == ["ND330"]
    assert all(e.source for e in facts.evidence)


def test_unknown_and_moving_images() -> None:
    facts, diags = image_facts("ghcr.io/acme/trainer:v3")
    assert facts.os is None and facts.glibc is None and [d.code for d in diags] == ["ND331"]
    alpine, _ = image_facts("python:3.12-alpine3.22")  # musl: no row, never a guess
    assert alpine.glibc is None
    moving, _ = image_facts("python:3.12-slim")  # follows the newest Debian: unsure
    assert moving.os is not None and any(e.unsure for e in moving.evidence)
    assert parse_image_ref("nvcr.io/nvidia/cuda@sha256:abc") == ("nvidia/cuda", "latest")
    assert parse_image_ref("localhost:5000/team/img") == ("localhost:5000/team/img", "latest")


def test_image_on_node_keeps_driver_and_gpus_takes_c_libraries() -> None:
    node = envresolve.load_node("h100-driver580")
    image, _ = image_facts("nvidia/cuda:11.8.0-runtime-centos7")
    inside = image_on_node(image, node)
    assert inside.driver == node.driver and inside.gpus == node.gpus
    assert inside.glibc == "2.17" and inside.os.id == "centos"
    assert inside.libstdcxx is not None and inside.libstdcxx.glibcxx == "3.4.19"
    assert inside.provenance["glibc"].value == "inferred"
    unknown, _ = image_facts("ghcr.io/acme/trainer:v3")
    assert image_on_node(unknown, node).glibc is None  # never the host's glibc
    alone = image_node(image)
    assert alone.driver is None and alone.gpus == () and alone.glibc == "2.17"


# -- acceptance --------------------------------------------------------------------------------------------
def test_acceptance_dockerfile_glibc_217_under_manylinux_2_28_torch(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIX / "acceptance" / "Dockerfile.centos7-torch"
    code, diags = _lint_json([str(path)], capsys)
    assert code == 1
    cp120 = next(d for d in diags if d["code"] == "CP120")
    assert cp120["severity"] == "error" and cp120["location"] == {"file": str(path), "line": 8, "column": 18}
    assert "2.17" in str(cp120["message"]) and "2.28" in str(cp120["message"])
    assert any(d["code"] == "ND330" for d in diags)


def test_acceptance_imagespec_cu128_torch_beside_cuda_118(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIX / "acceptance" / "imagespec_cu128_cuda118.py"
    code, diags = _lint_json([str(path)], capsys)
    assert code == 1
    cp160 = next(d for d in diags if d["code"] == "CP160")
    assert cp160["severity"] == "error" and cp160["location"] == {"file": str(path), "line": 9, "column": 9}
    assert "CUDA 11" in str(cp160["message"]) and "CUDA 12" in str(cp160["message"])
    sp310 = next(d for d in diags if d["code"] == "SP310")
    assert sp310["severity"] == "warning" and sp310["location"]["line"] == 13  # type: ignore[index]


def test_acceptance_with_node_also_judges_the_driver(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIX / "acceptance" / "Dockerfile.centos7-torch"
    code, diags = _lint_json([str(path), "--node", str(NODES / "a100-driver535.yaml")], capsys)
    assert code == 1
    assert any(d["code"] == "CP120" and d["severity"] == "error" for d in diags)  # the image's glibc
    # torch cu128 wants driver 570.26; 535 runs it only under minor-version compatibility: the judge's CP102 warning
    assert any(d["code"] == "CP102" and d["severity"] == "warning" for d in diags)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_files_lint_cleanly(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for nodes in ([], ["--node", str(NODES / "a100-driver535.yaml"), "--node", "v100-driver470"]):
        code, diags = _lint_json([str(path), *nodes], capsys)
        assert code in (0, 1)
        assert diags and all(isinstance(d["code"], str) for d in diags)
        assert all(str(d["location"]["file"]).startswith(str(path)) for d in diags if d.get("location"))  # type: ignore[index]


def test_real_files_read_as_expected() -> None:
    kfmpi = load_spec(FIX / "real" / "flytesnacks_kfmpi" / "Dockerfile")[0]
    assert kfmpi.image is not None and kfmpi.image.os is not None and kfmpi.image.os.version_id == "20.04"
    names = [(r.name, r.specifier) for r in kfmpi.pip]
    # `COPY requirements.in /root` + `pip install -r /root/requirements.in` reads the build-context file
    assert ("flytekitplugins-kfmpi", "") in names and ("tensorflow", "==2.8.0") in names
    assert ("horovod", "==0.28.1") in names  # `HOROVOD_WITH_MPI=1 pip install ...`
    torch = load_file(FIX / "real" / "pytorch" / "Dockerfile")
    (spec,) = torch.specs
    assert spec.image is not None and spec.image.ref == "ubuntu:22.04"  # final stage FROM ${BASE_IMAGE}
    assert spec.pip == ()  # the installs happen in other stages, behind shell logic: info, not guessed
    infos = [d for d in spec.diagnostics if d.code == "SP300"]
    assert any("shell logic" in d.message for d in infos) and any("COPY --from" in d.message for d in infos)
    hf = load_spec(FIX / "real" / "transformers_pytorch_gpu" / "Dockerfile")[0]
    assert [r.name for r in hf.pip] == ["pip", "detectron2", "pytesseract", "itsdangerous"]
    assert hf.image is not None and hf.image.cuda == "12.1"
    specs = load_spec(FIX / "real" / "flytesnacks_image_spec.py")
    assert [s.name for s in specs] == [None, None]
    assert [r.name for r in specs[0].pip] == ["pandas", "numpy"] and specs[0].python == "3.9"
    assert specs[0].channels[0].name == "conda-forge"
    yaml_spec = load_spec(FIX / "real" / "flytekit_imageSpec.yaml")[0]
    assert yaml_spec.format == "imagespec" and yaml_spec.python == "3.9"


# -- Dockerfile reading ----------------------------------------------------------------------------------------
def _dockerfile(tmp_path: Path, text: str, name: str = "Dockerfile") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_dockerfile_args_env_indexes_conda_and_final_stage(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "train.txt").write_text("numpy==2.1.0\n", encoding="utf-8")
    path = _dockerfile(
        tmp_path,
        "ARG BASE=python:3.11-slim-bookworm\n"
        "FROM ubuntu:22.04 AS unused\n"
        "RUN pip install requests\n"
        "FROM ${BASE}\n"
        "ARG TORCH=2.7.1\n"
        "ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cu126\n"
        "WORKDIR /app\n"
        "COPY reqs/train.txt requirements.txt\n"
        "RUN --mount=type=cache,target=/root/.cache pip install --no-cache-dir \\\n"
        "    # a comment inside the continuation\n"
        "    torch==${TORCH} -r requirements.txt && uv pip install --system scipy\n"
        'RUN ["python", "-m", "pip", "install", "rich==13.0"]\n'
        "RUN micromamba install -y -n base -c conda-forge python=3.11 cuda-version=12.6\n",
        name="train.Containerfile",
    )
    (spec,) = load_spec(path)
    assert spec.format == "dockerfile" and spec.image is not None and spec.image.ref == "python:3.11-slim-bookworm"
    assert [(r.name, r.specifier) for r in spec.pip] == [
        ("torch", "==2.7.1"),
        ("numpy", "==2.1.0"),
        ("scipy", ""),
        ("rich", "==13.0"),
    ]
    torch = spec.pip[0]
    assert torch.location is not None and (torch.location.line, torch.location.column) == (11, 5)
    assert [i.display for i in spec.indexes] == ["https://download.pytorch.org/whl/cu126"]
    assert [c.name for c in spec.channels] == ["conda-forge"]
    assert [d.name for d in spec.conda] == ["python", "cuda-version"] and spec.python == "3.11"


def test_dockerfile_what_is_not_static_is_info(tmp_path: Path) -> None:
    path = _dockerfile(
        tmp_path,
        "FROM $UNSET_BASE\n"
        'RUN if [ "$GPU" = 1 ]; then pip install torch; fi\n'
        "RUN pip install $EXTRA numpy\n"
        "RUN pip install -r /nowhere/requirements.txt\n"
        "RUN pip install --some-new-flag torch\n"
        "RUN pip install ./local-package\n",
    )
    res = load_file(path)
    (spec,) = res.specs
    codes = [d.code for d in spec.diagnostics]
    assert codes.count("SP300") == 5 and "SP302" in codes
    assert all(d.severity.value == "info" for d in spec.diagnostics)
    assert spec.pip == () and spec.image is None


def test_dockerfile_never_reads_outside_the_context(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("leaked-package==1.0\n", encoding="utf-8")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    path = _dockerfile(ctx, f"FROM ubuntu:22.04\nRUN pip install -r ../secret.txt -r {outside}\n")
    (spec,) = load_spec(path)
    assert spec.pip == ()
    assert [d.code for d in spec.diagnostics if d.code == "SP302"] == ["SP302", "SP302"]


def test_dockerfile_without_from_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _dockerfile(tmp_path, "RUN pip install torch\n")
    code, diags = _lint_json([str(path)], capsys)
    assert code == 1 and {d["code"] for d in diags} == {"SP301"}


# -- ImageSpec reading -----------------------------------------------------------------------------------------
def test_imagespec_python_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "workflow.py"
    path.write_text(
        f"open({str(marker)!r}, 'w').write('x')\n"
        "from flytekit import ImageSpec\n"
        "PKGS = ['torch==2.7.1', 'pandas']\n"
        "spec = ImageSpec(\n"
        "    name='train', builder='default', python_version=3.11, packages=PKGS, conda_packages=['cudnn'],\n"
        "    conda_channels=['nvidia'], pip_index='https://mirror.example.invalid/simple',\n"
        "    pip_extra_index_url=['https://download.pytorch.org/whl/cu126'], base_image=f'python:{3}',\n"
        "    requirements='requirements.txt', apt_packages=['git'],\n"
        ").with_packages(['rich'])\n"
        "other = ImageSpec(builder='default', cuda='12.1', python_version='3.10')\n",
        encoding="utf-8",
    )
    (tmp_path / "requirements.txt").write_text("scipy>=1.13\n", encoding="utf-8")
    first, second = load_spec(path)
    assert not marker.exists()
    assert first.python == "3.11" and [c.name for c in first.channels] == ["conda-forge", "nvidia"]
    assert [d.name for d in first.conda] == ["python", "cudnn"]
    assert [r.name for r in first.pip] == ["scipy", "torch", "pandas", "rich"]
    assert [(i.kind, i.display) for i in first.indexes] == [
        ("index-url", "https://mirror.example.invalid/simple"),
        ("extra-index-url", "https://download.pytorch.org/whl/cu126"),
    ]
    assert any(d.code == "SP300" and d.subject == "base_image" for d in first.diagnostics)  # an f-string
    refused = [d for d in second.diagnostics if d.code == "SP310"]
    assert refused and refused[0].severity.value == "error"  # builder='default' raises for cuda


def test_imagespec_envd_reading_of_cuda(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_text(
        "name: trainer\nbuilder: envd\ncuda: '12.1'\ncudnn: '8'\nbase_image: python:3.11\npackages:\n  - numpy\n",
        encoding="utf-8",
    )
    (spec,) = load_spec(path)
    assert spec.image is not None and spec.image.cuda == "12.1" and spec.image.os is not None
    assert spec.image.os.version_id == "20.04"  # envd replaces base_image with ubuntu20.04
    codes = {d.code: d.severity.value for d in spec.diagnostics}
    assert codes["SP310"] == "error"  # envd raises: python_version is required with cuda
    assert codes["SP311"] == "info"


def test_bad_python_and_plain_python(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("ImageSpec(\n", encoding="utf-8")
    res = load_file(broken)
    assert [d.code for d in res.diagnostics] == ["SP301"]
    plain = tmp_path / "plain.py"
    plain.write_text("print('hi')\n", encoding="utf-8")
    assert [d.code for d in load_file(plain).diagnostics] == ["SP107"]


# -- --image -------------------------------------------------------------------------------------------------
def test_cli_image_on_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("torch==2.8.0\n", encoding="utf-8")
    code, diags = _lint_json([str(req), "--image", "nvidia/cuda:12.8.0-runtime-ubi8"], capsys)
    assert code == 0 and any(d["code"] == "ND330" for d in diags)  # rhel 8, glibc 2.28: fine
    code, diags = _lint_json([str(req), "--image", "centos:7", "--node", str(NODES / "h100-driver580.yaml")], capsys)
    assert code == 1
    (glibc,) = [d for d in diags if d["code"] == "CP120"]
    assert glibc["location"] == {"file": str(req), "line": 1, "column": 1}


def test_api_lint_with_image(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("torch==2.8.0\n", encoding="utf-8")
    image, _ = envresolve.image_facts("python:3.9-buster")  # Debian 10, glibc 2.28
    assert not [d for d in envresolve.lint([req], image=image) if d.severity.value == "error"]
    old, _ = envresolve.image_facts("nvidia/cuda:11.8.0-base-centos7")
    assert any(d.code == "CP120" for d in envresolve.lint([req], image=old))


# -- the image table itself ------------------------------------------------------------------------------------
def test_image_table_is_sourced_and_validated(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from envresolve.matrices.base import read_matrix_obj
    from envresolve.node.images import ImageMatrix, image_matrix

    matrix = image_matrix()
    assert all(row.source in matrix.sources for row in (*matrix.os, *matrix.cuda))
    assert all(row.note for row in matrix.os if row.confidence.value == "unsure")  # unsure rows say why
    obj = read_matrix_obj(Path(envresolve.__file__).resolve().parents[2] / "matrices" / "images.yaml")
    bad_regex = {**obj, "os": [{**obj["os"][0], "tag": "(["}]}
    no_group = {**obj, "cuda": [{**obj["cuda"][0], "tag": "[0-9.]+-runtime"}]}
    unknown_source = {**obj, "os": [{**obj["os"][0], "source": "nowhere"}]}
    for broken in (bad_regex, no_group, unknown_source):
        with pytest.raises(ValidationError):
            ImageMatrix.model_validate(broken)


# -- lock and check inside an image (offline: the demo wheel index) --------------------------------------------
INDEX = Path(__file__).resolve().parents[2] / "examples" / "index"


def test_lock_and_check_image_on_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _dockerfile(tmp_path, "FROM nvidia/cuda:12.8.0-runtime-centos7\nRUN pip install torch numpy\n")
    common = ["--offline", "--index-url", str(INDEX), "--node", "h100-driver580", "--python", "3.12"]
    assert main(["lock", str(old), *common, "-o", str(tmp_path / "old.lock")]) == 1
    out = capsys.readouterr().out
    assert "RS209" in out and "glibc 2.17" in out and "on h100-driver580" in out  # the image's glibc, the node's GPUs
    req = tmp_path / "requirements.txt"
    req.write_text("torch\nnumpy\n", encoding="utf-8")
    lock = tmp_path / "env.lock"
    image = ["--image", "nvidia/cuda:12.8.0-runtime-ubuntu22.04"]
    assert main(["lock", str(req), *common, *image, "-o", str(lock)]) == 0
    capsys.readouterr()
    assert main(["check", str(lock), "--node", "h100-driver580", "--image", "nvidia/cuda:12.8.0-base-centos7"]) == 1
    out = capsys.readouterr().out
    assert "CP120" in out and "nvidia/cuda:12.8.0-base-centos7 on h100-driver580" in out
    assert main(["check", str(lock), "--node", "h100-driver580", "--image", "ubuntu:24.04"]) == 0
    capsys.readouterr()


def test_dockerfile_heredoc_body_stays_in_its_run(tmp_path: Path) -> None:
    path = _dockerfile(
        tmp_path,
        "FROM ubuntu:22.04\nRUN <<EOF\npip install torch==2.8.0\nFROM centos:7\nEOF\nRUN pip install numpy==2.1.0\n",
    )
    (spec,) = load_spec(path)
    assert spec.image is not None and spec.image.ref == "ubuntu:22.04"  # the heredoc's FROM is shell text
    assert [r.name for r in spec.pip] == ["numpy"]
    assert spec.pip[0].location is not None and spec.pip[0].location.line == 6
    assert any(d.code == "SP300" and d.location is not None and d.location.line == 2 for d in spec.diagnostics)


def test_imagespec_noop_and_third_party_builders(tmp_path: Path) -> None:
    path = tmp_path / "wf.py"
    path.write_text(
        "from flytekit import ImageSpec\n"
        "a = ImageSpec(builder='noop', base_image='nvidia/cuda:12.4.1-runtime-ubuntu22.04', packages=['torch'])\n"
        "b = ImageSpec(builder='noop')\n"
        "c = ImageSpec(builder='fast-builder', packages=['torch==2.3.1'])\n",
        encoding="utf-8",
    )
    noop, missing, third = load_spec(path)
    assert noop.pip == () and noop.image is not None and noop.image.cuda == "12.4"  # nothing is installed
    assert any(d.code == "SP311" for d in noop.diagnostics)
    assert [d.severity.value for d in missing.diagnostics if d.code == "SP310"] == ["error"]
    assert [r.name for r in third.pip] == ["torch"]
    assert any(d.code == "SP311" and d.subject == "builder" for d in third.diagnostics)


def test_directory_walk_takes_dockerfiles_and_imagespec_modules(tmp_path: Path) -> None:
    from envresolve.specs.lint import iter_spec_files

    for name, text in {
        "Dockerfile": "FROM ubuntu:22.04\n",
        "gpu.Containerfile": "FROM ubuntu:22.04\n",
        "workflows/image.py": "from flytekit import ImageSpec\nimg = ImageSpec(packages=['numpy'])\n",
        "workflows/util.py": "print('no image here')\n",
        "LICENSE.txt": "MIT\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in iter_spec_files([tmp_path]))
    assert found == ["Dockerfile", "gpu.Containerfile", "workflows/image.py"]


def test_dockerfile_positions_follow_word_order(tmp_path: Path) -> None:
    path = _dockerfile(tmp_path, "FROM ubuntu:22.04\nRUN pip install torchvision==0.23.0 \\\n      torch==2.8.0\n")
    (spec,) = load_spec(path)
    where = {r.name: (r.location.line, r.location.column) for r in spec.pip if r.location is not None}
    assert where == {"torchvision": (2, 17), "torch": (3, 7)}


def test_probe_shows_image_on_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["probe", "--node", "v100-driver470", "--image", "nvidia/cuda:12.4.1-runtime-ubi9", "--format", "json"])
        == 0
    )
    captured = capsys.readouterr()
    facts = json.loads(captured.out)
    assert facts["glibc"] == "2.34" and facts["os"]["id"] == "rhel" and facts["driver"]["version"] == "470.82.01"
    assert facts["name"] == "nvidia/cuda:12.4.1-runtime-ubi9 on v100-driver470" and "ND330" in captured.err


def test_dockerfile_conda_without_channels_says_so(tmp_path: Path) -> None:
    path = _dockerfile(tmp_path, "FROM continuumio/miniconda3:24.7.1-0\nRUN conda install -y python=3.11 numpy\n")
    (spec,) = load_spec(path)
    assert spec.channels == () and [d.name for d in spec.conda] == ["python", "numpy"]
    (note,) = [d for d in spec.diagnostics if d.code == "SP300"]
    assert note.subject == "channels" and note.location is not None and note.location.line == 2
    assert any(d.code == "ND331" for d in spec.diagnostics)  # an image the table does not know
