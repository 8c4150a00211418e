"""The rules never raise on odd but valid inputs: unparsable versions, unknown names, empty nodes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.compat import Environment, Package, candidate_verdict, evaluate
from envresolve.node.facts import DriverFacts, GpuFacts, LibStdCxxFacts, NodeFacts

NAMES = [
    "torch",
    "pytorch",
    "torchvision",
    "torchaudio",
    "nvidia-cuda-runtime-cu12",
    "nvidia-cuda-runtime",
    "nvidia-cudnn-cu12",
    "nvidia-cudnn-cu13",
    "nvidia-nccl-cu12",
    "nccl",
    "cudnn",
    "cuda-version",
    "cudatoolkit",
    "pytorch-cuda",
    "libstdcxx-ng",
    "python",
    "jax-cuda13-plugin",
    "tensorflow",
    "cuda-compat-impl",
    "numpy",
]
VERSIONS = st.one_of(
    st.sampled_from(
        [
            "2.7.1+cu126",
            "2.13.0",
            "13.0.48",
            "12.8.90",
            "9.10.2.21",
            "0.22.1",
            "1!2.0",
            "2.0.0.dev1",
            "12",
            "99.99",
            "2.8.0+cpu",
            "2.8.0+rocm6.3",
            "0",
            "3.4.35",
        ]
    ),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True),
    st.text(alphabet="abcxyz.-+_0123456789", min_size=1, max_size=12),
)
DEPENDS = st.lists(
    st.sampled_from(
        [
            "cuda-version >=12.2a.0,<13.0a0",
            "cuda-version >=12..2",
            "torch",
            "",
            "  ",
            "cuda-version",
            "nvidia-cuda-runtime-cu12==12.8.90; platform_system == 'Linux'",
        ]
    ),
    max_size=3,
)


@st.composite
def packages(draw: st.DrawFn) -> Package:
    return Package(
        name=draw(st.sampled_from(NAMES)),
        version=draw(VERSIONS),
        ecosystem=draw(st.sampled_from(["pypi", "conda"])),
        build=draw(
            st.one_of(
                st.none(),
                st.sampled_from(
                    ["py3.10_cuda12.1_cudnn8.9.2_0", "cuda129_mkl_py313_h_302", "py3.10_cpu_0", "h4852527_1", "cuda9_x"]
                ),
            )
        ),
        depends=tuple(draw(DEPENDS)),
    )


@st.composite
def nodes(draw: st.DrawFn) -> NodeFacts:
    ccs = st.sampled_from(["3.7", "6.0", "7.0", "7.5", "8.0", "8.7", "9.0", "10.0", "11.0", "12.0", "12.1", "13.5"])
    gpus = draw(
        st.lists(
            st.tuples(st.sampled_from(["Tesla T4", "NVIDIA H100", "Jetson T5000", "Mystery GPU"]), ccs), max_size=3
        )
    )
    return NodeFacts(
        glibc=draw(st.sampled_from([None, "2.17", "2.28", "2.39"])),
        driver=draw(
            st.sampled_from(
                [
                    None,
                    DriverFacts(version="470.82.01", cuda="11.4"),
                    DriverFacts(version="580.65.06", cuda="13.0"),
                    DriverFacts(cuda="12.4"),
                ]
            )
        ),
        libstdcxx=draw(st.sampled_from([None, LibStdCxxFacts(glibcxx="3.4.19", cxxabi="1.3.7")])),
        gpus=tuple(GpuFacts(index=i, name=n, compute_capability=c) for i, (n, c) in enumerate(gpus)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pkgs=st.lists(packages(), max_size=6), node=nodes(), python=st.sampled_from([None, "3.9.1", "3.12.3", "x"]))
def test_evaluate_never_raises(pkgs: list[Package], node: NodeFacts, python: str | None) -> None:
    env = Environment(packages=tuple(pkgs), python=python)
    for d in evaluate(env, node):
        # RS130-RS133 state what the environment needs of a fact the node leaves unknown: never an error
        assert d.code.startswith("CP") or (
            d.code in {"RS130", "RS131", "RS132", "RS133"} and d.severity.value == "warning"
        )
    if pkgs:
        candidate_verdict(pkgs[0], node, Environment(packages=tuple(pkgs[1:]), python=python))


def test_unreadable_conda_constraint_gives_no_verdict() -> None:
    from packaging.version import Version

    from envresolve.compat.cudalibs import _conda_spec_ok

    assert _conda_spec_ok(">=12..2", Version("12.4"))
    assert not _conda_spec_ok(">=12.2a.0,<13.0a0", Version("13.0"))
    assert _conda_spec_ok(">=12.2a.0,<13.0a0", Version("12.9"))


def test_unparsable_forward_compat_version_is_ignored() -> None:
    env = Environment(
        packages=(
            Package(name="torch", version="2.13.0", ecosystem="pypi"),
            Package(name="cuda-compat-impl", version="_", ecosystem="conda"),
        )
    )
    node = NodeFacts(
        driver=DriverFacts(version="470.82.01", cuda="11.4"),
        gpus=(GpuFacts(index=0, name="Tesla T4", compute_capability="7.5"),),
    )
    assert "CP101" in [d.code for d in evaluate(env, node)]


def test_a_forward_compat_package_with_a_bare_local_version_is_judged() -> None:
    """Found by hypothesis: cuda-compat-impl '0+' made the driver rule raise InvalidVersion."""
    node = NodeFacts(
        glibc="2.28",
        driver=DriverFacts(version="470.82.01", cuda="11.4"),
        gpus=(GpuFacts(index=0, name="Tesla T4", compute_capability="7.5"),),
    )
    compat = Package(name="cuda-compat-impl", version="0+", ecosystem="conda")
    env = Environment(packages=(compat, Package(name="torch", version="2.5.1", ecosystem="pypi")))
    evaluate(env, node)
