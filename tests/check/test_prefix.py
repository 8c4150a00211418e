"""`check --prefix` on real venvs built from real wheels (see envbuild.py), and on a conda-style prefix."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from envresolve.diagnostics import Diagnostic, Severity
from envresolve.errors import InputError
from envresolve.preflight.api import check_prefix
from envresolve.preflight.loader import RecordedSystem, live_system
from envresolve.preflight.prefix import scan_prefix
from tests.check.conftest import Built, bookworm, centos7

SP = "lib/python3.11/site-packages"


def no_rules(env: object, node: object) -> list[Diagnostic]:
    """The installed-only checks alone (the matrix rules are tested in tests/compat)."""
    return []


def by_file(diags: list[Diagnostic] | tuple[Diagnostic, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in diags:
        key = d.location.file if d.location else (d.subject or "")
        out.setdefault(key, []).append(d.code)
    return out


def _site(prefix: Path) -> str:
    return next(str(p.relative_to(prefix)) for p in prefix.glob("lib/python3*/site-packages"))


def test_the_real_loader_agrees_with_the_planted_problems(built: Built) -> None:
    """The fixtures are real: python imports the good module and fails on the planted ones, as check predicts."""
    py = str(built.venv_bad / "bin" / "python")
    ok = subprocess.run([py, "-c", "import envtiny._good as m; print(m.call())"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "42", ok.stderr
    bad = subprocess.run([py, "-c", "import envtiny._bad"], capture_output=True, text=True)
    assert "undefined symbol: _ZN4tiny7v2_onlyEv" in bad.stderr
    missing = subprocess.run([py, "-c", "import envtiny._missing"], capture_output=True, text=True)
    assert "libnothere.so.3" in missing.stderr


def test_prefix_finds_the_mismatched_module_and_the_glibcxx_need(built: Built) -> None:
    report = check_prefix(built.venv_bad, [centos7()], rules=no_rules)
    assert report.verdict == "does-not-run"
    found = by_file(report.all_diagnostics())
    site = _site(built.venv_bad)
    ext = next(p.name.split(".", 1)[1] for p in (built.venv_bad / site / "envtiny").glob("_bad.*"))
    assert found[f"{site}/envtiny/_bad.{ext}"] == ["CK102"]
    assert found[f"{site}/envtiny.libs/libnewcxx.so"] == ["CK104"]
    assert found[f"{site}/envtiny/_missing.{ext}"] == ["CK101"]
    assert f"{site}/envtiny/_good.{ext}" not in found
    ck102 = next(d for d in report.all_diagnostics() if d.code == "CK102")
    assert "_ZN4tiny7v2_onlyEv" in ck102.message and ck102.category.value == "cxx-abi"
    ck104 = next(d for d in report.all_diagnostics() if d.code == "CK104")
    assert "GLIBCXX_3.4.21" in ck104.message and "3.4.19" in ck104.message
    ck101 = next(d for d in report.all_diagnostics() if d.code == "CK101")
    assert ck101.category.value == "missing-library" and "libnothere.so.3" in ck101.message
    assert any(e.unsure for e in ck101.evidence), "recorded node facts cannot prove a library absent"
    # the installed metadata became the environment the matrix rules see
    scan = scan_prefix(built.venv_bad, centos7(), RecordedSystem(centos7()))
    pkg = scan.environment.find("envtiny")
    assert pkg is not None and pkg.version == "1.0" and pkg.binary is not None
    assert pkg.binary.max_glibcxx == "3.4.21"
    assert scan.environment.python and scan.environment.python.startswith("3.11")


def test_newer_node_libstdcxx_clears_the_glibcxx_finding(built: Built) -> None:
    report = check_prefix(built.venv_bad, [bookworm()], rules=no_rules)
    codes = {d.code for d in report.all_diagnostics()}
    assert "CK104" not in codes and {"CK101", "CK102"} <= codes


def test_good_venv_runs(built: Built) -> None:
    report = check_prefix(built.venv_good, [centos7()], rules=no_rules)
    assert report.ok, report.all_diagnostics()
    assert report.summary.objects == 2 and report.summary.packages == 1


def test_live_loader_on_this_machine(built: Built) -> None:
    """The node side read from this machine's ldconfig cache: system libraries are real files, read and checked."""
    system = live_system()
    report = check_prefix(built.venv_good, [bookworm()], rules=no_rules, system=system)
    assert report.ok, report.all_diagnostics()
    bad = check_prefix(built.venv_bad, [bookworm()], rules=no_rules, system=system)
    missing = [d for d in bad.all_diagnostics() if d.code == "CK101"]
    assert len(missing) == 1 and not any(e.unsure for e in missing[0].evidence)
    assert any("ld.so.cache" in e.fact for e in missing[0].evidence)


