"""Wheels: ELF members read straight from the zip, tags, and every hostile zip case with its code."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from envresolve.binary import inspect
from envresolve.binary.elf import read_elf_file
from envresolve.binary.wheel import (
    FileSource,
    Limits,
    data_offset,
    is_unsafe_path,
    list_zip_members,
    looks_like_shared_object,
    member_chunks,
    parse_wheel_filename,
    platform_tag_glibc,
    platform_tag_musl,
    scan_zip,
)
from tests.fixtures.archives import build

GOOD = {
    "demo.libs/libalpha.so.1",
    "demo/_native.cpython-311-x86_64-linux-gnu.so",
    "demo/lib/libkern.so",
    "demo/bin/helper",
}


def codes(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.code for d in report.diagnostics]


def paths(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.path for f in report.elf}


def test_demo_wheel_report(tmp_path: Path) -> None:
    r = inspect(build.demo_wheel(tmp_path), cache=False)
    assert r.kind == "wheel" and r.name == "demo" and r.version == "1.0"
    assert paths(r) == GOOD  # demo/bin/helper has no .so name: found by its magic
    assert r.platform_tag == "manylinux2014_x86_64" and r.tag_glibc == "2.17"
    assert r.max_glibc == "2.34" and r.max_glibcxx == "3.4.21" and r.max_cxxabi == "1.3.9"
    assert r.cuda_runtime_majors == (13,)
    assert r.sass_archs == ("sm_80",) and r.ptx_archs == ("sm_90",)
    # libalpha.so.1 is inside (demo.libs/), libgamma.so.3 and the CUDA runtime are not
    assert "libalpha.so.1" not in r.external_libs
    assert {"libgamma.so.3", "libcudart.so.13", "libc.so.6"} <= set(r.external_libs)
    assert set(r.system_libs) == {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "libstdc++.so.6"}
    assert codes(r) == ["BN601"]
    assert "GLIBC_2.34" in r.diagnostics[0].message
    assert r.files == 7 and r.sha256 and len(r.sha256) == 64


def test_members_from_zip_equal_the_file_on_disk_and_pyelftools(tmp_path: Path) -> None:
    r = inspect(build.demo_wheel(tmp_path), cache=False)
    by_path = {f.path: f for f in r.elf}
    for member, fixture in [
        ("demo.libs/libalpha.so.1", "libalpha.so.1"),
        ("demo/_native.cpython-311-x86_64-linux-gnu.so", "libbeta.so"),
        ("demo/lib/libkern.so", "libkern.so"),
    ]:
        disk, _ = read_elf_file(build.HERE / fixture)
        assert disk is not None
        streamed = by_path[member]
        assert streamed.model_copy(update={"path": "x"}) == disk.model_copy(update={"path": "x", "size": streamed.size})
        with open(build.HERE / fixture, "rb") as fh:
            dyn = next(s for s in ELFFile(fh).iter_sections() if isinstance(s, DynamicSection))
            needed = tuple(t.needed for t in dyn.iter_tags() if t.entry.d_tag == "DT_NEEDED")
        assert streamed.needed == needed


@pytest.mark.parametrize(
    ("plat", "glibc", "musl"),
    [
        ("manylinux1_x86_64", "2.5", None),
        ("manylinux2010_x86_64", "2.12", None),
        ("manylinux2014_aarch64", "2.17", None),
        ("manylinux_2_28_x86_64", "2.28", None),
        ("manylinux_2_27_x86_64.manylinux_2_28_x86_64", "2.27", None),
        ("manylinux2014_x86_64.manylinux_2_17_x86_64", "2.17", None),
        ("musllinux_1_2_x86_64", None, "1.2"),
        ("linux_x86_64", None, None),
        ("any", None, None),
    ],
)
def test_platform_tags(plat: str, glibc: str | None, musl: str | None) -> None:
    assert platform_tag_glibc(plat) == glibc
    assert platform_tag_musl(plat) == musl


def test_wheel_filename() -> None:
    assert parse_wheel_filename("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl") == {
        "name": "torch", "version": "2.13.0+cpu", "py": "cp311", "abi": "cp311", "plat": "manylinux_2_28_x86_64"
    }  # fmt: skip
    assert parse_wheel_filename("x-1.0-1build-py3-none-any.whl")["build"] == "1build"  # type: ignore[index]
    assert parse_wheel_filename("notawheel.zip") is None


def test_tag_from_wheel_metadata_when_the_name_is_not_a_wheel_name(tmp_path: Path) -> None:
    w = build.demo_wheel(tmp_path, plat="manylinux_2_35_x86_64")
    renamed = w.rename(tmp_path / "download.bin")
    r = inspect(renamed, cache=False)
    assert r.kind == "wheel" and r.platform_tag == "manylinux_2_35_x86_64" and r.tag_glibc == "2.35"
    assert "BN601" not in codes(r)


def test_arch_mismatch(tmp_path: Path) -> None:
    r = inspect(build.demo_wheel(tmp_path, plat="manylinux2014_aarch64"), cache=False)
    assert codes(r).count("BN602") == 4


def test_path_helpers() -> None:
    for bad in ("/etc/x.so", "../x.so", "a/../../x.so", "a\\..\\x.so", "C:/x.so", "\\x.so", ""):
        assert is_unsafe_path(bad), bad
    for ok in ("a/b.so", "a..b/c.so", "a/.../b"):
        assert not is_unsafe_path(ok), ok
    assert looks_like_shared_object("libc.so.6") and looks_like_shared_object("m.cpython-311-x86_64-linux-gnu.so")
    assert not looks_like_shared_object("libc.so.txt") and not looks_like_shared_object("notes.so.bak")


# ---------------------------------------------------------------------------------------------- hostile


def test_truncated_zip_is_bn501(tmp_path: Path) -> None:
    data = build.demo_wheel(tmp_path).read_bytes()
    bad = tmp_path / "trunc-1.0-py3-none-any.whl"
    bad.write_bytes(data[: len(data) // 2])
    r = inspect(bad, cache=False)
    assert codes(r) == ["BN501"] and r.elf == ()


def test_garbage_named_whl_is_bn501(tmp_path: Path) -> None:
    bad = tmp_path / "junk-1.0-py3-none-any.whl"
    bad.write_bytes(b"PK\x05\x06" + b"\xff" * 18)
    assert codes(inspect(bad, cache=False)) == ["BN501"]


def test_declared_ratio_bomb_is_bn502_and_others_are_read(tmp_path: Path) -> None:
    w = build.demo_wheel(tmp_path, extra=[("demo/bomb.so", b"\x7fELF" + bytes(30 << 20))])
    r = inspect(w, cache=False)
    assert "BN502" in codes(r)
    assert paths(r) == GOOD


def test_streaming_ratio_bomb_is_bn502(tmp_path: Path) -> None:
    """The compressed size lies (large), so the declared ratio looks harmless; inflating shows it is not."""
    payload = b"\x7fELF" + bytes(8 << 20)
    w = build.make_zip(
        tmp_path / "b-1.0-py3-none-any.whl", [("b/bomb.so", payload), ("pad.bin", random.Random(0).randbytes(1 << 20))]
    )
    data = w.read_bytes()
    patched = build.patch_central(data, "b/bomb.so", csize=600_000)
    w.write_bytes(patched)
    r = inspect(w, cache=False)
    assert "BN502" in codes(r)
    assert any("inflates more than" in d.message for d in r.diagnostics)


def test_absolute_size_limit_is_bn502(tmp_path: Path) -> None:
    src = FileSource(build.demo_wheel(tmp_path))
    with src:
        scan = scan_zip(src, subject="w", limits=Limits(max_member_bytes=16_000))
    assert {d.code for d in scan.diagnostics} == {"BN502"}
    assert {f.path for f in scan.elf} == {
        "demo/_native.cpython-311-x86_64-linux-gnu.so",
        "demo.libs/libalpha.so.1",
        "demo/bin/helper",
    }


@pytest.mark.parametrize("delta", [-3000, +3000])
def test_declared_size_lie_is_bn503(tmp_path: Path, delta: int) -> None:
    w = build.demo_wheel(tmp_path)
    data = w.read_bytes()
    w.write_bytes(build.patch_central(data, "demo/lib/libkern.so", usize=len(build.KERN) + delta))
    r = inspect(w, cache=False)
    assert "BN503" in codes(r)
    assert {"demo.libs/libalpha.so.1", "demo/bin/helper"} <= paths(r)


@pytest.mark.parametrize("name", ["/abs/evil.so", "../../evil.so", "demo/../../evil.so"])
def test_unsafe_member_path_is_bn504(tmp_path: Path, name: str) -> None:
    r = inspect(build.demo_wheel(tmp_path, extra=[(name, build.ALPHA)]), cache=False)
    assert codes(r).count("BN504") == 1
    assert paths(r) == GOOD


def test_non_elf_named_so_is_bn505(tmp_path: Path) -> None:
    w = build.demo_wheel(tmp_path, extra=[("demo/fake.so", b"INPUT(-lfoo)\n"), ("demo/tiny.so.1", b"ab")])
    r = inspect(w, cache=False)
    assert codes(r).count("BN505") == 2
    assert paths(r) == GOOD


def test_non_elf_without_so_name_is_silent(tmp_path: Path) -> None:
    r = inspect(build.demo_wheel(tmp_path, extra=[("demo/data.bin", b"\x00" * 100)]), cache=False)
    assert codes(r) == ["BN601"]


def test_duplicate_member_is_bn506(tmp_path: Path) -> None:
    r = inspect(build.demo_wheel(tmp_path, extra=[("demo/lib/libkern.so", build.ALPHA)]), cache=False)
    assert codes(r).count("BN506") == 1
    kern = next(f for f in r.elf if f.path == "demo/lib/libkern.so")
    assert kern.fatbin  # the first copy was read


def test_encrypted_member_is_bn507(tmp_path: Path) -> None:
    w = build.demo_wheel(tmp_path)
    w.write_bytes(build.patch_central(w.read_bytes(), "demo/lib/libkern.so", flags=0x1))
    r = inspect(w, cache=False)
    assert "BN507" in codes(r)
    assert paths(r) == GOOD - {"demo/lib/libkern.so"}


@pytest.mark.parametrize("at", [200, 3000])
def test_corrupt_deflate_data_is_bn508(tmp_path: Path, at: int) -> None:
    w = build.demo_wheel(tmp_path)
    data = bytearray(w.read_bytes())
    start = build.member_offset(bytes(data), "demo/lib/libkern.so")
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("demo/lib/libkern.so")
    body = start + 30 + len(info.filename.encode()) + len(info.extra)
    data[body + at : body + at + 1000] = b"\xff" * 1000
    w.write_bytes(bytes(data))
    r = inspect(w, cache=False)
    assert "BN508" in codes(r)
    assert {"demo.libs/libalpha.so.1", "demo/bin/helper"} <= paths(r)


def test_bad_local_header_and_unknown_method_are_bn508(tmp_path: Path) -> None:
    w = build.demo_wheel(tmp_path)
    data = w.read_bytes()
    cd_offset = int.from_bytes(data[data.rfind(b"PK\x05\x06") + 16 :][:4], "little")
    data = build.patch_central(data, "demo/lib/libkern.so", offset=cd_offset)  # no local header there
    data = build.patch_central(data, "demo/bin/helper", method=12)  # bzip2: not allowed in wheels
    w.write_bytes(data)
    r = inspect(w, cache=False)
    assert codes(r).count("BN508") >= 2
    assert "demo.libs/libalpha.so.1" in paths(r)


def test_overlapping_members_are_bn509(tmp_path: Path) -> None:
    w = build.demo_wheel(tmp_path)
    data = w.read_bytes()
    alpha_at = build.member_offset(data, "demo.libs/libalpha.so.1")
    w.write_bytes(build.patch_central(data, "demo/bin/helper", offset=alpha_at))
    r = inspect(w, cache=False)
    assert "BN509" in codes(r)
    assert "demo.libs/libalpha.so.1" in paths(r)


def test_member_stream_is_chunked_and_bounded(tmp_path: Path) -> None:
    blob = random.Random(1).randbytes(9 << 20)
    w = build.make_zip(tmp_path / "big-1.0-py3-none-any.whl", [("big.bin", blob)])
    with FileSource(w) as src:
        (m,), _ = list_zip_members(src, subject="w")
        sizes = [len(c) for c in member_chunks(src, m, data_offset(src, m), subject="w")]
    assert sum(sizes) == len(blob) and max(sizes) <= 4 << 20 and len(sizes) >= 3


def test_zip64_central_directory(tmp_path: Path) -> None:
    w = tmp_path / "z-1.0-py3-none-any.whl"
    with (
        zipfile.ZipFile(w, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("z/libalpha.so.1", "w", force_zip64=True) as fh,
    ):
        fh.write(build.ALPHA)
    r = inspect(w, cache=False)
    assert paths(r) == {"z/libalpha.so.1"} and not r.diagnostics


def test_helper_process_gives_the_same_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import envresolve.binary.wheel as wheel_mod

    w = build.demo_wheel(tmp_path)
    monkeypatch.setenv("ENVRESOLVE_INSPECT_PROCESSES", "0")
    threads = inspect(w, cache=False)
    monkeypatch.setenv("ENVRESOLVE_INSPECT_PROCESSES", "1")
    monkeypatch.setattr(wheel_mod, "_FORK_MIN_BYTES", 0)
    forks: list[int] = []
    real_fork = wheel_mod.os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(wheel_mod.os, "fork", counting_fork)
    forked = inspect(w, cache=False)
    assert len(forks) == 1
    assert forked == threads and forked.sha256 == threads.sha256


def test_a_failed_helper_process_is_redone_in_the_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import envresolve.binary.wheel as wheel_mod

    w = build.demo_wheel(tmp_path)
    expected = inspect(w, cache=False)
    monkeypatch.setattr(wheel_mod, "_FORK_MIN_BYTES", 0)
    monkeypatch.setattr(wheel_mod, "_use_processes", lambda c, s: True)

    def failing(job):  # type: ignore[no-untyped-def]
        def collect():  # type: ignore[no-untyped-def]
            raise RuntimeError("inspection helper process failed")

        collect.abandon = lambda: None  # type: ignore[attr-defined]
        return collect

    monkeypatch.setattr(wheel_mod, "_in_child", failing)
    assert inspect(w, cache=False) == expected


def test_oversized_central_directory_is_bn516(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import envresolve.binary.wheel as wheel_mod

    monkeypatch.setattr(wheel_mod, "MAX_MEMBERS", 5)
    r = inspect(build.demo_wheel(tmp_path), cache=False)
    assert [d.code for d in r.diagnostics] == ["BN516"] and "over the limit" in r.diagnostics[0].message
