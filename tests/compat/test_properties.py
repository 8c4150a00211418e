"""Properties of the SASS/PTX compatibility functions, checked against the rules of cuda_archs.yaml."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from envresolve.compat import ptx_runs, sass_runs
from envresolve.matrices import cuda_archs_matrix

DESKTOP = sorted(a.sm for a in cuda_archs_matrix().archs if not a.tegra)
ALL = sorted(a.sm for a in cuda_archs_matrix().archs)
sms = st.sampled_from(ALL)
desktop = st.sampled_from(DESKTOP)
variants = st.sampled_from(["", "a", "f"])


@settings(max_examples=300, deadline=None)
@given(target=sms, variant=variants, device=sms)
def test_sass_never_crosses_majors(target: int, variant: str, device: int) -> None:
    if sass_runs(target, variant, device):
        assert target // 10 == device // 10
        assert target % 10 <= device % 10


@settings(max_examples=300, deadline=None)
@given(target=desktop, device=desktop)
def test_plain_sass_runs_on_same_major_newer_minor(target: int, device: int) -> None:
    expected = target // 10 == device // 10 and target % 10 <= device % 10
    assert sass_runs(target, "", device) is expected


@settings(max_examples=300, deadline=None)
@given(target=sms, device=sms)
def test_arch_specific_only_on_exact_sm(target: int, device: int) -> None:
    assert sass_runs(target, "a", device) is (target == device)
    assert ptx_runs(target, "a", device) is (target == device)


@settings(max_examples=300, deadline=None)
@given(target=sms, variant=variants, device=sms)
def test_sass_implies_ptx_of_same_target(target: int, variant: str, device: int) -> None:
    # whatever SASS can run, PTX for the same target can be JIT-compiled too
    if sass_runs(target, variant, device):
        assert ptx_runs(target, variant, device)


@settings(max_examples=300, deadline=None)
@given(target=sms, device=sms)
def test_plain_ptx_is_forward_compatible(target: int, device: int) -> None:
    assert ptx_runs(target, "", device) is ((target // 10, target % 10) <= (device // 10, device % 10))


def test_tegra_needs_exact_sass() -> None:
    assert sass_runs(87, "", 87)
    assert not sass_runs(80, "", 87, device_tegra=True)
    assert not sass_runs(87, "", 89)  # Tegra cubins do not run on desktop parts
