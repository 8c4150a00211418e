"""The loader emulation and the symbol reader, on small libraries compiled here with gcc."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from envresolve.binary.elf import DynObject, ElfFormatError, read_dyninfo
from envresolve.diagnostics import Diagnostic
from envresolve.preflight.api import check_prefix
from envresolve.preflight.loader import Loader, LoaderConfig, RecordedSystem, live_system
from tests.check.conftest import bookworm, centos7

pytestmark = pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")


def no_rules(env: object, node: object) -> list[Diagnostic]:
    return []


def cc(out: Path, src: str, *args: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    c = out.with_name(out.name.replace(".", "_") + ".c")
    c.write_text(src, encoding="utf-8")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(c), *args], check=True, capture_output=True)
    c.unlink()
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conda-style prefix with libraries that exercise every step of the search."""
    root = tmp_path_factory.mktemp("loader") / "env"
    (root / "conda-meta").mkdir(parents=True)
    lib = root / "lib"
    # two different libdep.so.1: one in lib/a, one in lib/b
    cc(lib / "a" / "libdep.so.1", "int dep_a(void){return 1;}\n", "-Wl,-soname,libdep.so.1")
    cc(lib / "b" / "libdep.so.1", "int dep_b(void){return 2;}\n", "-Wl,-soname,libdep.so.1")
    # a version script: foo@FOO_1 (hidden, old) and foo@@FOO_2 (default), bar only at FOO_1
    vs = root.parent / "vers.map"
    vs.write_text("FOO_1 { global: bar; foo; local: *; };\nFOO_2 { global: foo; } FOO_1;\n", encoding="utf-8")
    cc(
        lib / "libver.so.1",
        "int foo_old(void){return 1;}\nint foo_new(void){return 2;}\nint bar(void){return 3;}\n"
        '__asm__(".symver foo_old,foo@FOO_1");\n__asm__(".symver foo_new,foo@@FOO_2");\n',
        "-Wl,-soname,libver.so.1",
        f"-Wl,--version-script={vs}",
    )
    cc(lib / "libsysv.so", "int sysv_sym(void){return 4;}\n", "-Wl,--hash-style=sysv", "-Wl,-soname,libsysv.so")
    dep_a = str(lib / "a" / "libdep.so.1")
    # RPATH (old tag) to lib/a; RUNPATH (new tag) to lib/b; $ORIGIN spelled both ways
    cc(lib / "rpath.so", "int r(void){return 0;}\n", "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/a", dep_a)
    cc(lib / "runpath.so", "int u(void){return 0;}\n", "-Wl,--enable-new-dtags", "-Wl,-rpath,${ORIGIN}/b", dep_a)
    # absolute RPATH to where the environment is installed at run time
    cc(lib / "abs.so", "int x(void){return 0;}\n", "-Wl,--disable-new-dtags", "-Wl,-rpath,/opt/envs/demo/lib/a", dep_a)
    return root


def test_rpath_runpath_and_ld_library_path_order(tree: Path) -> None:
    lib = tree / "lib"
    loader = Loader(tree, RecordedSystem(bookworm()))
    rpath = read_dyninfo(lib / "rpath.so")
    assert rpath.rpath == ("$ORIGIN/a",) and rpath.runpath == ()
    assert loader.resolve("libdep.so.1", rpath).path == str(lib / "a" / "libdep.so.1")
    runpath = read_dyninfo(lib / "runpath.so")
    assert loader.resolve("libdep.so.1", runpath).path == str(lib / "b" / "libdep.so.1")
    # LD_LIBRARY_PATH comes after DT_RPATH, before DT_RUNPATH
    env_b = Loader(tree, RecordedSystem(bookworm()), LoaderConfig(ld_library_path=(str(lib / "b"),)))
    assert env_b.resolve("libdep.so.1", rpath).how == "rpath"
    env_a = Loader(tree, RecordedSystem(bookworm()), LoaderConfig(ld_library_path=(str(lib / "a"),)))
    r = env_a.resolve("libdep.so.1", runpath)
    assert r.how == "ld-library-path" and r.path == str(lib / "a" / "libdep.so.1")
    # DT_RPATH of the loading object applies to a dependency without DT_RUNPATH, not to one with it
    dep = read_dyninfo(lib / "a" / "libdep.so.1")
    assert loader.resolve("libver.so.1", dep, (rpath,)).found is False
    via_chain = Loader(tree, RecordedSystem(bookworm())).resolve("libdep.so.1", dep, (rpath,))
    assert via_chain.how == "rpath"
    assert Loader(tree, RecordedSystem(bookworm())).resolve("libdep.so.1", dep, (runpath,)).found is False


