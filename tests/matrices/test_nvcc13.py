"""The CUDA 13.x toolkit rows of cuda_archs.yaml are exactly what the captured nvcc/ptxas of each release list
(tests/fixtures/nvcc/captured, written by tests/fixtures/nvcc/capture.sh)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envresolve.matrices import cuda_archs_matrix, toolkit_archs

CAPTURED = Path(__file__).resolve().parents[1] / "fixtures" / "nvcc" / "captured"
_SECTION = re.compile(r"^## (.+)$", re.M)


def _sections(text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _parse(path: Path) -> tuple[str, set[int], set[int], set[int]]:
    """(major.minor, plain SASS targets, `a` targets, `f` targets) of one capture."""
    sec = _sections(path.read_text(encoding="utf-8"))
    release = re.search(r"release (\d+\.\d+), V", sec["nvcc --version"])
    assert release is not None
    codes = {int(m) for m in re.findall(r"^sm_(\d+)$", sec["nvcc --list-gpu-code"], re.M)}
    archs = {int(m) for m in re.findall(r"^compute_(\d+)$", sec["nvcc --list-gpu-arch"], re.M)}
    assert codes == archs, f"{path.name}: SASS and PTX lists differ"
    gpu_names = re.findall(r"'sm_(\d+)([af]?)'", sec["ptxas --help (--gpu-name allowed values)"])
    assert {int(sm) for sm, v in gpu_names if not v} == codes, f"{path.name}: ptxas and nvcc disagree"
    a = {int(sm) for sm, v in gpu_names if v == "a"}
    f = {int(sm) for sm, v in gpu_names if v == "f"}
    return release.group(1), codes, a, f


CAPTURES = sorted(CAPTURED.glob("nvcc-13.*.txt"))


def test_every_cuda13_minor_is_captured() -> None:
    minors = {_parse(p)[0] for p in CAPTURES}
    assert minors == {"13.0", "13.1", "13.2", "13.3", "13.4", "13.5"}
    rows = {r.cuda for r in cuda_archs_matrix().toolkits if r.cuda.startswith("13.")}
    assert rows == minors


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_toolkit_row_is_the_measurement(path: Path) -> None:
    release, sass, arch_specific, family = _parse(path)
    got = toolkit_archs(release)
    assert got is not None and not got.derived and not got.unsure
    assert set(got.row.sass) == sass
    assert set(got.row.arch_specific) == arch_specific
    assert set(got.row.family) == family
    assert f"nvcc-{release}" == got.row.source
    assert path.name in (cuda_archs_matrix().sources[got.row.source].section or "")


def test_sm107_arrives_in_13_4() -> None:
    assert 107 not in toolkit_archs("13.3").row.sass  # type: ignore[union-attr]
    assert 107 in toolkit_archs("13.4").row.arch_specific  # type: ignore[union-attr]
