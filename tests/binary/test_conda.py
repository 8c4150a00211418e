"""Conda packages: .conda (zip of zstd tarballs) and .tar.bz2, streamed; links and hostile tar members."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest
import zstandard

from envresolve.binary import inspect
from envresolve.binary.conda_pkg import glibc_from_depends
from envresolve.binary.wheel import Limits
from tests.fixtures.archives import build

ELF = {"lib/libalpha.so.1", "lib/libbeta.so", "lib/libkern.so"}


def codes(r) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.code for d in r.diagnostics]


@pytest.mark.parametrize("maker", [build.demo_conda, build.demo_tar_bz2])
def test_demo_package(tmp_path: Path, maker) -> None:  # type: ignore[no-untyped-def]
    r = inspect(maker(tmp_path), cache=False)
    assert r.kind == "conda"
    assert (r.name, r.version, r.build, r.platform_tag) == ("demo", "1.0", "h1234_0", "linux-64")
    assert {f.path for f in r.elf} == ELF
    assert r.tag_glibc == "2.17" and r.max_glibc == "2.34"
    assert sorted(codes(r)) == ["BN510", "BN601"]  # the libalpha.so symlink (recorded), the __glibc understatement
    assert "libalpha.so.1" not in r.external_libs and "libgamma.so.3" in r.external_libs
    assert r.sass_archs == ("sm_80",) and r.ptx_archs == ("sm_90",) and r.cuda_runtime_majors == (13,)
    assert r.files == 5  # info/index.json, three libraries, readme.txt


def test_symlink_name_satisfies_needed(tmp_path: Path) -> None:
    """libbeta needs libalpha.so.1; with the file renamed, only the symlink provides that name."""
    members = [
        ("lib/libalpha.so.1.0.0", build.ALPHA.replace(b"libalpha.so.1", b"libalphx.so.1"), None),
        ("lib/libbeta.so", build.BETA, None),
    ]
    without = inspect(build.demo_conda(tmp_path, members=members, name="a-1-0"), cache=False)
    assert "libalpha.so.1" in without.external_libs
    with_link = [*members, ("lib/libalpha.so.1", None, "libalpha.so.1.0.0")]
    r = inspect(build.demo_conda(tmp_path, members=with_link, name="b-1-0"), cache=False)
    assert "libalpha.so.1" not in r.external_libs and "libgamma.so.3" in r.external_libs


@pytest.mark.parametrize(
    ("member", "code"),
    [
        (("lib/evil.so", None, "/etc/passwd"), "BN511"),
        (("lib/evil.so", None, "../../../etc/passwd"), "BN511"),
        (("lib/hard.so", None, "=../outside.so"), "BN511"),
        (("../evil.so", build.ALPHA, None), "BN504"),
        (("/abs/evil.so", build.ALPHA, None), "BN504"),
        (("lib/fake.so", b"not an elf", None), "BN505"),
    ],
)
@pytest.mark.parametrize("maker", [build.demo_conda, build.demo_tar_bz2])
def test_hostile_members(tmp_path: Path, maker, member, code: str) -> None:  # type: ignore[no-untyped-def]
    r = inspect(maker(tmp_path, extra=[member]), cache=False)
    assert code in codes(r)
    assert {f.path for f in r.elf} == ELF  # the reader moved on


def test_special_file_is_bn513(tmp_path: Path) -> None:
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        fifo = tarfile.TarInfo("lib/pipe")
        fifo.type = tarfile.FIFOTYPE
        tf.addfile(fifo)
        ti = tarfile.TarInfo("lib/libalpha.so.1")
        ti.size = len(build.ALPHA)
        tf.addfile(ti, io.BytesIO(build.ALPHA))
    pkg = tmp_path / "x-1-0.tar.bz2"
    pkg.write_bytes(bz2.compress(out.getvalue()))
    r = inspect(pkg, cache=False)
    assert "BN513" in codes(r) and "BN512" in codes(r)  # and no index.json
    assert [f.path for f in r.elf] == ["lib/libalpha.so.1"]


def test_truncated_tar_bz2_is_bn501_and_keeps_what_was_read(tmp_path: Path) -> None:
    pkg = build.demo_tar_bz2(tmp_path)
    data = pkg.read_bytes()
    pkg.write_bytes(data[: int(len(data) * 0.8)])
    r = inspect(pkg, cache=False)
    assert "BN501" in codes(r)


def test_corrupt_zstd_is_bn501(tmp_path: Path) -> None:
    pkg = build.demo_conda(tmp_path)
    data = bytearray(pkg.read_bytes())
    at = data.find(zstandard.FRAME_HEADER, data.find(b"pkg-demo"))
    data[at + 40 : at + 400] = b"\x00" * 360
    pkg.write_bytes(bytes(data))
    r = inspect(pkg, cache=False)
    assert "BN501" in codes(r)
    assert r.name == "demo"  # info-*.tar.zst was fine


def test_tar_bomb_is_bn502(tmp_path: Path) -> None:
    from envresolve.binary.conda_pkg import conda_report

    pkg = build.demo_conda(tmp_path, extra=[("share/zeros.bin", bytes(20 << 20), None)])
    r = conda_report(str(pkg), limits=Limits(max_ratio=50))
    assert "BN502" in codes(r)


def test_conda_without_tarballs_is_bn501(tmp_path: Path) -> None:
    pkg = build.make_zip(tmp_path / "x-1-0.conda", [("metadata.json", b"{}")])
    r = inspect(pkg, cache=False)
    assert "BN501" in codes(r) and "BN512" in codes(r)


def test_missing_index_json_is_bn512(tmp_path: Path) -> None:
    r = inspect(build.demo_conda(tmp_path, index={}), cache=False)
    assert "BN512" in codes(r) and r.name == "demo-1.0-h1234_0.conda"


def test_glibc_from_depends() -> None:
    assert glibc_from_depends(["python >=3.11", "__glibc >=2.28,<3.0.a0"]) == "2.28"
    assert glibc_from_depends(["__glibc>=2.17"]) == "2.17"
    assert glibc_from_depends(["libgcc-ng >=12"]) is None
