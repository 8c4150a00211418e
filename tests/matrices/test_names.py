"""Facts encoded in names (matrices/names.yaml + envresolve.matrices.names), on real names."""

from __future__ import annotations

import pytest

from envresolve.matrices import names_matrix
from envresolve.matrices.names import (
    PROVENANCE,
    decode_bundled_runtime,
    decode_index_url,
    decode_local_label,
    decode_wheel_filename,
)


@pytest.mark.parametrize(
    ("filename", "cuda", "cuda_major", "torch", "abi"),
    [
        # flash-attn GitHub release wheels (names quoted in Dao-AILab/flash-attention issues 954 and 1783)
        ("flash_attn-2.5.8+cu122torch2.3cxx11abiTRUE-cp310-cp310-linux_x86_64.whl", "12.2", 12, "2.3", True),
        ("flash_attn-2.8.2+cu12torch2.6cxx11abiFALSE-cp311-cp311-linux_x86_64.whl", None, 12, "2.6", False),
        # PyG pages
        ("torch_scatter-2.1.2+pt21cu121-cp311-cp311-linux_x86_64.whl", "12.1", 12, "2.1", None),
        ("pyg_lib-0.1.0+pt112cu116-cp37-cp37m-linux_x86_64.whl", "11.6", 11, "1.12", None),
        ("torch_sparse-0.6.18+pt212cu130-cp310-cp310-linux_x86_64.whl", "13.0", 13, "2.12", None),
        # the PyTorch indexes, vllm and xformers
        ("torch-2.4.0+cu121-cp311-cp311-manylinux_2_17_x86_64.whl", "12.1", 12, None, None),
        ("torch-1.7.1+cu92-cp37-cp37m-linux_x86_64.whl", "9.2", 9, None, None),
        ("vllm-0.2.2+cu118-cp310-cp310-manylinux1_x86_64.whl", "11.8", 11, None, None),
        ("xformers-0.0.22.post4+cu118-cp38-cp38-manylinux2014_x86_64.whl", "11.8", 11, None, None),
    ],
)
def test_wheel_names(filename: str, cuda: str | None, cuda_major: int, torch: str | None, abi: bool | None) -> None:
    facts = decode_wheel_filename(filename)
    assert facts is not None
    assert (facts.cuda, facts.cuda_major, facts.torch, facts.cxx11_abi) == (cuda, cuda_major, torch, abi)
    assert facts.provenance == PROVENANCE
    ev = facts.evidence("built for CUDA")
    assert PROVENANCE in ev.fact and "(read 20" in ev.source and not ev.unsure


def test_cpu_and_rocm_labels() -> None:
    cpu = decode_local_label("torch", "cpu")
    assert cpu is not None and cpu.cpu and cpu.cuda is None
    rocm = decode_local_label("torch", "rocm5.7")
    assert rocm is not None and rocm.rocm == "5.7" and rocm.cuda_major is None
    pyg = decode_local_label("pyg-lib", "pt20cu118")
    assert pyg is not None and (pyg.torch, pyg.cuda) == ("2.0", "11.8")


@pytest.mark.parametrize(
    "name",
    [
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl",  # no label
        "somepkg-1.0+cu118-py3-none-any.whl",  # a label on a project no rule speaks for: unknown
        "flash_attn-2.6.3+cu123torch2.4-cp311-cp311-linux_x86_64.whl",  # not the whole convention
        "not a wheel name.whl",
    ],
)
def test_unknown_names_decode_to_nothing(name: str) -> None:
    assert decode_wheel_filename(name) is None


@pytest.mark.parametrize(
    ("url", "cuda", "torch", "cpu", "rocm"),
    [
        ("https://mirror.example/whl/cu121", "12.1", None, False, None),
        ("https://mirror.example/whl/cu118/", "11.8", None, False, None),
        ("https://mirror.example/whl/cpu", None, None, True, None),
        ("https://mirror.example/whl/rocm5.7", None, None, False, "5.7"),
        ("https://pyg.example/whl/torch-2.1.0+cu121.html", "12.1", "2.1", False, None),
        ("https://pyg.example/whl/torch-1.13.0%2Bcpu.html", None, "1.13", True, None),
    ],
)
def test_index_paths(url: str, cuda: str | None, torch: str | None, cpu: bool, rocm: str | None) -> None:
    facts = decode_index_url(url)
    assert facts is not None
    assert (facts.cuda, facts.torch, facts.cpu, facts.rocm) == (cuda, torch, cpu, rocm)


@pytest.mark.parametrize("url", ["https://index.example/simple", "https://x.example/whl/cu121x", "/whl/"])
def test_index_paths_that_say_nothing(url: str) -> None:
    assert decode_index_url(url) is None


def test_bundled_runtime_names() -> None:
    # measured file lists of torch 1.7.1-1.12.1 and 1.13.1 on PyPI (tests/fixtures/index/pypi/torch1x-survey.json)
    old = decode_bundled_runtime("torch/lib/libcudart-80664282.so.10.2")
    assert old is not None and (old.cuda, old.cuda_major) == ("10.2", 10)
    new = decode_bundled_runtime("torch/lib/libcudart-e409450e.so.11.0")
    assert new is not None and (new.cuda, new.cuda_major) == (None, 11)  # one soname for every 11.x
    assert decode_bundled_runtime("torch/lib/libcudart.so.11.0") is None  # not a hashed bundle name


def test_every_rule_decodes_its_own_example() -> None:
    decoders = {
        "local-label": lambda r: decode_local_label(r.packages[0], r.example) if r.packages else None,
        "index-path": lambda r: decode_index_url("/" + r.example),
        "bundled-runtime": lambda r: decode_bundled_runtime(r.example),
    }
    for rule in names_matrix().rows:
        facts = decoders[rule.kind](rule)
        assert facts is not None, rule.example
        assert any((facts.cuda, facts.cuda_major, facts.torch, facts.rocm, facts.cpu)), rule.example
