"""Installed prefixes: the walk never follows links, reports unreadable files, and scales."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from envresolve.binary import inspect
from envresolve.binary import prefix as prefix_mod
from envresolve.binary.prefix import walk_prefix
from tests.fixtures.archives import build


def make_prefix(root: Path) -> Path:
    lib = root / "lib"
    sp = lib / "python3.11" / "site-packages" / "demo"
    sp.mkdir(parents=True)
    (lib / "libalpha.so.1.0").write_bytes(build.ALPHA)
    os.symlink("libalpha.so.1.0", lib / "libalpha.so.1")  # inside: provides the name
    (sp / "_native.cpython-311-x86_64-linux-gnu.so").write_bytes(build.BETA)
    (sp / "__init__.py").write_text("")
    (sp / "notes.so").write_text("not elf")
    (root / "bin").mkdir()
    os.symlink("/usr/bin/env", root / "bin" / "python")  # leaves the prefix, like a venv's interpreter
    os.symlink(str(root / "lib"), sp / "loop")  # a directory link: not descended
    return root


def codes(r) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.code for d in r.diagnostics]


def test_prefix_report(tmp_path: Path) -> None:
    r = inspect(make_prefix(tmp_path / "env"), cache=False)
    assert r.kind == "directory"
    assert {f.path for f in r.elf} == {
        "lib/libalpha.so.1.0",
        "lib/python3.11/site-packages/demo/_native.cpython-311-x86_64-linux-gnu.so",
    }
    assert "libalpha.so.1" not in r.external_libs  # provided by the in-prefix symlink
    assert "libgamma.so.3" in r.external_libs
    assert sorted(codes(r)) == ["BN505", "BN511"]
    outside = next(d for d in r.diagnostics if d.code == "BN511")
    assert outside.severity.value == "info"
    assert r.files == 4 and r.max_glibc == "2.34"


def test_walk_never_follows_links(tmp_path: Path) -> None:
    root = make_prefix(tmp_path / "env")
    entries = list(walk_prefix(str(root)))
    assert not any("loop/" in e.rel for e in entries)
    links = {e.rel: e.inside for e in entries if e.kind == "link"}
    assert links == {"bin/python": False, "lib/libalpha.so.1": True, "lib/python3.11/site-packages/demo/loop": True}


def test_unreadable_file_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_prefix(tmp_path / "env")
    real_open = os.open

    def fake_open(path, flags, *args):  # type: ignore[no-untyped-def]
        if str(path).endswith("libalpha.so.1.0"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(prefix_mod.os, "open", fake_open)
    r = inspect(root, cache=False)
    assert "BN514" in codes(r)
    assert len(r.elf) == 1


def test_unreadable_directory_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_prefix(tmp_path / "env")
    real = os.scandir

    def fake_scandir(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("site-packages"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(prefix_mod.os, "scandir", fake_scandir)
    r = inspect(root, cache=False)
    assert "BN514" in codes(r)
    assert [f.path for f in r.elf] == ["lib/libalpha.so.1.0"]


def test_files_are_opened_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_prefix(tmp_path / "env")
    flags_seen: list[int] = []
    real_open = os.open

    def spy(path, flags, *args):  # type: ignore[no-untyped-def]
        flags_seen.append(flags)
        return real_open(path, flags, *args)

    monkeypatch.setattr(prefix_mod.os, "open", spy)
    inspect(root, cache=False)
    assert flags_seen and all(f & (os.O_WRONLY | os.O_RDWR) == 0 and f & os.O_NOFOLLOW for f in flags_seen)


@pytest.mark.slow
def test_hundred_thousand_files_bounded_memory(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for d in range(100):
        sub = root / "lib" / f"d{d:03}"
        sub.mkdir(parents=True)
        for f in range(1000):
            os.close(os.open(sub / f"m{f}.py", os.O_CREAT | os.O_WRONLY, 0o644))
    (root / "lib" / "libalpha.so.1").write_bytes(build.ALPHA)
    started = time.perf_counter()
    tracemalloc.start()
    r = inspect(root, cache=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r.files == 100_001 and [f.path for f in r.elf] == ["lib/libalpha.so.1"]
    assert peak < 16 << 20, peak  # nothing is kept per file (only library names and ELF facts)
    assert time.perf_counter() - started < 60
