"""A lock and its exports are one output set: concurrent runs on the same `-o` never leave files of different runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from envresolve.lock import read
from envresolve.lock.export import EXPORT_FILE_NAMES, export
from envresolve.lock.model import Lock
from envresolve.lock.outputs import SET_MARK, mixed_exports, publish
from envresolve.orchestrate import Resolution
from tests.conftest import REPO
from tests.fixtures.index.server import ROOT as INDEX


@pytest.fixture(scope="module")
def lock(two_gpu_resolution: Resolution) -> Lock:
    assert two_gpu_resolution.lock is not None
    return two_gpu_resolution.lock


def _rendered(lock: Lock, formats: list[str]) -> list[tuple[str, bytes]]:
    out = []
    for fmt in formats:
        data, _ = export(lock, fmt)
        out.append((EXPORT_FILE_NAMES[fmt], data.encode() if isinstance(data, str) else data))
    return out


def test_every_export_names_the_set_and_still_reads_back(lock: Lock, tmp_path: Path) -> None:
    from rattler import LockFile

    formats = ["pylock", "pixi", "explicit", "requirements"]
    written = publish(lock, tmp_path / "envresolve.lock", _rendered(lock, formats))
    assert written[-1].endswith("envresolve.lock")  # the lock is published last: it commits the set
    back = read(tmp_path / "envresolve.lock")
    assert back.output_set is not None and back.output_set.files == tuple(sorted(EXPORT_FILE_NAMES[f] for f in formats))
    for fmt in formats:
        first = (tmp_path / EXPORT_FILE_NAMES[fmt]).read_bytes().split(b"\n", 1)[0].decode()
        assert first == f"{SET_MARK}{back.output_set.id}"
    assert mixed_exports(back, tmp_path / "envresolve.lock") == []
    pixi = LockFile.from_path(tmp_path / "pixi.lock")  # the mark is a comment to every reader
    assert pixi.default_environment() is not None
    from rattler.explicit_environment import ExplicitEnvironmentSpec

    explicit = ExplicitEnvironmentSpec.from_str((tmp_path / "conda-explicit.txt").read_text())
    assert len(explicit.packages) == len(lock.conda)
    import tomllib
    from packaging.pylock import Pylock

    Pylock.from_dict(tomllib.loads((tmp_path / "pylock.toml").read_text())).validate()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*(EXPORT_FILE_NAMES[f] for f in formats), "envresolve.lock"]
    )


def test_same_content_same_bytes_and_stale_exports_of_a_set_go(lock: Lock, tmp_path: Path) -> None:
    target = tmp_path / "envresolve.lock"
    publish(lock, target, _rendered(lock, ["pylock", "requirements"]))
    first = target.read_bytes()
    publish(lock, target, _rendered(lock, ["pylock", "requirements"]))
    assert target.read_bytes() == first  # the set id is a digest of the content: no timestamps, no randomness
    (tmp_path / "pixi.lock").write_text("mine\n")  # a user's file that no set wrote
    publish(lock, target, _rendered(lock, ["pylock"]))
    assert not (tmp_path / "requirements.lock.txt").exists()  # the earlier set's export is not left beside it
    assert (tmp_path / "pixi.lock").read_text() == "mine\n"
    assert mixed_exports(read(target), target) == []


def test_a_foreign_export_is_lk108(lock: Lock, tmp_path: Path) -> None:
    target = tmp_path / "envresolve.lock"
    publish(lock, target, _rendered(lock, ["pylock"]))
    (tmp_path / "pylock.toml").write_text(f"{SET_MARK}0000000000000000\n")
    diags = mixed_exports(read(target), target)
    assert [d.code for d in diags] == ["LK108"]


def test_concurrent_publishers_leave_one_whole_set(lock: Lock, tmp_path: Path) -> None:
    target = tmp_path / "envresolve.lock"
    variants = [lock.model_copy(update={"pip": lock.pip[i:]}) for i in range(4)]

    def work(variant: Lock) -> None:
        for _ in range(5):
            publish(variant, target, _rendered(variant, ["pylock", "requirements"]))

    threads = [threading.Thread(target=work, args=(v,)) for v in variants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = read(target)
    assert mixed_exports(final, target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["envresolve.lock", "pylock.toml", "requirements.lock.txt"]


def test_four_concurrent_lock_commands_on_the_same_output(tmp_path: Path) -> None:
    """The issue's case: 4 `envresolve lock -o same` processes at once; the result is one run's set."""
    out = tmp_path / "out" / "envresolve.lock"
    out.parent.mkdir()
    env = {**os.environ, "ENVRESOLVE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO / "src")}
    procs = []
    for i, req in enumerate(["alpha==1.0", "alpha==2.0", "beta==1.0", "beta==1.1"]):
        spec = tmp_path / f"spec{i}.txt"
        spec.write_text(req + "\n")
        argv = [sys.executable, "-m", "envresolve", "lock", str(spec), "--python", "3.11", "--node", "a100-driver535"]
        argv += ["--index-url", str(INDEX / "simple"), "-o", str(out), "--export", "pylock,requirements"]
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        _o, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    final = read(out)
    assert mixed_exports(final, out) == []
    names = {q.name: q.version for q in final.pip}
    pylock = (out.parent / "pylock.toml").read_text()
    reqs = (out.parent / "requirements.lock.txt").read_text()
    for name, version in names.items():
        assert f'name = "{name}"' in pylock and f"{name}=={version}" in reqs
    assert sorted(p.name for p in out.parent.iterdir()) == ["envresolve.lock", "pylock.toml", "requirements.lock.txt"]


def test_check_reports_a_mixed_set(lock: Lock, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from envresolve.cli import main

    target = tmp_path / "envresolve.lock"
    publish(lock, target, _rendered(lock, ["pylock"]))
    capsys.readouterr()
    main(["check", str(target), "--node", "a100-driver535", "--format", "json"])
    assert "LK108" not in capsys.readouterr().out
    (tmp_path / "pylock.toml").write_text(f"{SET_MARK}0000000000000000\n")
    main(["check", str(target), "--node", "a100-driver535", "--format", "json"])
    assert "LK108" in capsys.readouterr().out


def test_a_set_that_cannot_be_written_leaves_nothing(lock: Lock, tmp_path: Path) -> None:
    from envresolve.errors import InputError

    (tmp_path / "envresolve.lock").mkdir()
    with pytest.raises(InputError) as exc:
        publish(lock, tmp_path / "envresolve.lock", _rendered(lock, ["pylock", "requirements"]))
    assert exc.value.code == "GN105"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["envresolve.lock"]


def test_a_failure_part_way_puts_the_earlier_set_back(
    lock: Lock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envresolve.errors import InputError

    target = tmp_path / "envresolve.lock"
    publish(lock, target, _rendered(lock, ["pylock", "pixi"]))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_replace = os.replace

    def failing(src: object, dst: object) -> None:
        if str(dst) == str(target):  # the lock, renamed last, fails after every export is in place
            raise OSError(28, "No space left on device")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", failing)
    changed = lock.model_copy(update={"created_by": "envresolve another-run"})
    with pytest.raises(InputError):
        publish(changed, target, _rendered(changed, ["pylock", "requirements"]))
    monkeypatch.setattr(os, "replace", real_replace)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