def test_ld_library_path_is_an_argument_never_the_environment_variable(built: Built) -> None:
    libdir = built.root / "build" / "nt"  # holds libnothere.so.3, outside the prefix
    report = check_prefix(built.venv_bad, [bookworm()], rules=no_rules)
    assert "CK101" in {d.code for d in report.all_diagnostics()}
    os.environ["LD_LIBRARY_PATH"] = str(libdir)  # never read: the argument is the only source
    try:
        again = check_prefix(built.venv_bad, [bookworm()], rules=no_rules)
    finally:
        del os.environ["LD_LIBRARY_PATH"]
    assert "CK101" in {d.code for d in again.all_diagnostics()}
    live = check_prefix(
        built.venv_bad, [bookworm()], rules=no_rules, system=live_system(), ld_library_path=[str(libdir)]
    )
    assert "CK101" not in {d.code for d in live.all_diagnostics()}


def test_conda_prefix_competing_libstdcxx(built: Built) -> None:
    report = check_prefix(built.conda, [centos7()], rules=no_rules)
    diags = report.all_diagnostics()
    race = [d for d in diags if d.code == "CK105"]
    assert len(race) == 1 and race[0].severity is Severity.WARNING
    assert "lib/libstdc++.so.6" in race[0].message and "node" in race[0].message
    # liba resolves the environment's copy (3.4.30), but the node's 3.4.19 copy can win the race
    need = {d.location.file for d in diags if d.code == "CK104" and d.location}
    assert need == {"lib/liba.so", f"{SP}/pkgb/libb.so"}
    # on a node whose libstdc++ matches the environment's there is still a race, but no version problem
    again = check_prefix(built.conda, [bookworm()], rules=no_rules)
    assert {d.code for d in again.all_diagnostics()} == {"CK105"}
    scan = scan_prefix(built.conda, centos7(), RecordedSystem(centos7()))
    assert {p.name for p in scan.environment.packages} == {"libstdcxx-ng", "liba", "pkgb"}
    assert all(p.ecosystem == "conda" for p in scan.environment.packages)


