"""Acceptance on this (GPU-less) machine: `envresolve probe --format json` exits 0, lists no GPUs, reports
glibc and the GLIBCXX_ level of the system libstdc++, checked against the library's real version definitions."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from envresolve.cli import main

pytestmark = pytest.mark.skipif(platform.system() != "Linux", reason="probes a Linux machine")


def _has_nvidia() -> bool:
    return Path("/proc/driver/nvidia/version").exists()


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("probe") / "node.json"
    env_backup = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("CONDA_OVERRIDE_")}
    try:
        assert main(["probe", "--format", "json", "-q", "-o", str(out)]) == 0
    finally:
        os.environ.update(env_backup)
    return json.loads(out.read_text())


@pytest.mark.skipif(_has_nvidia(), reason="this acceptance test is for a machine without an NVIDIA driver")
def test_probe_json_lists_no_gpus(probed: dict) -> None:  # type: ignore[type-arg]
    assert probed["gpus"] == []
    assert probed["driver"] is None
    assert probed["schema_version"] == 1


def test_probe_reports_the_c_library_glibc(probed: dict) -> None:  # type: ignore[type-arg]
    expected = os.confstr("CS_GNU_LIBC_VERSION").split()[1]  # type: ignore[union-attr]
    assert probed["glibc"] == expected
    assert probed["provenance"]["glibc"] == "probed"


def _loader_libstdcxx() -> str:
    """Where `ldconfig -p` says the loader finds libstdc++.so.6 for this arch (independent of envresolve)."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=True).stdout
    tag = {"x86_64": "x86-64", "aarch64": "AArch64"}[platform.machine()]
    for line in out.splitlines():
        if line.strip().startswith("libstdc++.so.6 ") and tag in line:
            return line.split("=>")[1].strip()
    pytest.skip("no system libstdc++ on this machine")


def _defined_versions_readelf(path: str) -> list[str]:
    out = subprocess.run(["readelf", "-V", "-W", path], capture_output=True, text=True, check=True).stdout
    section = out.split("Version definition section", 1)[1].split("Version needs section", 1)[0]
    return re.findall(r"Name: (\S+)", section)


def _defined_versions_pyelftools(path: str) -> list[str]:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".gnu.version_d")
        return [next(iter(aux)).name for _v, aux in sec.iter_versions()]


def _max(names: list[str], prefix: str) -> str:
    vs = [tuple(int(x) for x in n.split("_", 1)[1].split(".")) for n in names if re.fullmatch(prefix + r"_[0-9.]+", n)]
    return ".".join(map(str, max(vs)))


def test_probe_libstdcxx_levels_match_the_files_version_definitions(probed: dict) -> None:  # type: ignore[type-arg]
    path = _loader_libstdcxx()
    lib = probed["libstdcxx"]
    assert os.path.realpath(lib["path"]) == os.path.realpath(path)
    names = _defined_versions_readelf(path) if shutil.which("readelf") else _defined_versions_pyelftools(path)
    assert lib["glibcxx"] == _max(names, "GLIBCXX")
    assert lib["cxxabi"] == _max(names, "CXXABI")
    # and not from the file name: the soname's minor (libstdc++.so.6.0.30) is not a GLIBCXX level
    assert lib["glibcxx"].startswith("3.4.")


def test_probe_text_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "-q"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^glibc\s+\d+\.\d+\s+probed$", out, re.M)
    assert re.search(r"^libstdc\+\+\s+GLIBCXX_3\.4\.\d+", out, re.M)
