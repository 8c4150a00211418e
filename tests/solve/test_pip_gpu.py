"""GPU awareness inside the resolver: CUDA needs, rejection with backtracking, companions, the rejection log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import pytest

from envresolve.binary.cache import ReportCache
from envresolve.binary.model import ArtifactReport, ElfFacts
from envresolve.compat.model import Environment
from envresolve.node.facts import DriverFacts, GpuFacts, NodeFacts
from envresolve.solve.pip import CandidateInfo, PipResolutionError, Rejection, cuda_need, resolve_pip
from envresolve.solve.pip.gpu import cached_binary_facts, cuda_driver_filter, cuda_from_label, default_filters
from tests.fixtures.index.server import ROOT, IndexServer

A100_535 = NodeFacts(
    name="a100-535",
    glibc="2.35",
    driver=DriverFacts(version="535.104.05", cuda="12.2"),
    gpus=(GpuFacts(index=0, name="NVIDIA A100-SXM4-80GB", compute_capability="8.0"),),
)
H100_580 = NodeFacts(
    name="h100-580",
    glibc="2.35",
    driver=DriverFacts(version="580.65.06", cuda="13.0"),
    gpus=(GpuFacts(index=0, name="NVIDIA H100 80GB HBM3", compute_capability="9.0"),),
)
CPU_ONLY = NodeFacts(name="cpu", glibc="2.35")


def _resolve(url: str, reqs: list[str], nodes: list[NodeFacts], **kw: object):  # type: ignore[no-untyped-def]
    return resolve_pip(reqs, nodes, python="3.11", index_urls=[url + "/simple/"], use_cache=False, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "version", "deps", "index", "want"),
    [
        ("torch", "2.1.0+cu121", [], None, "12.1"),
        ("torch", "2.9.0", ["nvidia-cuda-runtime==13.0.96; platform_system == 'Linux'"], None, "13.0"),
        ("torch", "2.4.0", ["nvidia-cuda-runtime-cu12==12.4.127", "nvidia-cudnn-cu12==9.1.0.70"], None, "12.4"),
        ("torch", "2.9.0", ["nvidia-cudnn-cu13==9.13.0.50"], None, "13"),
        ("torch", "2.8.0", [], "https://example.invalid/whl/cu128", "12.8"),
        ("nvidia-cublas", "13.0.0.19", [], None, "13"),
        ("nvidia-cuda-runtime-cu12", "12.8.90", [], None, "12.8"),
        ("nvidia-nccl-cu12", "2.21.5", [], None, "12"),
        ("jax", "0.4.30", ["jax-cuda12-plugin; extra == 'cuda12'"], None, None),
        ("requests", "2.32.3", ["urllib3>=1.21"], None, None),
        ("torch", "2.4.0+cpu", [], None, None),
    ],
)
def test_cuda_need(name: str, version: str, deps: list[str], index: str | None, want: str | None) -> None:
    need = cuda_need(name, version, deps, index, markers={"platform_system": "Linux", "python_version": "3.11"})
    assert (need.version if need else None) == want


def test_cuda_need_ignores_deps_whose_marker_does_not_apply() -> None:
    deps = ["nvidia-cuda-runtime==13.0.96; platform_system == 'Windows'"]
    assert cuda_need("torch", "2.9.0", deps, markers={"platform_system": "Linux"}) is None


def test_cuda_labels() -> None:
    assert [str(cuda_from_label(x)) for x in ("cu92", "cu118", "cu121", "cu130")] == ["9.2", "11.8", "12.1", "13.0"]
    assert cuda_from_label("cpu") is None and cuda_from_label("rocm6.2") is None


def test_driver_filter_rule() -> None:
    env = Environment(python="3.11")
    c13 = CandidateInfo(name="torch", version="2.5.0+cu130", cuda=cuda_need("torch", "2.5.0+cu130"))
    c128 = CandidateInfo(name="torch", version="2.7.0+cu128", cuda=cuda_need("torch", "2.7.0+cu128"))
    assert [r.reason for r in cuda_driver_filter(c13, A100_535, env)] == ["cuda-driver"]
    assert cuda_driver_filter(c128, A100_535, env) == []  # minor-version compatibility within CUDA 12
    assert cuda_driver_filter(c13, H100_580, env) == []
    assert cuda_driver_filter(c13, CPU_ONLY, env) == []


def test_newest_cuda13_torch_rejected_on_driver_535_backtracks_to_cu121() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url, ["torch", "torchvision"], [A100_535])
    got = {p.name: p.version for p in res.packages}
    assert got["torch"] == "2.4.0+cu121" and got["torchvision"] == "0.19.0+cu121"
    assert "nvidia-cuda-runtime" not in got and got["nvidia-cuda-runtime-cu12"] == "12.1.105"
    assert all(p.cuda is None or p.cuda.version.startswith("12.") for p in res.packages)
    why = res.why_not()
    assert any(line.startswith("why not torch 2.5.0+cu130 [a100-535]: needs CUDA 13.0") for line in why), why
    rej = next(r for r in res.rejections if r.name == "torch")
    assert rej.reason == "cuda-driver" and rej.node == "a100-535" and "535.104.05" in rej.message
    assert any(d.code == "RS204" and d.subject == "torch==2.5.0+cu130" for d in res.diagnostics)


def test_a_release_pinning_a_ruled_out_torch_is_skipped_unread() -> None:
    """torchvision 0.20.0 pairs with torch 2.5 (pytorch.yaml; it also pins torch==2.5.0), which driver 535 rules
    out: no wheel byte of it is read, and the 'why not' line names the pairing and the reason behind it."""
    asked: list[str] = []

    def facts(info: CandidateInfo) -> ArtifactReport | None:
        asked.append(f"{info.name} {info.version}")
        return None

    with IndexServer() as srv:
        res = _resolve(srv.url, ["torch", "torchvision"], [A100_535], binary_facts=facts)
    got = {p.name: p.version for p in res.packages}
    assert got["torchvision"] == "0.19.0+cu121"
    assert "torchvision 0.20.0+cu130" not in asked and "torchvision 0.19.0+cu121" in asked
    why = [line for line in res.why_not() if line.startswith("why not torchvision 0.20.0+cu130")]
    assert why and "it needs torch==2.5.*, which is ruled out: needs CUDA 13.0" in why[0], res.why_not()


def test_cuda13_allowed_on_driver_580() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url, ["torch", "torchvision"], [H100_580])
    got = {p.name: p.version for p in res.packages}
    assert got["torch"] == "2.5.0+cu130" and got["nvidia-cuda-runtime"] == "13.0.96"
    assert not [r for r in res.rejections if r.reason == "cuda-driver"]


def test_both_nodes_must_run_every_wheel() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url, ["torch"], [H100_580, A100_535])
    assert res.find("torch") is not None and res.find("torch").version == "2.4.0+cu121"  # type: ignore[union-attr]


def test_nothing_works_names_the_blocking_fact_and_smallest_change() -> None:
    with IndexServer() as srv, pytest.raises(PipResolutionError) as err:
        _resolve(srv.url, ["torch>=2.5"], [A100_535])
    d = err.value.diagnostics[0]
    assert d.code == "RS201" and err.value.exit_status == 1
    assert "Blocking fact" in d.message and "needs CUDA 13.0" in d.message and "535.104.05" in d.message
    assert d.hint is not None and "supports CUDA 13.0" in d.hint and "older release of torch" in d.hint
    assert "index" in d.hint
    assert any("why not torch 2.5.0+cu130" in e.fact for e in d.evidence)
    assert [r.name for r in err.value.rejections] == ["torch"]


def test_companion_mismatch_is_rejected_and_logged() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url, ["torchvision==0.19.0+cu118", "torch"], [H100_580])
    got = {p.name: p.version for p in res.packages}
    assert got["torch"] == "2.4.0+cu118"
    comp = [r for r in res.rejections if r.reason == "companion"]
    assert [(r.name, r.version) for r in comp] == [("torch", "2.4.0+cu121")]
    assert "needs the +cu118 build of torch" in comp[0].message


def test_custom_candidate_filter_hook_sees_nodes_and_backtracks() -> None:
    seen: list[tuple[str, str, str | None]] = []

    def no_torch_25(candidate: CandidateInfo, node: NodeFacts, env: Environment) -> Iterable[Rejection]:
        seen.append((candidate.name, candidate.version, node.name))
        if candidate.name == "torch" and candidate.version.startswith("2.5"):
            yield Rejection(
                name=candidate.name, version=candidate.version, reason="compat", code="RS204", message="policy"
            )

    with IndexServer() as srv:
        res = _resolve(srv.url, ["torch"], [H100_580], filters=[*default_filters(), no_torch_25])
    assert res.find("torch").version == "2.4.0+cu121"  # type: ignore[union-attr]
    assert ("torch", "2.5.0+cu130", "h100-580") in seen
    assert [r.message for r in res.rejections if r.name == "torch"] == ["policy"]


def test_binary_facts_hook_feeds_the_filters() -> None:
    looked_up: list[str] = []

    def facts(info: CandidateInfo) -> ArtifactReport | None:
        looked_up.append(info.name)
        if info.name != "torch":
            return None
        return ArtifactReport(artifact=info.filename or "", kind="wheel", max_glibc="2.40")

    def glibc_rule(candidate: CandidateInfo, node: NodeFacts, env: Environment) -> list[Rejection]:
        b = candidate.binary
        if (
            b
            and b.max_glibc
            and node.glibc
            and tuple(map(int, b.max_glibc.split("."))) > tuple(map(int, node.glibc.split(".")))
        ):
            return [
                Rejection(
                    name=candidate.name,
                    version=candidate.version,
                    reason="glibc",
                    code="RS204",
                    message=f"needs GLIBC_{b.max_glibc}",
                    node=node.name,
                )
            ]
        return []

    with IndexServer() as srv, pytest.raises(PipResolutionError) as err:
        _resolve(srv.url, ["torch"], [H100_580], filters=[glibc_rule], binary_facts=facts)
    assert "torch" in looked_up
    assert {r.reason for r in err.value.rejections} == {"glibc"}
    assert "rejected (glibc)" in err.value.diagnostics[0].message


def test_cached_binary_facts_reject_a_wheel_without_kernels_for_the_gpu(tmp_path: Path) -> None:
    """A report in the inspection cache (no SASS for sm_90, no PTX) rules torch 2.5.0 out on an H100."""
    wheel = ROOT / "files" / "torch-2.5.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl"
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    report = ArtifactReport(
        artifact=wheel.name,
        kind="wheel",
        sha256=sha,
        sass_archs=("sm_100",),
        ptx_archs=(),
        name="torch",
        version="2.5.0+cu130",
    )
    ReportCache(tmp_path).put(sha, report, symbols=False)
    with IndexServer() as srv:
        res = _resolve(srv.url, ["torch"], [H100_580], binary_facts=cached_binary_facts(tmp_path))
    assert res.find("torch").version == "2.4.0+cu121"  # type: ignore[union-attr]
    rej = next(r for r in res.rejections if r.name == "torch")
    assert rej.reason == "gpu-arch" and rej.code.startswith("CP") and "sm_90" in rej.message


def test_cached_binary_facts_of_another_project_are_not_used(tmp_path: Path) -> None:
    """A report cached under the sha256 an index claims is used only when it is about that project and version."""
    wheel = ROOT / "files" / "torch-2.5.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl"
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    report = ArtifactReport(
        artifact="other-1.0-py3-none-any.whl", kind="wheel", sha256=sha, sass_archs=("sm_100",), name="other"
    )
    ReportCache(tmp_path).put(sha, report, symbols=False)
    with IndexServer() as srv:
        res = _resolve(srv.url, ["torch"], [H100_580], binary_facts=cached_binary_facts(tmp_path))
    assert res.find("torch").version == "2.5.0+cu130"  # type: ignore[union-attr]


def test_cxx11_abi_of_a_companion_must_match_the_chosen_torch() -> None:
    """torchvision 0.20.0 built with the cxx11 ABI cannot pair with torch 2.5.0 (pre-cxx11, pytorch.yaml)."""

    def facts(info: CandidateInfo) -> ArtifactReport | None:
        if info.name != "torchvision" or not info.version.startswith("0.20"):
            return None
        elf = ElfFacts(path="torchvision/_C.so", elf_class=64, machine="x86_64", cxx_abi="cxx11")
        return ArtifactReport(artifact=info.filename or "", kind="wheel", elf=(elf,))

    with IndexServer() as srv:
        res = _resolve(srv.url, ["torchvision", "torch"], [H100_580], binary_facts=facts)
    got = {p.name: p.version for p in res.packages}
    assert got["torchvision"] == "0.19.0+cu121" and got["torch"] == "2.4.0+cu121"
    abi = [r for r in res.rejections if r.reason == "cxx-abi"]
    assert [(r.name, r.version) for r in abi] == [("torch", "2.5.0+cu130"), ("torchvision", "0.20.0+cu130")]
    assert "torchvision 0.20.0+cu130 is built with the cxx11 C++ ABI; this torch is not" in abi[0].message
    assert "needs torch with the cxx11 C++ ABI" in abi[1].message


def test_progress_is_quiet_in_ci_and_shown_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from envresolve.net import HttpClient

    monkeypatch.setenv("CI", "true")
    assert HttpClient().progress is False
    with IndexServer() as srv:
        _resolve(srv.url, ["alpha"], [H100_580], client=HttpClient())
        assert capsys.readouterr().err == ""
        _resolve(srv.url, ["alpha"], [H100_580], client=HttpClient(progress=True))
    err = capsys.readouterr().err
    assert "resolving pip packages: 2 pinned" in err and err.endswith("\r\x1b[K")


# Requires-Dist lines as real wheels write them (torch, transformers, requests), and malformed ones.
_REQUIRES_DIST = [
    "filelock",
    "typing-extensions>=4.10.0",
    'setuptools; python_version >= "3.12"',
    'nvidia-cuda-runtime-cu12==12.8.90; platform_system == "Linux" and platform_machine == "x86_64"',
    'triton==3.5.0; platform_system == "Linux"',
    "huggingface-hub <1.0,>=0.16.4",
    "regex !=2019.12.17",
    'torch !=1.12.0,>=1.10 ; extra == "torch"',
    'accelerate >=0.20.3 ; extra == "torch"',
    'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
    'chardet<8,>=3.0.2; extra == "use-chardet-on-py3"',
    "a[b,c]>=1,<2 ; extra == 'x' and (os_name==\"nt\" or python_version<'3.9')",
    'a (>=1) ; extra=="T_E.s-t"',
    "a ;python_full_version ~= '3.10'",
    'a @ https://example.invalid/a-1.0-py3-none-any.whl ; extra == "x"',
    "a @ https://example.invalid/a;b.whl",
    "a; ",
    "a ;",
    'a ; extra == "x";',
    'a ;; extra == "x"',
    'a>=1 ; bogus == "x"',
    '; extra=="x"',
    'a>=1x ; extra=="x"',
    'a ; extra == "x" or',
    'a ; python_version >= "3.12" ; x',
]


@pytest.mark.parametrize("line", _REQUIRES_DIST)
def test_parse_requirement_matches_packaging(line: str) -> None:
    """The split-and-memoise parse gives what `packaging` gives for the whole line, invalid lines included."""
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement

    from envresolve.solve.pip.gpu import parse_requirement

    parse_requirement.cache_clear()
    got = parse_requirement(line)
    try:
        want: Requirement | None = Requirement(line)
    except InvalidRequirement:
        want = None
    assert (got is None) == (want is None)
    if got is None or want is None:
        return
    assert got == want and str(got) == str(want) and repr(got) == repr(want)
    assert (got.name, got.url, got.extras, str(got.specifier)) == (
        want.name,
        want.url,
        want.extras,
        str(want.specifier),
    )
    assert str(got.marker) == str(want.marker)
    for extra in ("", "x", "torch", "socks", "t-e-s-t"):
        env = {**default_environment(), "extra": extra}
        assert (got.marker is None) == (want.marker is None)
        if got.marker is not None and want.marker is not None:
            assert got.marker.evaluate(env) == want.marker.evaluate(env)
