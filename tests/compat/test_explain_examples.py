"""`envresolve explain CP...` examples are real: each example's message is what the rule produces today."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from envresolve.compat import (
    check_companions,
    check_cudnn,
    check_cxx11_abi,
    check_driver,
    check_extensions,
    check_glibc,
    check_kernels,
    check_libstdcxx,
    check_mixed_majors,
    check_nccl,
    check_needed,
    check_python,
)
from envresolve.diagnostics import Diagnostic
from envresolve.diagnostics.registry import REGISTRY
from tests.compat.helpers import elf, env, fatbin, node, pypi, report

SCENARIOS: dict[str, Callable[[], list[Diagnostic]]] = {
    "CP101": lambda: check_driver(env(pypi("torch", "2.9.1+cu130")), node(driver="535.104.05", cuda="12.2")),
    "CP102": lambda: check_driver(
        env(pypi("nvidia-cuda-runtime-cu12", "12.8.90")), node(driver="550.54.15", cuda="12.4")
    ),
    "CP103": lambda: check_driver(env(pypi("torch", "2.8.0")), node(driver=None, cuda=None)),
    "CP110": lambda: check_kernels(
        env(pypi("torch", "2.8.0+cu128")),
        node(gpus=(("NVIDIA A100-SXM4-80GB", "8.0"), ("Tesla P100-PCIE-16GB", "6.0"))),
    ),
    "CP111": lambda: check_kernels(
        env(
            pypi(
                "cupy-cuda12x",
                "14.2.0",
                binary=report(
                    "cupy.whl",
                    elf(
                        "cub.so",
                        fatbin=fatbin(sass=(50, 60, 70, 75, 80, 86, 89, 90, 100, 120), ptx=(100,), toolkit="12.8"),
                    ),
                ),
            )
        ),
        node(gpus=(("Jetson T5000", "11.0"),)),
    ),
    "CP120": lambda: check_glibc(env(pypi("torch", "2.13.0")), node(glibc="2.17")),
    "CP121": lambda: check_libstdcxx(env(pypi("torch", "2.13.0")), node(glibcxx="3.4.19", cxxabi="1.3.7"))[:1],
    "CP122": lambda: check_libstdcxx(env(pypi("torch", "2.13.0")), node(glibcxx="3.4.19", cxxabi="1.3.7"))[1:],
    "CP130": lambda: check_needed(
        env(
            pypi(
                "bitsandbytes",
                "0.50.2",
                binary=report(
                    "bnb.whl",
                    elf("bitsandbytes/libbitsandbytes_cuda126.so", needed=("libcudart.so.12", "libcublas.so.12")),
                ),
            ),
            pypi("nvidia-cuda-runtime-cu12", "12.6.77"),
        ),
        node(),
    ),
    "CP140": lambda: check_cxx11_abi(
        env(
            pypi("torch", "2.7.1"),
            pypi(
                "myext", "1.0", binary=report("m.whl", elf("myext/_C.so", needed=("libtorch.so",), cxx_abi="pre-cxx11"))
            ),
        ),
        node(),
    ),
    "CP150": lambda: check_companions(env(pypi("torch", "2.8.0"), pypi("torchvision", "0.22.1")), node()),
    "CP160": lambda: check_mixed_majors(env(pypi("torch", "2.13.0"), pypi("nvidia-cudnn-cu12", "9.10.2.21")), node()),
    "CP170": lambda: check_cudnn(
        env(pypi("nvidia-cuda-runtime", "13.0.48"), pypi("nvidia-cudnn-cu12", "9.10.2.21")), node()
    ),
    "CP171": lambda: check_nccl(env(pypi("torch", "2.13.0"), pypi("nvidia-nccl-cu12", "2.27.5")), node()),
    "CP180": lambda: check_python(env(pypi("torch", "2.9.1"), python="3.9.19"), node()),
    "CP200": lambda: check_extensions(
        env(pypi("torch", "2.3.1"), pypi("flash-attn", "2.5.8+cu122torch2.3cxx11abitrue")), node()
    ),
    "CP201": lambda: check_extensions(
        env(pypi("torch", "2.4.1"), pypi("flash-attn", "2.6.3+cu123torch2.3cxx11abifalse")), node()
    ),
    "CP202": lambda: check_extensions(
        env(pypi("torch", "2.1.2+cu118"), pypi("torch-scatter", "2.1.2+pt21cu121")), node()
    ),
}


def test_every_cp_code_has_a_scenario() -> None:
    assert {c for c in REGISTRY if c.startswith("CP")} == set(SCENARIOS)


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_example_shows_the_real_message_and_hint(code: str) -> None:
    diags = SCENARIOS[code]()
    assert [d.code for d in diags] == [code]
    d = diags[0]
    example = REGISTRY[code].example
    assert f"{d.code} {d.name}]" in example
    assert d.message in example
    if d.hint:
        assert d.hint in example
