"""Real wheels: the PyTorch CPU wheel from the local find-links directory (offline, skipped when absent)
and bitsandbytes 0.50.2 from PyPI checked against cuobjdump (network)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from envresolve.binary import inspect
from envresolve.binary.model import max_version

TORCH = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")


@pytest.mark.slow  # 1.5-2 s on an idle 2-core machine, more under load
@pytest.mark.skipif(not TORCH.is_file(), reason="the PyTorch CPU wheel is not in /opt/wheels")
def test_torch_cpu_wheel(tmp_path: Path) -> None:
    r = inspect(TORCH, cache=False)
    assert r.platform_tag == "manylinux_2_28_x86_64" and r.tag_glibc == "2.28"
    assert r.max_glibc == "2.28" and r.max_glibcxx == "3.4.22"
    assert r.sass_archs == () and r.ptx_archs == () and r.cuda_runtime_majors == ()
    assert not any(f.fatbin for f in r.elf)
    assert "BN601" not in {d.code for d in r.diagnostics}
    by_path = {f.path: f for f in r.elf}
    assert by_path["torch/lib/libtorch_cpu.so"].needs("GLIBC") == "2.28"
    # oracle: pyelftools on a member extracted for the comparison only
    with zipfile.ZipFile(TORCH) as zf:
        zf.extract("torch/lib/libc10.so", tmp_path)
    with open(tmp_path / "torch/lib/libc10.so", "rb") as fh:
        elf = ELFFile(fh)
        verneed = next(s for s in elf.iter_sections() if isinstance(s, GNUVerNeedSection))
        names = [aux.name for _lib, auxes in verneed.iter_versions() for aux in auxes]
    facts = by_path["torch/lib/libc10.so"]
    assert facts.needs("GLIBC") == max_version(names, "GLIBC")
    assert facts.needs("GLIBCXX") == max_version(names, "GLIBCXX")
    assert sorted(v for vs in facts.version_needs.values() for v in vs) == sorted(names)


def _pip_download(spec: str, dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
    ]
    for plat in ("manylinux_2_24_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"):
        cmd += ["--platform", plat]
    subprocess.run([*cmd, "-d", str(dest), spec], check=True)
    name = spec.split("==")[0].replace("-", "_")
    return next(dest.glob(f"{name}-*.whl"))


def _cuobjdump_archs(cuobjdump: Path, so: Path, flag: str) -> set[str] | None:
    proc = subprocess.run([str(cuobjdump), flag, str(so)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None  # cuobjdump 13 refuses some pre-Volta cubins ("Invalid ELF")
    return set(re.findall(r"\.(sm_\d+[af]?)\.(?:cubin|ptx)", proc.stdout))


@pytest.mark.network
def test_bitsandbytes_matches_cuobjdump(tmp_path: Path) -> None:
    wheel = _pip_download("bitsandbytes==0.50.2", tmp_path)
    tool_wheel = _pip_download("nvidia-cuda-cuobjdump", tmp_path)
    with zipfile.ZipFile(tool_wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith("/bin/cuobjdump"))
        zf.extract(member, tmp_path / "tool")
    cuobjdump = tmp_path / "tool" / member
    cuobjdump.chmod(0o755)

    r = inspect(wheel, cache=False)
    assert r.tag_glibc == "2.24" and r.max_glibc == "2.32" and "BN601" in {d.code for d in r.diagnostics}
    assert r.ptx_archs == (), "bitsandbytes ships no (executable) PTX"
    compared = 0
    with zipfile.ZipFile(wheel) as zf:
        for f in r.elf:
            if not re.search(r"libbitsandbytes_cuda\d+\.so$", f.path):
                continue
            zf.extract(f.path, tmp_path / "x")
            so = tmp_path / "x" / f.path
            sass = _cuobjdump_archs(cuobjdump, so, "--list-elf")
            if sass is None:
                continue
            assert {e.arch for e in f.fatbin if e.kind == "sass"} == sass, f.path
            assert not [e for e in f.fatbin if e.kind == "ptx"], f.path
            assert _cuobjdump_archs(cuobjdump, so, "--list-ptx") == set()
            compared += 1
    assert compared >= 5
