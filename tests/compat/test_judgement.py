"""Regression tests for the false alarms of issue 10 ("One judgement"): vendor pins, unknown cuDNN releases and
libraries brought by a candidate's own not-yet-chosen dependencies are never errors."""

from __future__ import annotations

import pytest

from envresolve.compat import Package, candidate_verdict, check_cudnn, evaluate
from envresolve.compat.engine import undecided_dependencies
from envresolve.diagnostics import Severity
from envresolve.matrices import cudnn_rows, pytorch_matrix
from envresolve.matrices.models import TorchRelease
from tests.compat.helpers import codes, elf, env, node, pypi, report


def test_cudnn_release_missing_from_the_table_is_unknown_not_the_nearest_row() -> None:
    # 9.26 (torch 2.15's pin) and 9.1 (torch 2.4-2.6's pin) are not listed: no row, never 9.17 / 9.0
    assert cudnn_rows("9.26.0.51") == []
    assert cudnn_rows("9.1.0.70") == []
    assert [r.row.cudnn for r in cudnn_rows("9.10.2.21")] == ["9.10", "9.10"]


def test_torch_215_own_cudnn_cu13_pin_on_hopper_has_no_cp170() -> None:
    torch = pypi("torch", "2.15.0", depends=("nvidia-cudnn-cu13==9.26.0.51; platform_system == 'Linux'",))
    e = env(torch, pypi("nvidia-cudnn-cu13", "9.26.0.51"), pypi("nvidia-cuda-runtime", "13.2.51"))
    assert check_cudnn(e, node()) == []


def test_torch_26_own_cudnn_cu12_pin_with_cuda_124_has_no_cp170() -> None:
    e = env(pypi("torch", "2.6.0"), pypi("nvidia-cudnn-cu12", "9.1.0.70"), pypi("nvidia-cuda-runtime-cu12", "12.4.127"))
    assert "CP170" not in codes(evaluate(e, node()))


def test_a_listed_cudnn_the_vendor_pins_is_not_judged_against_the_runtime() -> None:
    mismatch = env(pypi("nvidia-cuda-runtime", "13.0.48"), pypi("nvidia-cudnn-cu12", "9.10.2.21"))
    assert codes(check_cudnn(mismatch, node())) == ["CP170"]  # nobody pins it: the matrix rule applies
    vendor = pypi("somefw", "1.0", depends=("nvidia-cudnn-cu12==9.10.2.21",))
    assert check_cudnn(env(*mismatch.packages, vendor), node()) == []


@pytest.mark.parametrize("release", [r for r in pytorch_matrix().rows if r.cudnn], ids=lambda r: r.version)
def test_no_cp170_on_any_torch_release_own_cudnn_pin(release: TorchRelease) -> None:
    """Every torch release's pinned cuDNN next to its default CUDA runtime, on a node whose driver runs it."""
    var = release.default_variant
    major = var.cuda.split(".")[0]
    cudnn = "nvidia-cudnn-cu13" if major == "13" else f"nvidia-cudnn-cu{major}"
    runtime = "nvidia-cuda-runtime" if major == "13" else f"nvidia-cuda-runtime-cu{major}"
    torch = pypi("torch", release.latest_patch, depends=(f"{cudnn}=={release.cudnn}",))
    e = env(torch, pypi(cudnn, release.cudnn), pypi(runtime, f"{var.cuda}.1"))
    n = node(driver="580.95.05", cuda="13.2" if major == "13" else "13.0")
    assert [d for d in check_cudnn(e, n) if d.severity is Severity.ERROR] == []


def _torch_cuda(needed: str, depends: tuple[str, ...]) -> Package:
    rep = report("torch-2.13.0-cp311.whl", elf("torch/lib/libtorch_cuda.so", needed=(needed,)))
    return pypi("torch", "2.13.0", depends=depends, binary=rep)


def test_candidate_library_from_its_own_unchosen_dependencies_is_not_missing() -> None:
    torch = _torch_cuda("libcublas.so.13", ("cuda-toolkit[cublas,cudart]==13.0.3; platform_system == 'Linux'",))
    assert undecided_dependencies(torch, env()) == ["cuda-toolkit"]
    assert "CP130" not in codes(candidate_verdict(torch, node(), env()))


