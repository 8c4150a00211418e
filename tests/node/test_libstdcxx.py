from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from envresolve.node.libstdcxx import (
    highest_versions,
    parse_ld_so_cache,
    parse_ldconfig_p,
    version_definitions,
)


def _new_cache(entries: list[tuple[int, str, str]]) -> bytes:
    """A glibc-ld.so.cache1.1 image with the given (flags, key, value) entries."""
    header = 48
    strings = b""
    offsets = []
    base = header + 24 * len(entries)
    for _flags, key, value in entries:
        k = base + len(strings)
        strings += key.encode() + b"\0"
        v = base + len(strings)
        strings += value.encode() + b"\0"
        offsets.append((k, v))
    out = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI12x", len(entries), len(strings), 2, 0)
    assert len(out) == header
    for (flags, _k, _v), (k, v) in zip(entries, offsets, strict=True):
        out += struct.pack("<iIIIQ", flags, k, v, 0, 0)
    return out + strings


def test_new_format_cache_picks_arch_and_order() -> None:
    data = _new_cache(
        [
            (0x0003, "libstdc++.so.6", "/usr/lib32/libstdc++.so.6"),  # 32-bit: not ours
            (0x0303, "libstdc++.so.6", "/opt/first/libstdc++.so.6"),
            (0x0303, "libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6"),
            (0x0A03, "libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6"),
            (0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
        ]
    )
    assert parse_ld_so_cache(data, "libstdc++.so.6", "x86_64") == [
        "/opt/first/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
    ]
    assert parse_ld_so_cache(data, "libstdc++.so.6", "aarch64") == ["/lib/aarch64-linux-gnu/libstdc++.so.6"]


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"glibc-ld.so.cache1.1" + b"\xff" * 40, b"ld.so-1.7.0\0\xff\xff\xff\xff"]
)
def test_malformed_cache_gives_nothing(data: bytes) -> None:
    assert parse_ld_so_cache(data, "libstdc++.so.6", "x86_64") == []


def test_cache_parser_agrees_with_ldconfig_on_this_machine() -> None:
    cache = Path("/etc/ld.so.cache")
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if Path("/sbin/ldconfig").exists() else None)
    if not cache.exists() or ldconfig is None:
        pytest.skip("no loader cache here")
    text = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=True).stdout
    for soname in ("libc.so.6", "libstdc++.so.6", "libm.so.6"):
        assert parse_ld_so_cache(cache.read_bytes(), soname, "x86_64") == parse_ldconfig_p(text, soname, "x86_64")


def test_ldconfig_text() -> None:
    text = (
        "3 libs found in cache `/etc/ld.so.cache'\n"
        "\tlibstdc++.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libstdc++.so.6\n"
        "\tlibstdc++.so.6 (libc6) => /lib/i386-linux-gnu/libstdc++.so.6\n"
        "\tlibstdc++.so.6 (libc6,AArch64) => /lib/aarch64-linux-gnu/libstdc++.so.6\n"
    )
    assert parse_ldconfig_p(text, "libstdc++.so.6", "x86_64") == ["/lib/x86_64-linux-gnu/libstdc++.so.6"]
    assert parse_ldconfig_p(text, "libstdc++.so.6", "aarch64") == ["/lib/aarch64-linux-gnu/libstdc++.so.6"]


def test_highest_versions_compare_numerically_and_skip_non_versions() -> None:
    names = ["libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.9", "GLIBCXX_3.4.30", "GLIBCXX_3.4.4", "CXXABI_1.3.9",
             "CXXABI_1.3.13", "CXXABI_TM_1", "CXXABI_FLOAT128"]  # fmt: skip
    assert highest_versions(names) == ("3.4.30", "1.3.13")
    assert highest_versions(["libfoo.so.1"]) == (None, None)


def test_version_definitions_of_non_elf_and_missing(tmp_path: Path) -> None:
    bogus = tmp_path / "libstdc++.so.6"
    bogus.write_bytes(b"\x7fELF" + b"\0" * 10)
    with pytest.raises(ValueError, match="ELF"):
        version_definitions(bogus)
    with pytest.raises(FileNotFoundError):
        version_definitions(tmp_path / "missing.so")


def test_version_definitions_of_a_library_without_them(tmp_path: Path) -> None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler")
    src = tmp_path / "x.c"
    src.write_text("int f(void) { return 1; }\n")
    lib = tmp_path / "libx.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    with pytest.raises(ValueError, match="no version definitions"):
        version_definitions(lib)
