"""The rules over the node profiles bundled with envresolve (real NodeFacts from the node loader)."""

from __future__ import annotations

from envresolve.compat import evaluate
from envresolve.diagnostics import Severity, has_errors
from envresolve.node import load_node
from tests.compat.helpers import env, pypi


def _codes(profile: str, *packages: object, python: str = "3.12.3") -> dict[str, list[str]]:
    diags = evaluate(env(*packages, python=python), load_node(profile))  # type: ignore[arg-type]
    out: dict[str, list[str]] = {}
    for d in diags:
        out.setdefault(d.code, []).append(d.message)
    return out


def test_v100_driver470_rejects_torch_213_for_every_reason() -> None:
    got = _codes("v100-driver470", pypi("torch", "2.13.0"))
    assert {"CP101", "CP110", "CP120", "CP121", "CP122"} <= set(got)
    # eight identical V100s are named together, once
    assert len(got["CP110"]) == 1 and "GPUs 0, 1" in got["CP110"][0]


def test_h100_driver580_accepts_torch_213_stack() -> None:
    diags = evaluate(
        env(pypi("torch", "2.13.0"), pypi("torchvision", "0.28.0"), pypi("nvidia-nccl-cu13", "2.29.7")),
        load_node("h100-driver580"),
    )
    assert not has_errors(diags), [d.message for d in diags]


def test_rtx5090_needs_a_blackwell_build() -> None:
    diags = evaluate(env(pypi("torch", "2.6.0+cu124")), load_node("rtx5090-driver575"))
    cp110 = [d for d in diags if d.code == "CP110"]
    assert len(cp110) == 1 and cp110[0].severity is Severity.ERROR
    assert cp110[0].hint == "torch 2.7.1 cu128 still ships sm_120 kernels"
    assert not [
        d for d in evaluate(env(pypi("torch", "2.7.1+cu128")), load_node("rtx5090-driver575")) if d.code == "CP110"
    ]


def test_t4_driver550_runs_cu128_only_under_minor_version_compat() -> None:
    got = _codes("t4-driver550", pypi("torch", "2.8.0+cu128"))
    assert "CP102" in got and "CP101" not in got and "CP110" not in got


def test_cpu_only_node_has_no_gpu_verdicts() -> None:
    got = _codes("cpu-only", pypi("torch", "2.8.0"))
    assert not ({"CP101", "CP102", "CP103", "CP110", "CP111"} & set(got))
