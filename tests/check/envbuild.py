"""Build real environments for the check tests: shared libraries and extension modules compiled with gcc/g++,
packed into real wheels, installed by pip into a real venv (offline, `--no-index`).

The `envtiny` wheel plants, next to a module that works:
- `_bad`: built against libtiny 2 (calls `tiny::v2_only()`), shipped with libtiny 1 -> undefined C++ symbol;
- `libnewcxx.so`: uses `std::__cxx11::basic_string` (GLIBCXX_3.4.21), above a CentOS 7 node's 3.4.19;
- `_missing`: needs `libnothere.so.3`, which nothing ships.
Run it as a script to build one by hand: `python tests/check/envbuild.py OUTDIR`.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

__all__ = ["build_conda_like_prefix", "build_venv", "build_wheel", "have_compilers"]

TINY_V1 = "namespace tiny { int answer() { return 42; } }\n"
TINY_V2 = "namespace tiny { int answer() { return 42; } int v2_only() { return 2; } }\n"
TINY_H = "namespace tiny { int answer(); int v2_only(); }\n"

EXT = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "tiny.h"
static PyObject* call(PyObject* self, PyObject* args) {{ return PyLong_FromLong({call}); }}
static PyMethodDef methods[] = {{{{"call", call, METH_NOARGS, ""}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef mod = {{PyModuleDef_HEAD_INIT, "{name}", NULL, -1, methods}};
extern "C" PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&mod); }}
"""

NEWCXX = """\
#include <string>
#include <stdexcept>
extern "C" int newcxx_len(const char* s) {
    std::string v(s);
    if (v.empty()) throw std::runtime_error(v);
    return v.size();
}
"""

EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def have_compilers() -> bool:
    """True when gcc and g++ are on PATH and Python headers are installed."""
    include = Path(sysconfig.get_paths()["include"], "Python.h")
    return bool(shutil.which("gcc") and shutil.which("g++")) and include.is_file()


def _cc(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)


def _so(work: Path, src: str, out: str, *extra: str, cxx: bool = True) -> Path:
    name = out.replace("/", "_")
    (work / f"{name}.cpp").write_text(src, encoding="utf-8")
    target = work / out
    target.parent.mkdir(parents=True, exist_ok=True)
    _cc(["g++" if cxx else "gcc", "-shared", "-fPIC", "-O1", "-o", str(target), f"{name}.cpp", *extra], work)
    return target


