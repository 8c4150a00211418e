"""No false alarms on real extension modules: symbols bound through the global scope and moved symbol versions.

Two ways real modules find their symbols that a per-library view misses:
- the global scope: CPython has loaded libc and libm before any extension, so a module may call `sin` without a
  DT_NEEDED on libm (mypyc-compiled modules do);
- moved versions: a wheel built on an old glibc needs `close@GLIBC_2.2.5` "from libpthread.so.0"; since glibc 2.34
  libc.so.6 defines it and libpthread.so.0 is an empty stub, and the loader binds the symbol wherever the version
  is defined.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pydantic_core
import pytest

from envresolve.diagnostics import Severity
from envresolve.preflight.api import check_prefix
from envresolve.preflight.loader import live_system
from tests.check import envbuild
from tests.check.conftest import bookworm

MATH_EXT = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
static PyObject* f(PyObject* self, PyObject* arg) { return PyFloat_FromDouble(sin(PyFloat_AsDouble(arg))); }
static PyMethodDef methods[] = {{"f", f, METH_O, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_usesmath", NULL, -1, methods};
PyMODINIT_FUNC PyInit__usesmath(void) { return PyModule_Create(&mod); }
"""


@pytest.fixture(scope="module")
def venv_with_real_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not envbuild.have_compilers():
        pytest.skip("needs gcc and the Python headers")
    root = tmp_path_factory.mktemp("real-ext")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    # a real manylinux2014 module from PyPI (a dependency of envresolve, so it is installed here)
    real = next(Path(pydantic_core.__file__).parent.glob("_pydantic_core*.so"))
    (site / "pydantic_core").mkdir()
    shutil.copy2(real, site / "pydantic_core" / real.name)
    # a module that calls sin() with no DT_NEEDED on libm, and proof that Python imports it
    src = root / "usesmath.c"
    src.write_text(MATH_EXT, encoding="utf-8")
    ext = site / f"_usesmath{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = sysconfig.get_paths()["include"]
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", f"-I{include}", "-o", str(ext), str(src)], check=True)
    needed = subprocess.run(["readelf", "-d", str(ext)], capture_output=True, text=True).stdout
    assert "libm.so" not in needed
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import _usesmath; print(_usesmath.f(0.0))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0.0"
    return venv


def test_real_modules_have_no_undefined_symbol_findings(venv_with_real_modules: Path) -> None:
    report = check_prefix(venv_with_real_modules, [bookworm()], system=live_system())
    errors = [d for d in report.all_diagnostics() if d.severity is Severity.ERROR]
    assert not [d for d in errors if d.code in {"CK101", "CK102", "CK103"}], [d.message for d in errors]
    assert report.ok
