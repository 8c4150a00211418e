"""Each lint check with a failing and a passing input. Facts come from the real matrices."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.diagnostics import Diagnostic, Severity
from envresolve.node.facts import DriverFacts, GpuFacts, NodeFacts
from envresolve.specs import lint


def node(driver: str | None, cuda: str | None, cc: str = "8.0", name: str = "NVIDIA A100-SXM4-80GB") -> NodeFacts:
    gpus = (GpuFacts(index=0, name=name, compute_capability=cc),) if driver else ()
    drv = DriverFacts(version=driver, cuda=cuda) if driver else None
    return NodeFacts(name=f"node-{driver or 'cpu'}", driver=drv, gpus=gpus)


def run(tmp_path: Path, name: str, text: str, nodes: list[NodeFacts] | None = None) -> list[Diagnostic]:
    p = tmp_path / name
    p.write_text(text)
    return lint([p], nodes or [], env={})


def codes(diags: list[Diagnostic], code: str) -> list[Diagnostic]:
    return [d for d in diags if d.code == code]


ENV = "channels: [pytorch, nvidia, conda-forge]\ndependencies:\n{deps}"


def env(*deps: str) -> str:
    return ENV.format(deps="".join(f"  - {d}\n" for d in deps))


def test_sp201_conda_cuda_vs_pip_torch_index(tmp_path: Path) -> None:
    bad = env(
        "python=3.11",
        "pytorch-cuda=12.4",
        "pip:",
        "    - --extra-index-url https://torch-index.example.invalid/whl/cu121",
        "    - torch==2.3.1",
    )
    bad = bad.replace("  - pip:\n  -     - ", "  - pip:\n    - ").replace("\n  -     - ", "\n    - ")
    (d,) = codes(run(tmp_path, "environment.yml", bad), "SP201")
    assert d.severity is Severity.ERROR and d.location is not None and d.location.line == 7
    assert "CUDA 12.1" in d.message and "CUDA 12.4" in d.message
    good = bad.replace("cu121", "cu124").replace("torch==2.3.1", "torch==2.4.1")
    assert not codes(run(tmp_path, "environment.yml", good), "SP201")
    # different majors are the judge's CP160 (one code wherever it is found), not a second SP201
    majors = run(tmp_path, "environment.yml", bad.replace("pytorch-cuda=12.4", "pytorch-cuda=11.8"))
    assert not codes(majors, "SP201")
    (m,) = codes(majors, "CP160")
    assert m.severity is Severity.ERROR and m.location is not None and m.location.line == 7


def test_cp101_cuda_runtime_vs_node_driver(tmp_path: Path) -> None:
    spec = env("python=3.9", "cudatoolkit=11.3")
    old = node("418.226.00", "10.1", cc="7.0", name="Tesla V100-SXM2-16GB")
    (d,) = codes(run(tmp_path, "environment.yml", spec, [old]), "CP101")
    assert d.severity is Severity.ERROR and d.node == "node-418.226.00" and d.location and d.location.line == 4
    assert any("465.19.01" in e.fact or "CUDA 11.3" in e.fact for e in d.evidence)
    # minor-version compatibility: a warning that states its limits (CP102, as in lock and check)
    mvc = node("470.256.02", "11.4", cc="7.0", name="Tesla V100-SXM2-16GB")
    (w,) = codes(run(tmp_path, "environment.yml", env("cudatoolkit=11.8"), [mvc]), "CP102")
    assert w.severity is Severity.WARNING and any("PTX" in e.fact for e in w.evidence)
    assert not codes(run(tmp_path, "environment.yml", spec, [node("535.183.01", "12.2")]), "CP101")
    # a CPU-only node installs CUDA packages (conda's __cuda constraint binds only where __cuda exists): the
    # judge finds nothing there, and lint agrees (issue 10: cuda-version=12.4 on cpu-only)
    cpu = run(tmp_path, "environment.yml", env("cuda-version=12.4"), [node(None, None)])
    assert [d for d in cpu if d.severity is Severity.ERROR] == []


def test_cp180_torch_vs_python(tmp_path: Path) -> None:
    bad = env("python=3.12", "pip", "pip:") + "    - torch==2.0.1\n"
    (d,) = codes(run(tmp_path, "environment.yml", bad), "CP180")
    assert d.location is not None and d.location.line == 6 and "3.12" in d.message
    assert d.evidence and d.evidence[0].source and "PyPI" in d.evidence[0].source
    assert not codes(run(tmp_path, "environment.yml", bad.replace("python=3.12", "python=3.11")), "CP180")


def test_cp110_torch_variant_vs_gpu(tmp_path: Path) -> None:
    req = "--extra-index-url https://torch-index.example.invalid/whl/cu130\ntorch==2.9.0+cu130\n"
    pascal = node("580.65.06", "13.0", cc="6.1", name="NVIDIA GeForce GTX 1080")
    (d,) = codes(run(tmp_path, "requirements.txt", req, [pascal]), "CP110")
    assert d.severity is Severity.ERROR and "GTX 1080" in d.message and d.location and d.location.line == 2
    h100 = node("580.65.06", "13.0", cc="9.0", name="NVIDIA H100 80GB HBM3")
    assert not codes(run(tmp_path, "requirements.txt", req, [h100]), "CP110")
    # torch not pinned, taken from a cu130 index: pip picks the newest release with a CUDA 13.0 build (a guess,
    # so the verdict warns and its evidence says it is unsure)
    loose = "--extra-index-url https://torch-index.example.invalid/whl/cu130\ntorch>=2.9\n"
    (w,) = codes(run(tmp_path, "requirements.txt", loose, [pascal]), "CP110")
    assert w.severity is Severity.WARNING and any(e.unsure and "not pinned" in e.fact for e in w.evidence)
    assert not codes(run(tmp_path, "requirements.txt", loose, [h100]), "CP110")
    # a variant the release never had
    (v,) = codes(run(tmp_path, "requirements.txt", "torch==2.3.1+cu128\n", [h100]), "SP204")
    assert "no CUDA 12.8 build" in v.message


def test_sp205_declared_cuda(tmp_path: Path) -> None:
    pixi = (
        '[workspace]\nname = "x"\nchannels = ["conda-forge"]\nplatforms = ["linux-64"]\n'
        '[system-requirements]\ncuda = "12.0"\n[dependencies]\npytorch-gpu = "*"\ncuda-version = "12.6.*"\n'
    )
    (d,) = codes(run(tmp_path, "pixi.toml", pixi), "SP205")
    assert d.severity is Severity.WARNING and d.location and d.location.line == 9
    assert not codes(run(tmp_path, "pixi.toml", pixi.replace("12.6.*", "12.0.*")), "SP205")


def test_sp210_pip_shadows_conda(tmp_path: Path) -> None:
    bad = env("pytorch=2.1", "pip", "pip:") + "    - torch==2.1.2\n"
    (d,) = codes(run(tmp_path, "environment.yml", bad), "SP210")
    assert d.location and d.location.line == 6 and any("torch" in e.fact for e in d.evidence)
    assert not codes(run(tmp_path, "environment.yml", bad.replace("torch==2.1.2", "requests==2.32.3")), "SP210")


def test_sp211_two_cuda_runtimes(tmp_path: Path) -> None:
    # two majors: the judge's CP160 (as lock and check say it), not an SP copy of the rule
    majors = run(tmp_path, "environment.yml", env("cudatoolkit=11.7", "cuda-version=12.1"))
    assert not codes(majors, "SP211")
    (d,) = codes(majors, "CP160")
    assert d.severity is Severity.ERROR
    mixed = env("cudatoolkit=11.8", "pip", "pip:") + "    - nvidia-cuda-runtime-cu12==12.1.105\n"
    (m,) = codes(run(tmp_path, "environment.yml", mixed), "CP160")
    assert m.severity is Severity.ERROR and m.location and m.location.line == 6
    (w,) = codes(run(tmp_path, "environment.yml", env("cudatoolkit=11.7", "pytorch-cuda=11.7")), "SP211")
    assert w.severity is Severity.WARNING
    assert not codes(run(tmp_path, "environment.yml", env("cuda-version=12.1", "pytorch-cuda=12.1")), "SP211")


def test_sp212_cpu_fallback(tmp_path: Path) -> None:
    (d,) = codes(run(tmp_path, "environment.yml", env("pytorch::pytorch=1.12.*")), "SP212")
    assert d.location and d.location.line == 3
    assert not codes(run(tmp_path, "environment.yml", env("pytorch::pytorch=1.12.*", "pytorch-cuda=11.7")), "SP212")
    assert not codes(run(tmp_path, "environment.yml", env("pytorch-gpu")), "SP212")
    (j,) = codes(run(tmp_path, "requirements.txt", "jax==0.4.30\n"), "SP212")
    assert j.location and j.location.line == 1
    assert not codes(run(tmp_path, "requirements.txt", "jax[cuda12]==0.4.30\n"), "SP212")
    # jax#15961: the CUDA jaxlib pinned beside jax (the pre-plugin install) is no CPU fallback
    assert not codes(run(tmp_path, "requirements.txt", "jax==0.4.9\njaxlib==0.4.9+cuda11.cudnn86\n"), "SP212")
    assert codes(run(tmp_path, "requirements.txt", "jax==0.4.9\njaxlib==0.4.9\n"), "SP212")
    gpu = node("580.65.06", "13.0", cc="9.0", name="NVIDIA H100 80GB HBM3")
    cpu_index = "--index-url https://torch-index.example.invalid/whl/cpu\ntorch==2.9.0\n"
    assert codes(run(tmp_path, "requirements.txt", cpu_index, [gpu]), "SP212")
    assert not codes(run(tmp_path, "requirements.txt", cpu_index), "SP212")


def test_sp220_credentials_masked(tmp_path: Path) -> None:
    diags = run(
        tmp_path, "requirements.txt", "--extra-index-url https://alice:hunter2@pypi.example.invalid/simple\nnumpy\n"
    )
    (d,) = codes(diags, "SP220")
    assert d.category.value == "security" and "hunter2" not in d.model_dump_json()
    ok = "--extra-index-url https://${PIP_USER}:${PIP_TOKEN}@pypi.example.invalid/simple\nnumpy\n"
    assert not codes(run(tmp_path, "requirements.txt", ok), "SP220")


def test_sp124_missing_include(tmp_path: Path) -> None:
    (d,) = codes(run(tmp_path, "requirements.txt", "-c constraints.txt\nnumpy\n"), "SP124")
    assert d.location and d.location.line == 1
    (tmp_path / "constraints.txt").write_text("numpy<2\n")
    assert not codes(run(tmp_path, "requirements.txt", "-c constraints.txt\nnumpy\n"), "SP124")


def test_every_check_runs_per_node_and_names_it(tmp_path: Path) -> None:
    spec = env("python=3.9", "cudatoolkit=11.3")
    a, b = node("418.226.00", "10.1", cc="7.0", name="Tesla V100-SXM2-16GB"), node("419.0.0", "10.1")
    found = codes(run(tmp_path, "environment.yml", spec, [a, b]), "CP101")
    assert sorted(d.node or "" for d in found) == ["node-418.226.00", "node-419.0.0"]


@pytest.mark.parametrize("fmt", ["pixi.toml", "requirements.txt", "environment.yml"])
def test_clean_specs_have_no_findings(tmp_path: Path, fmt: str) -> None:
    text = {
        "pixi.toml": (
            '[workspace]\nname = "x"\nchannels = ["conda-forge"]\nplatforms = ["linux-64"]\n'
            '[dependencies]\nnumpy = ">=2"\n'
        ),
        "requirements.txt": "numpy>=2\n",
        "environment.yml": env("numpy>=2"),
    }[fmt]
    assert run(tmp_path, fmt, text, [node("580.65.06", "13.0")]) == []


PIXI_VARIANTS = """[workspace]
name = "x"
channels = ["conda-forge"]
platforms = [
  { name = "linux-64-cuda", platform = "linux-64", cuda = "12.4" },
  { name = "linux-64-cpu", platform = "linux-64" },
]
[target.linux-64-cuda.pypi-dependencies]
torch = { version = "==2.5.1", index = "https://torch-index.example.invalid/whl/cu124" }
[target.linux-64-cpu.pypi-dependencies]
torch = { version = "==2.5.1", index = "https://torch-index.example.invalid/whl/cpu" }
"""


def test_pixi_platform_variants_are_checked_where_pixi_selects_them(tmp_path: Path) -> None:
    gpu_ok = node("580.65.06", "13.0", cc="9.0", name="NVIDIA H100 80GB HBM3")
    # on a GPU node the CPU variant is not selected: no SP212 for its CPU torch
    assert run(tmp_path, "pixi.toml", PIXI_VARIANTS, [gpu_ok]) == []
    # the CUDA variant declares cuda >= 12.4: a driver at CUDA 12.2 cannot take it (SP202 at the workspace)
    old = node("535.183.01", "12.2")
    found = codes(run(tmp_path, "pixi.toml", PIXI_VARIANTS, [old]), "SP202")
    assert any("declares cuda >= 12.4" in d.message for d in found)
    # a CPU-only node: pixi selects the CPU variant; the CUDA one is not reported as 'no driver'
    assert not codes(run(tmp_path, "pixi.toml", PIXI_VARIANTS, [node(None, None)]), "SP202")


def test_requirements_whose_marker_is_false_are_not_checked(tmp_path: Path) -> None:
    reqs = 'torch==2.0.1; python_version < "3.12"\ntorch==2.5.1; python_version >= "3.12"\n'
    text = env("python=3.12", "pip", "pip:") + "".join(f"    - '{line}'\n" for line in reqs.splitlines())
    assert not codes(run(tmp_path, "environment.yml", text), "CP180")
    (d,) = codes(run(tmp_path, "environment.yml", text.replace("python=3.12", "python=3.13")), "CP180")
    assert "torch 2.5 " in d.message and d.location and d.location.line == 7


def test_plain_pypi_torch_pin_is_the_default_cuda_variant(tmp_path: Path) -> None:
    # torch==2.7.1 from PyPI is the CUDA 12.6 build (the matrix's default_pypi variant)
    old = node("470.82.01", "11.4", cc="7.0", name="Tesla V100-SXM2-16GB")
    (d,) = codes(run(tmp_path, "requirements.txt", "torch==2.7.1\n", [old]), "CP101")
    assert d.severity is Severity.ERROR and "CUDA 12.6" in d.message
    assert any("default variant, CUDA 12.6" in e.fact for e in d.evidence)
    assert not codes(run(tmp_path, "requirements.txt", "torch==2.7.1\n", [node("580.65.06", "13.0")]), "CP101")
