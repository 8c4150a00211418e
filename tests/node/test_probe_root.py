"""The probe against a stand-in root directory: os-release, cpuinfo, the loader cache and libstdc++."""

from __future__ import annotations

import importlib
import platform
import shutil
from pathlib import Path

import pytest

from envresolve.cli import main
from envresolve.errors import ProbeError
from envresolve.node.probe import probe_with_diagnostics
from tests.node.fakes import FakeNvml, fake_run
from tests.node.test_libstdcxx import _new_cache
from tests.node.test_microarch import V3

SYSTEM_LIBSTDCXX = Path("/lib/x86_64-linux-gnu/libstdc++.so.6")


def _root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\nID_LIKE=debian\n')
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/osrelease").write_text("6.8.0-45-generic\n")
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nflags\t\t: " + " ".join(sorted(V3)) + "\n")
    return tmp_path


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not SYSTEM_LIBSTDCXX.exists(), reason="copies this machine's x86-64 libstdc++"
)
def test_probe_follows_the_loader_cache(tmp_path: Path) -> None:
    root = _root(tmp_path)
    lib_dir = root / "opt/gcc/lib64"
    lib_dir.mkdir(parents=True)
    shutil.copy(SYSTEM_LIBSTDCXX.resolve(), lib_dir / "libstdc++.so.6")
    (root / "etc/ld.so.cache").write_bytes(_new_cache([(0x0303, "libstdc++.so.6", "/opt/gcc/lib64/libstdc++.so.6")]))
    result = probe_with_diagnostics(nvml=FakeNvml(available=False), root=root, run=fake_run({}))
    node = result.node
    assert (node.os.id, node.os.version_id, node.os.kernel) == ("ubuntu", "24.04", "6.8.0-45-generic")
    assert node.cpu.microarch_level == 3
    assert node.libstdcxx is not None and node.libstdcxx.path == "/opt/gcc/lib64/libstdc++.so.6"
    assert node.libstdcxx.glibcxx and node.libstdcxx.glibcxx.startswith("3.4.")


def test_probe_without_libstdcxx_and_os_release(tmp_path: Path) -> None:
    result = probe_with_diagnostics(nvml=FakeNvml(available=False), root=tmp_path, run=fake_run({}))
    assert result.node.libstdcxx is None and result.node.os.id is None
    codes = {d.code for d in result.diagnostics}
    assert {"ND105", "ND108", "ND101"} <= codes


def test_probe_with_an_unreadable_libstdcxx(tmp_path: Path) -> None:
    root = _root(tmp_path)
    bogus = root / "usr/lib64/libstdc++.so.6"
    bogus.parent.mkdir(parents=True)
    bogus.write_bytes(b"not an ELF file")
    result = probe_with_diagnostics(nvml=FakeNvml(available=False), root=root, run=fake_run({}))
    assert result.node.libstdcxx is not None and result.node.libstdcxx.glibcxx is None
    assert "ND106" in {d.code for d in result.diagnostics}


def test_glibc_unknown_on_a_non_gnu_libc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe_mod = importlib.import_module("envresolve.node.probe")  # the package attribute is the function

    def no_confstr(name: str) -> str:
        raise ValueError(name)

    class NoLibc:
        def __init__(self, *_: object) -> None:
            raise OSError("no libc")

    monkeypatch.setattr(probe_mod.os, "confstr", no_confstr)
    monkeypatch.setattr(probe_mod.ctypes, "CDLL", NoLibc)
    result = probe_with_diagnostics(nvml=FakeNvml(available=False), root=_root(tmp_path), run=fake_run({}))
    assert result.node.glibc is None
    assert "ND107" in {d.code for d in result.diagnostics}


def test_unknown_architecture_cannot_be_probed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    probe_mod = importlib.import_module("envresolve.node.probe")  # the package attribute is the function

    monkeypatch.setattr(probe_mod.platform, "machine", lambda: "riscv64")
    with pytest.raises(ProbeError) as exc:
        probe_with_diagnostics(nvml=FakeNvml(available=False))
    assert exc.value.code == "ND109"
    assert main(["probe"]) == 3
    err = capsys.readouterr().err
    assert "ND109" in err and "Traceback" not in err