def build_libraries(work: Path) -> dict[str, Path]:
    """Compile libtiny 1 and 2 (same soname), libnothere, libnewcxx and the extension modules."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "tiny.h").write_text(TINY_H, encoding="utf-8")
    include = sysconfig.get_paths()["include"]
    v1 = _so(work, TINY_V1, "v1/libtiny.so.1", "-Wl,-soname,libtiny.so.1")
    v2 = _so(work, TINY_V2, "v2/libtiny.so.1", "-Wl,-soname,libtiny.so.1")
    nothere = _so(
        work, 'extern "C" int nothere(void) { return 3; }\n', "nt/libnothere.so.3", "-Wl,-soname,libnothere.so.3"
    )
    newcxx = _so(work, NEWCXX, "libnewcxx.so", "-Wl,-soname,libnewcxx.so")
    rpath = "-Wl,-rpath,$ORIGIN/../envtiny.libs"
    built = {"libtiny1": v1, "libtiny2": v2, "libnothere": nothere, "libnewcxx": newcxx}
    for name, call, libdir, lib in (
        ("_good", "tiny::answer()", "v1", "tiny"),
        ("_bad", "tiny::v2_only()", "v2", "tiny"),
        ("_missing", "tiny::answer()", "v1", "tiny"),
    ):
        extra = ["-I" + include, "-I" + str(work), "-Wl,--no-as-needed", "-Wl,--enable-new-dtags", rpath]
        extra.append(str(work / libdir / f"lib{lib}.so.1"))
        if name == "_missing":
            extra.append(str(nothere))
            src = (
                EXT.format(name=name, call=call)
                + 'extern "C" int nothere(void);\nint keep(void) { return nothere(); }\n'
            )
        else:
            src = EXT.format(name=name, call=call)
        built[name] = _so(work, src, f"ext/{name}{EXT_SUFFIX}", *extra)
    return built


def build_wheel(out_dir: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A real wheel (PEP 427): the files, METADATA, WHEEL and a RECORD with sha256 hashes."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheel = out_dir / f"{name}-{version}-{tag}-{tag}-linux_x86_64.whl"
    dist = f"{name}-{version}.dist-info"
    members = dict(files)
    members[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    members[f"{dist}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: envresolve-tests\nRoot-Is-Purelib: false\nTag: {tag}-{tag}-linux_x86_64\n"
    ).encode()
    record = []
    for path, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    members[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in members.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = 0o755 << 16 if path.endswith(".so") or ".so." in path else 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return wheel


def tiny_wheels(work: Path) -> tuple[Path, Path]:
    """(`envtiny` with the planted problems, `envgood` with only working parts)."""
    libs = build_libraries(work / "build")
    init = b"from . import _good\n"
    bad = {
        "envtiny/__init__.py": b"",
        f"envtiny/_good{EXT_SUFFIX}": libs["_good"].read_bytes(),
        f"envtiny/_bad{EXT_SUFFIX}": libs["_bad"].read_bytes(),
        f"envtiny/_missing{EXT_SUFFIX}": libs["_missing"].read_bytes(),
        "envtiny.libs/libtiny.so.1": libs["libtiny1"].read_bytes(),
        "envtiny.libs/libnewcxx.so": libs["libnewcxx"].read_bytes(),
    }
    good = {
        "envtiny/__init__.py": init,
        f"envtiny/_good{EXT_SUFFIX}": libs["_good"].read_bytes(),
        "envtiny.libs/libtiny.so.1": libs["libtiny1"].read_bytes(),
    }
    return (
        build_wheel(work / "wheels-bad", "envtiny", "1.0", bad),
        build_wheel(work / "wheels-good", "envtiny", "1.0", good),
    )


def build_venv(dest: Path, wheel: Path) -> Path:
    """`python -m venv` plus `pip install --no-index --no-deps WHEEL` (pip runs from this interpreter)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True, capture_output=True)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(dest / "bin" / "python"), "install", "--no-index",
            "--no-deps", "--disable-pip-version-check", "--no-cache-dir", "-q", str(wheel),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return dest


def build_conda_like_prefix(dest: Path, work: Path) -> Path:
    """A conda-style prefix: conda-meta records, its own libstdc++ copy in lib/, and two objects that resolve
    libstdc++ differently (one by RUNPATH to lib/, one with no RUNPATH, so the node's copy)."""
    import json

    lib = dest / "lib"
    sp = dest / "lib" / "python3.11" / "site-packages" / "pkgb"
    lib.mkdir(parents=True)
    sp.mkdir(parents=True)
    (dest / "conda-meta").mkdir()
    system = subprocess.run(["g++", "-print-file-name=libstdc++.so.6"], capture_output=True, text=True, check=True)
    shutil.copyfile(Path(system.stdout.strip()).resolve(), lib / "libstdc++.so.6")
    src = work / "conda-src"
    src.mkdir(parents=True, exist_ok=True)
    _so(src, NEWCXX, "liba.so", "-Wl,-soname,liba.so", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN")
    shutil.copyfile(src / "liba.so", lib / "liba.so")
    _so(src, NEWCXX.replace("newcxx_len", "b_len"), "libb.so", "-Wl,-soname,libb.so")
    shutil.copyfile(src / "libb.so", sp / "libb.so")
    for name, version, files in (
        ("libstdcxx-ng", "12.2.0", ["lib/libstdc++.so.6"]),
        ("liba", "1.0", ["lib/liba.so"]),
        ("pkgb", "2.0", ["lib/python3.11/site-packages/pkgb/libb.so"]),
    ):
        record = {"name": name, "version": version, "build": "h0_0", "channel": "local", "subdir": "linux-64",
                  "depends": [], "files": files}  # fmt: skip
        (dest / "conda-meta" / f"{name}-{version}-h0_0.json").write_text(json.dumps(record), encoding="utf-8")
    return dest


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "envbuild-out").resolve()
    bad_whl, good_whl = tiny_wheels(out)
    build_venv(out / "venv-bad", bad_whl)
    build_venv(out / "venv-good", good_whl)
    build_conda_like_prefix(out / "conda-prefix", out)
    print(out)
