"""The symbol-lookup view of the ELF reader on mutated real objects: only ElfFormatError, never a hang or else."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.binary.elf import DynObject, ElfFormatError

pytestmark = pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")

SRC = (
    "#include <string.h>\n#include <stdio.h>\n"
    "int foo(const char* s){ puts(s); return (int)strlen(s); }\nint bar(void){return 2;}\n"
    "extern int baz(void) __attribute__((weak));\nint qux(void){ return baz ? baz() : 0; }\n"
)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    d = tmp_path_factory.mktemp("seed")
    (d / "s.c").write_text(SRC, encoding="utf-8")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(d / "s.so"), str(d / "s.c")], check=True)
    return (d / "s.so").read_bytes()


def _exercise(path: Path) -> None:
    try:
        with DynObject(path) as obj:
            obj.info()
            list(obj.undefined_symbols())
            obj.exports("foo")
            obj.exports("bar", "V1")
    except ElfFormatError:
        pass


def test_seed_has_every_table(seed: bytes, tmp_path: Path) -> None:
    path = tmp_path / "s.so"
    path.write_bytes(seed)
    with DynObject(path) as obj:
        info = obj.info()
        assert "libc.so.6" in info.version_needs and obj.exports("foo")
        assert {u.name: u.weak for u in obj.undefined_symbols()}["baz"] is True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutations_fail_cleanly(seed: bytes, tmp_path: Path, data: st.DataObject) -> None:
    blob = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 16))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    path = tmp_path / "m.so"
    path.write_bytes(bytes(blob))
    start = time.monotonic()
    _exercise(path)
    assert time.monotonic() - start < 10.0  # a hang, not a slow machine


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """libfoo.so and an extension module that needs it (RUNPATH $ORIGIN) and calls foo()."""
    d = tmp_path_factory.mktemp("pair")
    (d / "s.c").write_text(SRC, encoding="utf-8")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so", "-o", str(d / "libfoo.so"), str(d / "s.c")], check=True
    )
    (d / "m.c").write_text(
        'extern int foo(const char*);\nint PyInit__mod(void){ return foo("x"); }\n', encoding="utf-8"
    )
    mod = d / "_mod.cpython-311-x86_64-linux-gnu.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(mod), str(d / "m.c"), str(d / "libfoo.so"), "-Wl,--enable-new-dtags",
         "-Wl,-rpath,$ORIGIN"],
        check=True,
    )  # fmt: skip
    return {"libfoo.so": (d / "libfoo.so").read_bytes(), mod.name: mod.read_bytes()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_prefix_of_mutated_objects_is_checked_without_crashing(
    pair: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Mutated libraries, one of them an extension module that needs another: findings, never an exception."""
    from envresolve.preflight.api import check_prefix
    from tests.check.conftest import bookworm

    env = tmp_path_factory.mktemp("hostile")
    (env / "conda-meta").mkdir()
    site = env / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    for name, original in pair.items():
        blob = bytearray(original)
        for _ in range(data.draw(st.integers(0, 12))):
            pos = data.draw(st.integers(0, len(blob) - 1))
            blob[pos] = data.draw(st.integers(0, 255))
        (site / name).write_bytes(bytes(blob))
    report = check_prefix(env, [bookworm()], rules=lambda e, n: [])
    assert report.summary.nodes == 1
