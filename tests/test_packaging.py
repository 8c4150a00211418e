"""The built wheel (not the editable install) carries the code and the matrices."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-build-isolation: hatchling comes from the test extra, so this works offline.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("envresolve-*.whl")
    return wheel


def test_wheel_ships_matrices(built_wheel: Path) -> None:
    names = zipfile.ZipFile(built_wheel).namelist()
    repo_files = sorted(
        p.relative_to(REPO / "matrices").as_posix() for p in (REPO / "matrices").rglob("*") if p.is_file()
    )
    assert repo_files
    for rel in repo_files:
        assert f"envresolve/_matrices/{rel}" in names
    assert "envresolve/py.typed" in names


def test_installed_wheel_loads_its_own_matrices(built_wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(built_wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import envresolve, envresolve.matrices as m, envresolve.matrices.base as b;"
        "d = b.matrices_dir(); print(envresolve.__file__); print(d);"
        "print(sorted(p.name for p in d.iterdir()));"
        "print(len(m.all_matrices()), m.cuda_min_driver('12.8').row.source,"
        " envresolve.load_node('h100-driver580').glibc)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=tmp_path
    )
    module_file, mdir, listing, loaded = proc.stdout.splitlines()
    assert module_file.startswith(str(target)), "imported the editable copy, not the wheel"
    assert mdir.startswith(str(target))
    assert "README.md" in listing
    assert "distros.yaml" in listing
    assert "profiles" in listing
    count, source, glibc = loaded.split()
    assert int(count) >= 9  # every matrix file parsed and validated from the wheel
    assert source
    assert glibc == "2.39"  # a bundled profile, its glibc inferred through the wheel's distro table