def _snapshot(root: Path) -> dict[str, tuple[int, str, int]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else os.readlink(p)
            out[str(p)] = (st.st_mtime_ns, digest, st.st_mode)
        out[dirpath] = (Path(dirpath).stat().st_mtime_ns, "dir", Path(dirpath).stat().st_mode)
    return out


def test_check_never_modifies_the_environment(built: Built) -> None:
    for prefix in (built.venv_bad, built.conda):
        before = _snapshot(prefix)
        check_prefix(prefix, [centos7()], rules=no_rules)
        check_prefix(prefix, [bookworm()], rules=no_rules, system=live_system())
        assert _snapshot(prefix) == before


@pytest.fixture
def readonly_copy(built: Built) -> Iterator[Path]:
    """A copy of the bad venv in a world-readable directory, every file and directory made read-only."""
    import shutil

    base = Path(tempfile.mkdtemp(prefix="envresolve-ro-"))
    base.chmod(0o755)
    dest = base / "venv"
    shutil.copytree(built.venv_bad, dest, symlinks=True)
    for dirpath, dirs, files in os.walk(dest):
        for n in files:
            p = Path(dirpath, n)
            if not p.is_symlink():
                p.chmod(0o444)
        for n in dirs:
            Path(dirpath, n).chmod(0o555)
    dest.chmod(0o555)
    try:
        yield dest
    finally:
        for dirpath, dirs, _files in os.walk(base):
            for n in dirs:
                Path(dirpath, n).chmod(0o755)
        dest.chmod(0o755)
        shutil.rmtree(base)


def test_read_only_prefix_is_checked(readonly_copy: Path) -> None:
    before = _snapshot(readonly_copy)
    report = check_prefix(readonly_copy, [centos7()], rules=no_rules)
    assert {d.code for d in report.all_diagnostics()} == {"CK101", "CK102", "CK104"}
    assert _snapshot(readonly_copy) == before


def test_unreadable_file_is_reported_not_fatal(readonly_copy: Path) -> None:
    site = _site(readonly_copy)
    secret = readonly_copy / site / "envtiny.libs" / "libtiny.so.1"
    (readonly_copy / site / "envtiny.libs").chmod(0o755)
    secret.chmod(0o000)
    locked = readonly_copy / site / "envtiny-locked"
    (readonly_copy / site).chmod(0o755)
    locked.mkdir()
    (locked / "hidden.so").write_bytes(b"")
    locked.chmod(0o000)
    (readonly_copy / site).chmod(0o555)
    check_prefix(readonly_copy, [centos7()], rules=no_rules)  # warm every import while privileged
    dropped = os.geteuid() == 0
    if dropped:
        os.seteuid(65534)  # root reads anything: check as nobody, as an unprivileged Job would
    try:
        report = check_prefix(readonly_copy, [centos7()], rules=no_rules)
    finally:
        if dropped:
            os.seteuid(0)
    unreadable = [d for d in report.diagnostics if d.code == "CK106"]
    assert sorted(d.location.file for d in unreadable if d.location) == [
        f"{site}/envtiny-locked",
        f"{site}/envtiny.libs/libtiny.so.1",
    ]
    assert unreadable[0].severity is Severity.WARNING and "ermission" in unreadable[0].message
    # the library exists (the loader may be able to read it), so its users are not "missing" it
    assert [d.code for d in report.all_diagnostics() if d.code == "CK101"] == ["CK101"]


def test_not_an_environment(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        check_prefix(tmp_path, [centos7()], rules=no_rules)
    assert exc.value.code == "CK107"
    with pytest.raises(InputError):
        check_prefix(tmp_path / "nope", [centos7()], rules=no_rules)


def test_wrong_architecture_and_malformed_objects(built: Built, tmp_path: Path) -> None:
    import shutil

    prefix = tmp_path / "env"
    shutil.copytree(built.venv_good, prefix, symlinks=True)
    site = _site(prefix)
    (prefix / site / "envtiny.libs" / "libtrunc.so").write_bytes(
        (built.venv_good / site / "envtiny.libs" / "libtiny.so.1").read_bytes()[:200]
    )
    (prefix / site / "envtiny.libs" / "notelf.so").write_text("INPUT(-lfoo)\n", encoding="utf-8")
    report = check_prefix(prefix, [centos7()], rules=no_rules)
    assert by_file(report.diagnostics) == {f"{site}/envtiny.libs/libtrunc.so": ["CK111"]}
    arm = centos7().model_copy(update={"cpu": centos7().cpu.model_copy(update={"arch": "aarch64"})})
    report = check_prefix(prefix, [arm], rules=no_rules)
    foreign = {d.location.file: d.severity for d in report.all_diagnostics() if d.code == "CK110" and d.location}
    ext = next(f for f in foreign if "/envtiny/_good." in f)
    assert foreign[ext] is Severity.ERROR  # imported directly: cannot run
    assert foreign[f"{site}/envtiny.libs/libtiny.so.1"] is Severity.WARNING  # only matters to what needs it
    assert report.verdict == "does-not-run"


def test_malformed_installed_metadata_is_reported(built: Built, tmp_path: Path) -> None:
    import shutil

    conda = tmp_path / "conda"
    shutil.copytree(built.conda, conda)
    (conda / "conda-meta" / "broken-1.0-0.json").write_text("{not json", encoding="utf-8")
    site = conda / SP
    (site / "nameless-1.0.dist-info").mkdir()
    (site / "nameless-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\n", encoding="utf-8")
    (site / "norecord-2.0.dist-info").mkdir()
    (site / "norecord-2.0.dist-info" / "METADATA").write_text("Name: norecord\nVersion: 2.0\n", encoding="utf-8")
    report = check_prefix(conda, [bookworm()], rules=no_rules)
    found = by_file(report.diagnostics)
    assert found == {
        "conda-meta/broken-1.0-0.json": ["CK108"],
        f"{SP}/nameless-1.0.dist-info/METADATA": ["CK108"],
        f"{SP}/norecord-2.0.dist-info": ["CK108"],
    }
    scan = scan_prefix(conda, bookworm(), RecordedSystem(bookworm()))
    assert scan.environment.find("norecord") is not None  # still part of the environment
