"""The `undefined symbol: _ZN3c10...` case on the real PyTorch CPU wheel (opt-in: installing it takes ~40 s).

Set ENVRESOLVE_TORCH_WHEEL to the wheel file (this machine: /opt/wheels/torch-2.13.0+cpu-cp311-...whl) to run it.
A venv gets the real torch wheel installed by pip (offline), plus a planted extension module compiled here against
torch's libc10.so that needs a c10 symbol libc10 does not export.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from envresolve.preflight.api import check_prefix
from envresolve.preflight.loader import live_system
from tests.check.conftest import bookworm, centos7

WHEEL = os.environ.get("ENVRESOLVE_TORCH_WHEEL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not WHEEL or not Path(WHEEL).is_file(), reason="set ENVRESOLVE_TORCH_WHEEL to a torch wheel"),
]

PLANTED = """\
#include <Python.h>
namespace c10 { namespace detail { void envresolve_planted_missing(int); } }
static PyObject* f(PyObject*, PyObject*) { c10::detail::envresolve_planted_missing(1); Py_RETURN_NONE; }
static PyMethodDef m[] = {{"f", f, METH_NOARGS, ""}, {nullptr, nullptr, 0, nullptr}};
static PyModuleDef d = {PyModuleDef_HEAD_INIT, "_planted", nullptr, -1, m};
extern "C" PyMODINIT_FUNC PyInit__planted(void) { return PyModule_Create(&d); }
"""


def test_planted_c10_mismatch_in_a_real_torch_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-index", "--no-deps",
         "-q", WHEEL],
        check=True,
    )  # fmt: skip
    site = next(venv.glob("lib/python3*/site-packages"))
    torch_lib = site / "torch" / "lib"
    src = tmp_path / "planted.cpp"
    src.write_text(PLANTED, encoding="utf-8")
    ext = site / "planted" / f"_planted{sysconfig.get_config_var('EXT_SUFFIX')}"
    ext.parent.mkdir()
    subprocess.run(
        ["g++", "-shared", "-fPIC", "-o", str(ext), str(src), "-I", sysconfig.get_paths()["include"],
         f"-L{torch_lib}", "-lc10", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../torch/lib"],
        check=True,
    )  # fmt: skip
    # the real loader agrees
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import planted._planted"], capture_output=True, text=True, cwd=tmp_path
    )
    assert "undefined symbol: _ZN3c106detail26envresolve_planted_missingEi" in run.stderr

    live = check_prefix(venv, [bookworm()], system=live_system())
    found = [d for d in live.all_diagnostics() if d.code == "CK102"]
    assert len(found) == 1 and found[0].location is not None and found[0].location.file.endswith(ext.name)
    assert "_ZN3c106detail26envresolve_planted_missingEi" in found[0].message
    assert live.summary.errors == 1, live.all_diagnostics()  # torch itself checks clean here

    recorded = check_prefix(venv, [centos7()])
    codes = {d.code for d in recorded.all_diagnostics()}
    assert {"CK102", "CK104", "CP120"} <= codes  # plus GLIBCXX and glibc needs above CentOS 7's
