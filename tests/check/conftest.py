"""Session fixtures: real venvs and a conda-style prefix, built once with gcc/g++ and pip (offline)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from envresolve.node.facts import LibStdCxxFacts, NodeFacts, OsFacts
from tests.check import envbuild


@dataclass(frozen=True)
class Built:
    root: Path
    venv_bad: Path
    venv_good: Path
    conda: Path
    wheel_bad: Path


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    if not envbuild.have_compilers():
        pytest.skip("needs gcc, g++ and the Python headers")
    root = tmp_path_factory.mktemp("check-envs")
    bad_whl, good_whl = envbuild.tiny_wheels(root)
    return Built(
        root=root,
        venv_bad=envbuild.build_venv(root / "venv-bad", bad_whl),
        venv_good=envbuild.build_venv(root / "venv-good", good_whl),
        conda=envbuild.build_conda_like_prefix(root / "conda-prefix", root),
        wheel_bad=bad_whl,
    )


def centos7(name: str = "centos7") -> NodeFacts:
    """A CentOS 7 node: glibc 2.17, libstdc++ of GCC 4.8 (GLIBCXX_3.4.19, CXXABI_1.3.7)."""
    return NodeFacts(
        name=name,
        os=OsFacts(id="centos", version_id="7"),
        glibc="2.17",
        libstdcxx=LibStdCxxFacts(path="/usr/lib64/libstdc++.so.6", glibcxx="3.4.19", cxxabi="1.3.7"),
    )


def bookworm(name: str = "bookworm") -> NodeFacts:
    """A Debian 12 node like this machine: glibc 2.36, libstdc++ of GCC 12 (GLIBCXX_3.4.30)."""
    return NodeFacts(
        name=name,
        os=OsFacts(id="debian", version_id="12"),
        glibc="2.36",
        libstdcxx=LibStdCxxFacts(glibcxx="3.4.30", cxxabi="1.3.13"),
    )