def test_candidate_library_judged_once_its_closure_is_chosen() -> None:
    torch = _torch_cuda("libcublas.so.13", ("cuda-toolkit[cublas]==13.0.3",))
    chosen = env(pypi("cuda-toolkit", "13.0.3"))  # chosen, and nothing in the closure ships libcublas.so.13
    found = candidate_verdict(torch, node(), chosen)
    assert "CP130" in codes(found)
    with_lib = env(pypi("cuda-toolkit", "13.0.3", depends=("nvidia-cublas==13.1.0.3",)), pypi("nvidia-cublas", "13.1"))
    assert "CP130" not in codes(candidate_verdict(torch, node(), with_lib))


def test_transitive_dependency_not_yet_chosen_keeps_the_closure_open() -> None:
    torch = _torch_cuda("libcublas.so.13", ("cuda-toolkit[cublas]==13.0.3",))
    chosen = env(pypi("cuda-toolkit", "13.0.3", depends=("nvidia-cublas==13.1.0.3",)))
    assert undecided_dependencies(torch, chosen) == ["nvidia-cublas"]
    assert "CP130" not in codes(candidate_verdict(torch, node(), chosen))


# --- no error on vendor pins: every torch release with the pins it ships, on a node that runs the release ---------

_PROFILES = (
    "h100-driver580",
    "b200-driver580",
    "gh200-driver570",
    "l4-driver570",
    "rtx5090-driver575",
    "a100-driver535",
    "t4-driver550",
    "v100-driver470",
)


def _vendor_pins(release: TorchRelease) -> tuple[Package, ...]:
    """torch (PyPI default variant) and the exact nvidia-* pins of its Requires-Dist recorded in pytorch.yaml
    (cuDNN, NCCL, the CUDA runtime of the default variant)."""
    var = release.default_variant
    major = var.cuda.split(".")[0]
    suffix = "" if major == "13" else f"-cu{major}"
    pins: list[tuple[str, str]] = [(f"nvidia-cuda-runtime{suffix}", f"{var.cuda}.1")]
    if release.cudnn:
        pins.append((f"nvidia-cudnn-cu{major}", release.cudnn))
    if release.nccl:
        pins.append((f"nvidia-nccl-cu{major}", release.nccl))
    torch = pypi("torch", release.latest_patch, depends=tuple(f"{n}=={v}" for n, v in pins))
    return (torch, *(pypi(n, v) for n, v in pins))


@pytest.mark.parametrize("release", pytorch_matrix().rows, ids=lambda r: r.version)
def test_no_error_on_a_releases_own_pins_where_the_release_runs(release: TorchRelease) -> None:
    from envresolve.node import load_node

    python = release.python[-1]
    alone = env(pypi("torch", release.latest_patch), python=python)
    runs = [p for p in _PROFILES if not [d for d in evaluate(alone, load_node(p)) if d.severity is Severity.ERROR]]
    assert runs, f"torch {release.latest_patch} runs on none of the bundled GPU profiles"
    for profile in runs:
        found = evaluate(env(*_vendor_pins(release), python=python), load_node(profile))
        errors = [f"{d.code} {d.message}" for d in found if d.severity is Severity.ERROR]
        assert errors == [], (profile, errors)


def test_candidate_verdicts_against_one_environment_match_a_fresh_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment without a name is judged once per (environment, node, name); every verdict is the same as
    when it is judged afresh for each candidate, and swapping a rule is seen."""
    from envresolve.compat import engine

    n = node()
    chosen = env(pypi("nvidia-cuda-runtime", "13.0.48"), pypi("nvidia-cudnn-cu12", "9.10.2.21"), pypi("torch", "2.6.0"))
    candidates = [pypi("torch", v) for v in ("2.6.0", "2.8.0", "2.10.0", "2.15.0")] + [pypi("nvidia-cudnn-cu12", "9.1")]
    cached = [candidate_verdict(c, n, chosen) for c in candidates]
    fresh = []
    for c in candidates:
        engine._WITHOUT.clear()
        fresh.append(candidate_verdict(c, n, chosen))
    assert cached == fresh
    assert any(cached)  # the comparison covers findings, not only empty verdicts
    always = next(d for found in cached for d in found)
    monkeypatch.setitem(engine.RULES, "cudnn", lambda e, nd: [always])  # found with and without any candidate
    assert always not in candidate_verdict(candidates[-1], n, chosen)