def test_env_lib_dir_and_install_path(tree: Path) -> None:
    lib = tree / "lib"
    dep = read_dyninfo(lib / "a" / "libdep.so.1")
    assert Loader(tree, RecordedSystem(bookworm())).resolve("libver.so.1", dep).found is False
    on_path = Loader(tree, RecordedSystem(bookworm()), LoaderConfig(env_lib_on_path=True))
    assert on_path.resolve("libver.so.1", dep).how == "env-lib"
    absolute = read_dyninfo(lib / "abs.so")
    assert Loader(tree, RecordedSystem(bookworm())).resolve("libdep.so.1", absolute).found is False
    mapped = Loader(tree, RecordedSystem(bookworm()), LoaderConfig(install_path="/opt/envs/demo"))
    assert mapped.resolve("libdep.so.1", absolute).path == str(lib / "a" / "libdep.so.1")


def test_expansion_of_lib_and_platform(tree: Path) -> None:
    loader = Loader(tree, RecordedSystem(centos7()), LoaderConfig(platform="x86_64"))
    assert loader.expand("$ORIGIN/../$LIB/${PLATFORM}", "/e/lib") == "/e/lib64/x86_64"
    debian = Loader(tree, RecordedSystem(bookworm()))
    assert debian.expand("/x/$LIB", "/o") == "/x/lib/x86_64-linux-gnu"


def test_system_libraries_recorded_and_live(tree: Path) -> None:
    rec = RecordedSystem(centos7())
    assert rec.find("libc.so.6", 64, "x86_64") is not None
    assert rec.find("libstdc++.so.6", 64, "x86_64") is not None
    assert rec.find("libcuda.so.1", 64, "x86_64") is None  # no driver in the facts
    live = live_system()
    libc = live.find("libc.so.6", 64, "x86_64")
    assert libc is not None and libc.path and Path(libc.path).is_file() and libc.how == "ld.so.cache"
    assert live.find("libdefinitely-not-here.so.9", 64, "x86_64") is None
    # a candidate of the wrong machine is skipped, as the loader skips it
    assert live.find("libc.so.6", 64, "aarch64") is None


def test_versioned_and_hidden_exports(tree: Path) -> None:
    with DynObject(tree / "lib" / "libver.so.1") as obj:
        assert obj.info().version_defs == ("FOO_1", "FOO_2")
        assert obj.exports("foo", "FOO_2") and obj.exports("foo", "FOO_1")
        assert obj.exports("foo")  # the default version
        assert obj.exports("bar", "FOO_1") and not obj.exports("bar", "FOO_2")
        assert not obj.exports("foo", "FOO_3") and not obj.exports("foo_old") and not obj.exports("nope")
    with DynObject(tree / "lib" / "libsysv.so") as obj:  # only a SysV .hash table
        assert obj.exports("sysv_sym") and not obj.exports("sysv_other")


def test_weak_and_versioned_undefined_symbols(tree: Path, tmp_path: Path) -> None:
    vs = cc(
        tmp_path / "weak.so",
        "extern int foo(void); extern int maybe(void) __attribute__((weak));\n"
        "int use(void){ return foo() + (maybe ? maybe() : 0); }\n",
        str(tree / "lib" / "libver.so.1"),
    )
    with DynObject(vs) as obj:
        und = {u.name: u for u in obj.undefined_symbols()}
    assert und["maybe"].weak and und["maybe"].version is None
    assert und["foo"].version == "FOO_2" and und["foo"].file == "libver.so.1" and not und["foo"].weak


