"""The report cache: content addressed, stat index, corrupt entries ignored, concurrent writers."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from envresolve.binary import inspect
from envresolve.binary import wheel as wheel_mod
from envresolve.binary.cache import ReportCache, cache_dir, sha256_file
from tests.fixtures.archives import build


def test_cache_dir_conventions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("ENVRESOLVE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "envresolve"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "envresolve"


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = wheel_mod.scan_zip

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(k.get("subject", ""))
        return real(*a, **k)

    monkeypatch.setattr(wheel_mod, "scan_zip", spy)
    return calls


def test_second_inspection_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    w = build.demo_wheel(tmp_path)
    calls = count_reads(monkeypatch)
    first = inspect(w)
    started = time.perf_counter()
    second = inspect(w)
    elapsed = time.perf_counter() - started
    assert len(calls) == 1
    assert first == second and first.sha256 == sha256_file(w)
    assert elapsed < 0.5  # generous for CI; the benchmark measures the real figure
    # symbols=True is another entry
    inspect(w, symbols=True)
    assert len(calls) == 2


def test_same_content_elsewhere_hits_by_sha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    w = build.demo_wheel(tmp_path)
    inspect(w)
    copy = tmp_path / "copy" / w.name
    copy.parent.mkdir()
    shutil.copy(w, copy)
    calls = count_reads(monkeypatch)
    r = inspect(copy)
    assert r.artifact == str(copy)
    assert len(calls) <= 1  # the read may start before the hash finishes; the result comes from the cache
    assert r.sha256 == sha256_file(w)


def test_changed_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    w = build.demo_wheel(tmp_path)
    before = inspect(w)
    build.demo_wheel(tmp_path, extra=[("demo/extra.so", build.KERN)])
    os.utime(w, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    after = inspect(w)
    assert before.sha256 != after.sha256 and len(after.elf) == len(before.elf) + 1


def test_corrupt_entries_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(root))
    w = build.demo_wheel(tmp_path)
    good = inspect(w)
    for f in root.rglob("*.json"):
        f.write_bytes(b"{not json")
    calls = count_reads(monkeypatch)
    assert inspect(w) == good
    assert len(calls) == 1
    assert inspect(w) == good and len(calls) == 1  # rewritten


def test_unwritable_cache_is_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(blocker / "cache"))  # a file in the way: mkdir fails
    assert inspect(build.demo_wheel(tmp_path)).kind == "wheel"


def test_concurrent_writers(tmp_path: Path) -> None:
    store = ReportCache(tmp_path / "cache")
    report = inspect(build.demo_wheel(tmp_path), cache=False)
    key = "ab" * 32
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                store.put(key, report.model_copy(update={"files": n * 100 + i}), symbols=False)
                got = store.get(key, symbols=False)
                assert got is not None  # never a torn entry
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not [p for p in (tmp_path / "cache").rglob("*.tmp")]


def test_no_cache_flag_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    inspect(build.demo_wheel(tmp_path), cache=False)
    assert not (tmp_path / "cache").exists()
