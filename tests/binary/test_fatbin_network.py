"""Real PyPI wheels against cuobjdump (network: deselected by default; run with `-m network`)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envresolve.binary.elf import read_elf
from envresolve.binary.model import CudaRuntimeLink

from .test_fatbin_fixtures import CUOBJDUMP, oracle

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _download(spec: str, platform: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11"]
    cmd += ["--platform", platform, "-d", str(dest), spec]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    (wheel,) = dest.glob("*.whl")
    return wheel


@pytest.mark.skipif(CUOBJDUMP is None, reason="cuobjdump not found: `pip install nvidia-cuda-cuobjdump`")
def test_jax_cuda_plugin_fatbins_match_cuobjdump(tmp_path: Path) -> None:
    """jax-cuda12-plugin 0.10.2: LZ-compressed SASS 50..120 plus PTX 120; the runtime is loaded by a stub."""
    wheel = _download("jax-cuda12-plugin==0.10.2", "manylinux_2_27_x86_64", tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        for name in ("jax_cuda12_plugin/_linalg.so", "jax_cuda12_plugin/_prng.so", "jax_cuda12_plugin/_solver.so"):
            data = zf.read(name)
            chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
            facts, diags = read_elf(iter(chunks), path=name, size=len(data), reopen=lambda c=chunks: iter(c))
            assert diags == [] and facts is not None
            out = tmp_path / Path(name).name
            out.write_bytes(data)
            assert [(e.kind, e.arch, e.ptx_isa, e.compressed) for e in facts.fatbin] == oracle(out)
            assert {e.arch for e in facts.fatbin if e.kind == "ptx"} == {"sm_120"}
            assert facts.cuda_runtime == CudaRuntimeLink(mode="dlopen", major=None)
            assert facts.needs("GLIBC") == "2.16"