def test_malformed_inputs(tmp_path: Path) -> None:
    (tmp_path / "short.so").write_bytes(b"\x7fELF\x02\x01")
    (tmp_path / "text.so").write_text("INPUT(-lc)\n", encoding="utf-8")
    (tmp_path / "empty.so").write_bytes(b"")
    for name, msg in (("short.so", "shorter"), ("text.so", "not an ELF"), ("empty.so", "not an ELF")):
        with pytest.raises(ElfFormatError, match=msg):
            read_dyninfo(tmp_path / name)
    bad = bytearray(
        Path(subprocess.check_output(["gcc", "-print-file-name=libgcc_s.so.1"], text=True).strip()).read_bytes()
    )
    bad[0x28:0x30] = (len(bad) + 10).to_bytes(8, "little")  # e_shoff beyond the end
    (tmp_path / "badsh.so").write_bytes(bytes(bad))
    with pytest.raises(ElfFormatError, match="beyond end"):
        read_dyninfo(tmp_path / "badsh.so")


def test_symbol_version_missing_is_ck103_once(tree: Path, tmp_path: Path) -> None:
    """An object needing foo@FOO_2 next to a libver.so.1 that only defines FOO_1: one CK103, no CK102."""
    env = tmp_path / "env"
    (env / "conda-meta").mkdir(parents=True)
    vs = tmp_path / "old.map"
    vs.write_text("FOO_1 { global: foo; local: *; };\n", encoding="utf-8")
    cc(
        env / "lib" / "libver.so.1",
        "int foo(void){return 1;}\n",
        "-Wl,-soname,libver.so.1",
        f"-Wl,--version-script={vs}",
    )
    cc(
        env / "lib" / "user.so",
        "extern int foo(void); int use(void){return foo();}\n",
        "-Wl,--enable-new-dtags",
        "-Wl,-rpath,$ORIGIN",
        str(tree / "lib" / "libver.so.1"),
    )
    report = check_prefix(env, [bookworm()], rules=no_rules)
    codes = [(d.code, d.location.file if d.location else None) for d in report.all_diagnostics()]
    assert codes == [("CK103", "lib/user.so")]
    assert "FOO_2" in report.all_diagnostics()[0].message


def test_conda_python_rpath_reaches_extension_modules(tmp_path: Path) -> None:
    """A conda prefix: bin/python3.11 (a PIE with DT_RPATH $ORIGIN/../lib) dlopens lib-dynload modules that have no
    RPATH of their own; their libraries in lib/ are found through the executable's DT_RPATH, as ld.so does."""
    env = tmp_path / "env"
    (env / "conda-meta").mkdir(parents=True)
    cc(env / "lib" / "libfoo.so.1", "int foo(void){return 1;}\n", "-Wl,-soname,libfoo.so.1")
    mod = env / "lib" / "python3.11" / "lib-dynload" / "_mod.cpython-311-x86_64-linux-gnu.so"
    cc(mod, "extern int foo(void); int PyInit__mod(void){return foo();}\n", str(env / "lib" / "libfoo.so.1"))
    (env / "bin").mkdir()
    main_c = tmp_path / "main.c"
    main_c.write_text("int main(void){return 0;}\n", encoding="utf-8")
    subprocess.run(
        ["gcc", "-fPIE", "-pie", "-o", str(env / "bin" / "python3.11"), str(main_c), "-Wl,--disable-new-dtags",
         "-Wl,-rpath,$ORIGIN/../lib"],
        check=True,
    )  # fmt: skip
    assert check_prefix(env, [bookworm()], rules=no_rules).ok
    (env / "bin" / "python3.11").unlink()
    report = check_prefix(env, [bookworm()], rules=no_rules)
    assert [(d.code, d.location.file if d.location else "") for d in report.all_diagnostics()] == [
        ("CK101", "lib/python3.11/lib-dynload/_mod.cpython-311-x86_64-linux-gnu.so")
    ]
    hint = report.all_diagnostics()[0].hint or ""
    assert "the environment has it at lib/libfoo.so.1" in hint and "LD_LIBRARY_PATH" in hint
