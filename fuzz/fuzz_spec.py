"""Fuzz spec intake and lint: random bytes, random requirement lines, random environment.yml / Dataset / pixi
structures (with embedded files), Dockerfiles and Flyte ImageSpec modules go through `envresolve.specs.lint`; the
only exception allowed out is `EnvresolveError`, and every finding must point into the file it came from.

Call `fuzz(max_examples=N)` from the bounded CI fuzz pass, or run `python fuzz/fuzz_spec.py --examples N`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.errors import EnvresolveError
from envresolve.node.facts import DriverFacts, GpuFacts, NodeFacts
from envresolve.specs import lint

__all__ = ["fuzz"]

# every node-dependent check runs too: a mixed-GPU node with an old driver, and a CPU-only node
_NODES = [
    NodeFacts(
        name="mixed",
        driver=DriverFacts(version="470.256.02", cuda="11.4"),
        gpus=(
            GpuFacts(index=0, name="Tesla V100-SXM2-16GB", compute_capability="7.0"),
            GpuFacts(index=1, name="NVIDIA GeForce GTX 1080", compute_capability="6.1"),
        ),
    ),
    NodeFacts(name="cpu"),
]

_NAMES = [
    "environment.yml",
    "requirements.txt",
    "pixi.toml",
    "dataset.yaml",
    "pyproject.toml",
    "constraints.in",
    "Dockerfile",
    "image_spec.py",
]
_DOCKER_PIECES = [
    "FROM nvidia/cuda:11.8.0-runtime-centos7",
    "FROM ${BASE} AS build",
    "FROM build",
    "ARG BASE=python:3.11-slim-bookworm",
    "ARG TORCH=2.8.0",
    "ENV PIP_EXTRA_INDEX_URL=https://torch-index.example.invalid/whl/cu118",
    "WORKDIR /app",
    "COPY requirements.txt /root/",
    "COPY --from=build /opt /opt",
    "RUN pip install torch==${TORCH} -r /root/requirements.txt \\",
    "RUN --mount=type=cache,target=/c uv pip install --system numpy && pip3 install -e .",
    'RUN ["python", "-m", "pip", "install", "jax[cuda12]"]',
    "RUN conda install -y -c pytorch python=3.10 pytorch-cuda=12.1 'numpy<2'",
    'RUN if [ "$X" ]; then pip install a; fi',
    "RUN pip install --unknown-flag x",
    "    # comment",
    "RUN <<EOF",
]
_IMAGESPEC_PIECES = [
    "packages=['torch==2.8.0', PKG]",
    "cuda='11.8'",
    "cudnn=8",
    "python_version=3.11",
    "builder='envd'",
    "builder='default'",
    "base_image='nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04'",
    "base_image=ImageSpec(packages=['x'])",
    "conda_packages=['pytorch-cuda=12.1', 1]",
    "conda_channels=['nvidia']",
    "pip_index='https://u:p@m.example.invalid/simple'",
    "pip_extra_index_url=['https://torch-index.example.invalid/whl/cu128']",
    "requirements='../requirements.txt'",
    "python_exec='/usr/bin/python3'",
    "**kw",
    "env={'A': 'b'}",
]
_REQ_PIECES = [
    "torch",
    "torch==2.3.1+cu121",
    "numpy>=1.26,<2",
    "jax[cuda12]",
    "-r other.txt",
    "-c constraints.txt",
    "-e .",
    "-e git+https://github.com/x/y.git#egg=y",
    "--extra-index-url https://torch-index.example.invalid/whl/cu118",
    "--index-url https://u:p@pypi.example.invalid/simple",
    "--hash=sha256:abc",
    "${TOKEN}",
    "; python_version < '3.12'",
    "\\",
    "# comment",
    "pkg @ https://files.example.invalid/pkg-1.0-py3-none-any.whl",
    "nvidia-cuda-runtime-cu12==12.1.105",
    "-f ./wheels",
    "--no-index",
    "=",
    "[",
    "@",
]
_CONDA_PIECES = [
    "python=3.11",
    "pytorch 1.11.0",
    "pytorch-cuda=11.8",
    "cudatoolkit=11.3",
    "cuda-version=12.6",
    "blas[build=mkl]",
    "pytorch::pytorch=2.0.0=py3.10_cuda11.7_cudnn8.5.0_0",
    "python=",
    "numpy >=1.20,<2",
    "pip",
    "a b c d",
    "*",
]

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
req_line = st.lists(st.sampled_from(_REQ_PIECES) | text.map(lambda s: s[:40]), min_size=1, max_size=4).map(" ".join)
requirements = st.lists(req_line, max_size=12).map("\n".join)
conda_dep = st.sampled_from(_CONDA_PIECES) | text.map(lambda s: s[:30])
yaml_scalar: Any = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), text)


def _environment(deps: list[str], pip: list[str], channels: list[str] | None) -> dict[str, Any]:
    env: dict[str, Any] = {"name": "fuzz", "dependencies": [*deps, {"pip": pip}]}
    if channels is not None:
        env["channels"] = channels
    return env


environment = st.builds(
    _environment,
    st.lists(conda_dep, max_size=8),
    st.lists(req_line, max_size=6),
    st.none() | st.lists(st.sampled_from(["conda-forge", "pytorch", "http://x.example.invalid/ch", "defaults"])),
)


def _dataset(typ: str, uri: str, options: dict[str, Any], spec_extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "dataset.baizeai.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "fuzz"},
        "spec": {"source": {"type": typ, "uri": uri, "options": options}, **spec_extra},
    }


option_value = st.one_of(yaml_scalar, st.lists(yaml_scalar, max_size=3))
conda_options = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["env", ""]) | text,
        "pythonVersion": st.sampled_from(["3.11", "3.10", "x"]) | option_value,
        "gpuType": st.sampled_from(["nvidia-gpu", "metax-gpu", "amd"]),
        "pipIndexUrl": st.sampled_from(
            ["https://pypi-mirror.example.invalid/simple", "http://u:p@m.example.invalid/s", "nope"]
        ),
        "pipExtraIndexUrl": st.sampled_from(["https://a.example.invalid/s https://b.example.invalid/s", ""]),
        "condaEnvironmentYml": environment.map(lambda e: yaml.safe_dump(e)) | text,
        "pipRequirementsTxt": requirements,
    },
)
dataset = st.builds(
    _dataset,
    st.sampled_from(["CONDA", "GIT", "S3", "MANUAL", "REFERENCE", "PIXI", "conda"]),
    st.sampled_from(["conda://env?python=3.11", "manual://", "dataset://a/b", "s3://b/p", "https://x/y.git"]) | text,
    conda_options,
    st.fixed_dictionaries(
        {},
        optional={
            "dataSyncRound": yaml_scalar,
            "mountOptions": st.fixed_dictionaries({}, optional={"mode": yaml_scalar, "uid": yaml_scalar}),
            "volumeClaimRef": st.fixed_dictionaries({}, optional={"name": text, "subPath": text}),
            "volumeClaimTemplate": st.just({"spec": {}}),
        },
    ),
)
pixi = st.builds(
    lambda deps, pypi, plat: (
        '[workspace]\nname = "f"\nchannels = ["conda-forge"]\n'
        f"platforms = [{plat}]\n[dependencies]\n"
        + "".join(f'"{k}" = "{v}"\n' for k, v in deps)
        + "[pypi-dependencies]\n"
        + "".join(
            f'"{k}" = {{ version = "{v}",\n index = "https://torch-index.example.invalid/whl/cu124" }}\n'
            for k, v in pypi
        )
    ),
    st.lists(
        st.tuples(st.sampled_from(["pytorch", "cuda-version", "python"]), st.sampled_from(["*", "12.6.*", ">=3.11"]))
    ),
    st.lists(st.tuples(st.sampled_from(["torch", "jax"]), st.sampled_from(["*", ">=2.5", "=="]))),
    st.sampled_from(['"linux-64"', '{ platform = "linux-64", cuda = "12.0" }', '"win-64"', "1"]),
)

dockerfile = st.lists(st.sampled_from(_DOCKER_PIECES) | text.map(lambda s: s[:60]), max_size=14).map("\n".join)
imagespec = st.lists(st.lists(st.sampled_from(_IMAGESPEC_PIECES), max_size=8), min_size=1, max_size=3).map(
    lambda calls: (
        "PKG = 'pandas'\n"
        + "\n".join(f"s{i} = ImageSpec({', '.join(args)}).with_packages(['rich'])" for i, args in enumerate(calls))
    )
)

payload = st.one_of(
    st.tuples(st.sampled_from(_NAMES), st.binary(max_size=400)),
    st.tuples(st.just("requirements.txt"), requirements.map(str.encode)),
    st.tuples(st.just("environment.yml"), environment.map(lambda e: yaml.safe_dump(e).encode())),
    st.tuples(st.just("dataset.yaml"), st.lists(dataset, max_size=3).map(lambda ds: yaml.safe_dump_all(ds).encode())),
    st.tuples(st.just("pixi.toml"), pixi.map(str.encode)),
    st.tuples(st.just("Dockerfile"), dockerfile.map(str.encode)),
    st.tuples(st.just("image_spec.py"), imagespec.map(str.encode)),
    st.tuples(st.sampled_from(_NAMES), text.map(str.encode)),
)


def _check_one(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            diags = lint([path], _NODES, env={"TOKEN": "t"})
        except EnvresolveError:
            return
        for d in diags:
            assert d.location is None or d.location.file.startswith(tmp), d


def fuzz(max_examples: int) -> None:
    """Run the harness for `max_examples` examples; raises on a contract violation."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(payload)
    def _run(item: tuple[str, bytes]) -> None:
        _check_one(*item)

    _run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args(argv)
    fuzz(args.examples)
    print(f"fuzz_spec: {args.examples} examples, no contract violation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
