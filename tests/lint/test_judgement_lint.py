"""lint asks the judge (issue 10): the misses it had, and an offline property that lint's compatibility errors are
the errors the judge gives the packages a lock of the same fully pinned spec would hold."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.compat import Environment, Package, evaluate, ptx_runs
from envresolve.diagnostics import Diagnostic, Severity
from envresolve.matrices import pytorch_matrix
from envresolve.node import load_node
from envresolve.node.facts import DriverFacts, GpuFacts, NodeFacts
from envresolve.specs import checks as lint_checks
from envresolve.specs import lint

PROFILES = (
    "a100-driver535",
    "b200-driver580",
    "cpu-only",
    "gh200-driver570",
    "h100-driver580",
    "l4-driver570",
    "rtx5090-driver575",
    "t4-driver550",
    "v100-driver470",
)


def _lint(tmp_path: Path, text: str, node: NodeFacts, name: str = "requirements.txt") -> list[Diagnostic]:
    p = tmp_path / name
    p.write_text(text)
    return lint([p], [node], env={})


def _al2() -> NodeFacts:
    return NodeFacts(
        name="al2",
        glibc="2.26",
        driver=DriverFacts(version="570.86.15", cuda="12.8"),
        gpus=(GpuFacts(index=0, name="NVIDIA A10G", compute_capability="8.6"),),
    )


def test_torch_280_on_amazon_linux_2_is_a_glibc_error(tmp_path: Path) -> None:
    (d,) = [d for d in _lint(tmp_path, "torch==2.8.0\n", _al2()) if d.code == "CP120"]
    assert d.severity is Severity.ERROR and "glibc >= 2.28" in d.message and d.location and d.location.line == 1
    assert not [d for d in _lint(tmp_path, "torch==2.5.1\n", _al2()) if d.code == "CP120"]


def test_torch_231_with_torchvision_0190_is_a_pairing_error(tmp_path: Path) -> None:
    found = [d for d in _lint(tmp_path, "torch==2.3.1\ntorchvision==0.19.0\n", load_node("h100-driver580"))]
    (d,) = [d for d in found if d.code == "CP150"]
    assert d.severity is Severity.ERROR and d.location and d.location.line == 2
    assert not [d for d in _lint(tmp_path, "torch==2.3.1\ntorchvision==0.18.1\n", _al2()) if d.code == "CP150"]


def test_family_ptx_runs_only_inside_its_family_and_lint_has_no_copy_of_the_rule() -> None:
    assert ptx_runs(100, "f", 103) and not ptx_runs(100, "f", 120)
    # the copies that disagreed are gone: lint's kernel and driver verdicts are the judge's
    for gone in ("_runs_on", "_torch_on_gpus", "_driver", "_python_support"):
        assert not hasattr(lint_checks, gone)


def test_cuda_version_on_cpu_only_agrees_with_the_judge(tmp_path: Path) -> None:
    node = load_node("cpu-only")
    found = _lint(tmp_path, "channels: [conda-forge]\ndependencies:\n  - cuda-version=12.4\n", node, "environment.yml")
    judged = evaluate(Environment(packages=(Package(name="cuda-version", version="12.4", ecosystem="conda"),)), node)
    assert [d.code for d in found if d.severity is Severity.ERROR] == [
        d.code for d in judged if d.severity is Severity.ERROR
    ]


# --- property: lint == the judge on the packages lock would hold ------------------------------------------------


@cache
def _node(profile: str) -> NodeFacts:
    return load_node(profile)


def _releases() -> list[tuple[str, str | None, str | None]]:
    """(torch, torchvision, torchaudio) latest patches per matrix row (companions None when the row has none)."""
    out = []
    for row in pytorch_matrix().rows:
        vision = f"{row.torchvision}.0" if row.torchvision else None
        audio = f"{row.torchaudio}.0" if row.torchaudio else None
        out.append((row.latest_patch, vision, audio))
    return out


RELEASES = _releases()
VISIONS = sorted({v for _t, v, _a in RELEASES if v})
AUDIOS = sorted({a for _t, _v, a in RELEASES if a})


def _errors(diags: list[Diagnostic]) -> set[tuple[str, str | None]]:
    return {(d.code, d.subject) for d in diags if d.severity is Severity.ERROR and d.code.startswith("CP")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    profile=st.sampled_from(PROFILES),
    torch=st.sampled_from([t for t, _v, _a in RELEASES]),
    vision=st.none() | st.sampled_from(VISIONS),
    audio=st.none() | st.sampled_from(AUDIOS),
    python=st.sampled_from(["3.10", "3.11", "3.12"]),
)
def test_lint_errors_equal_the_judges_errors_for_the_same_pins(
    tmp_path: Path, profile: str, torch: str, vision: str | None, audio: str | None, python: str
) -> None:
    pins = {"torch": torch, "torchvision": vision, "torchaudio": audio}
    lines = [f"    - {name}=={version}" for name, version in pins.items() if version]
    text = f"channels: [conda-forge]\ndependencies:\n  - python={python}\n  - pip\n  - pip:\n" + "\n".join(lines)
    node = _node(profile)
    linted = _lint(tmp_path, text + "\n", node, "environment.yml")
    packages = tuple(Package(name=n, version=v, ecosystem="pypi") for n, v in pins.items() if v)
    judged = evaluate(Environment(packages=packages, python=python), node)
    assert _errors(linted) == _errors(judged)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_release_pinned_alone_agrees_on_every_profile(tmp_path: Path, profile: str) -> None:
    node = _node(profile)
    for torch, _v, _a in RELEASES:
        linted = _lint(tmp_path, f"torch=={torch}\n", node)
        judged = evaluate(Environment(packages=(Package(name="torch", version=torch, ecosystem="pypi"),)), node)
        assert _errors(linted) == _errors(judged), torch
