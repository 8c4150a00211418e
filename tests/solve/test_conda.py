"""The conda side: real py-rattler solves over the demo channel (examples/channel, trimmed from real
conda-forge records; see examples/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from envresolve.errors import InputError
from envresolve.node import load_node
from envresolve.solve.conda import (
    CondaPackage,
    CondaSettings,
    CondaSolver,
    VirtualPackage,
    common_virtual_packages,
    node_virtual_packages,
    translate_matchspec,
)
from tests.conftest import REPO

CHANNEL = REPO / "examples" / "channel"
CF = CHANNEL / "conda-forge"
SPECS = ["python 3.12.*", "cuda-version 12.*", "cuda-cudart"]


def vps(**kw: str) -> list[VirtualPackage]:
    base = {"__glibc": "2.35", "__linux": "5.15", "__unix": "0", "__cuda": "12.4"}
    base.update(kw)
    return [VirtualPackage(name=n, version=v) for n, v in base.items() if v != "-"]


@pytest.fixture
def solver(tmp_path: Path) -> CondaSolver:
    return CondaSolver([str(CF)], CondaSettings(cache_dir=str(tmp_path / "cache")))


def test_exact_pin_is_translated() -> None:
    fixed, note = translate_matchspec("pytorch 2.3.0")
    assert fixed == "pytorch ==2.3.0"
    assert note is not None and note.code == "RS107"
    assert translate_matchspec("python=3.10.14=hb885b13_0") == ("python ==3.10.14 hb885b13_0", None)
    assert translate_matchspec("cudatoolkit >=11,<12")[1] is None


def test_bad_matchspec_is_an_input_error() -> None:
    with pytest.raises(InputError) as exc:
        translate_matchspec("numpy >>>1")
    assert exc.value.code == "RS106"


def test_solves_real_records(solver: CondaSolver) -> None:
    sol = solver.solve([*SPECS, "numpy 2.1.1"], vps())
    assert sol.ok, sol.diagnostics
    names = [p.name for p in sol.packages]
    assert names == sorted(names)
    assert sol.python is not None and sol.python.startswith("3.12.")
    cv = next(p for p in sol.packages if p.name == "cuda-version")
    assert cv.version.startswith("12.")
    numpy = next(p for p in sol.packages if p.name == "numpy")
    assert numpy.version == "2.1.1" and numpy.sha256 and len(numpy.sha256) == 64
    assert numpy.url.startswith("file://") and numpy.url.endswith(numpy.file_name)
    assert numpy.depends_on_python


def test_record_round_trip(solver: CondaSolver) -> None:
    sol = solver.solve(SPECS, vps())
    for p in sol.packages:
        assert CondaPackage.from_record(p.to_record()) == p


def _from_public_properties(record: object) -> CondaPackage:
    """The conversion through py-rattler's public properties (what `from_record` did before it read the native
    record), validated by pydantic: the reference the fast conversion must equal."""
    r: Any = record
    ts = r.timestamp
    noarch = r.noarch
    return CondaPackage(
        name=r.name.normalized,
        version=str(r.version),
        build=str(r.build),
        build_number=int(r.build_number),
        channel=str(r.channel or ""),
        subdir=str(r.subdir),
        file_name=str(r.file_name),
        url=str(r.url),
        sha256=r.sha256.hex() if r.sha256 else None,
        md5=r.md5.hex() if r.md5 else None,
        size=r.size,
        depends=tuple(r.depends),
        constrains=tuple(r.constrains),
        noarch=None if noarch is None or noarch.none else ("python" if noarch.python else "generic"),
        timestamp=int(ts.timestamp() * 1000) if ts is not None else None,
        license=r.license,
    )


def test_from_record_matches_public_properties(solver: CondaSolver) -> None:
    specs = ["python 3.12.*", "pip", "cuda-version 12.*", "cuda-cudart", "cuda-nvrtc", "numpy", "pyyaml"]
    records = solver.solve_records(specs, vps())
    assert len(records) > 20 and any(r.noarch.python for r in records) and any(r.noarch.generic for r in records)
    for r in records:
        fast = CondaPackage.from_record(r)
        ref = _from_public_properties(r)
        assert fast == ref and fast.model_dump() == ref.model_dump()
        assert fast.model_fields_set == set(CondaPackage.model_fields)
        assert CondaPackage.model_validate(fast.model_dump()) == fast
        with pytest.raises(ValidationError):
            fast.name = "x"  # type: ignore[misc]  # still frozen


def test_repeated_solves_reuse_conversions_and_stay_exact(solver: CondaSolver) -> None:
    first = solver.solve(SPECS, vps())
    again = solver.solve(SPECS, vps())
    assert first.packages == again.packages and all(a is b for a, b in zip(first.packages, again.packages, strict=True))
    other = solver.solve(["python 3.12.*", "cuda-version 12.4.*", "cuda-cudart"], vps())
    fresh = CondaSolver([str(CF)], CondaSettings(cache_dir=solver.settings.cache_dir)).solve(
        ["python 3.12.*", "cuda-version 12.4.*", "cuda-cudart"], vps()
    )
    assert other.packages == fresh.packages
    assert {p.version for p in other.packages if p.name == "cuda-version"} == {"12.4"}
    assert {p.version for p in first.packages if p.name == "cuda-version"} != {"12.4"}


def test_driver_too_old_names_fact_and_smallest_driver(solver: CondaSolver) -> None:
    node = load_node("v100-driver470")
    sol = solver.solve(SPECS, node_virtual_packages(node), node=node)
    assert not sol.ok and not sol.packages
    d = sol.diagnostics[-1]
    assert d.code == "RS102"
    assert "__cuda >= 12.0" in d.message and "11.4" in d.message and "470.82.01" in d.message
    assert d.hint is not None and "525.60.13" in d.hint  # CUDA 12.0 GA driver, from the matrix


def test_no_cuda_at_all(solver: CondaSolver) -> None:
    # cuda-version only *constrains* __cuda: a CPU node may install it; a package that *depends* on __cuda may not
    assert solver.solve(SPECS, vps(__cuda="-")).ok
    sol = solver.solve(["python 3.12.*", "__cuda"], vps(__cuda="-"))
    assert [d.code for d in sol.diagnostics] == ["RS102"]
    assert "no __cuda" in sol.diagnostics[0].message


def test_glibc_too_old(solver: CondaSolver) -> None:
    sol = solver.solve(SPECS, vps(__glibc="2.12"))
    assert [d.code for d in sol.diagnostics] == ["RS103"]
    assert "__glibc >= 2.17" in sol.diagnostics[0].message


def test_missing_version_reports_solver_explanation(solver: CondaSolver) -> None:
    sol = solver.solve(["python 3.11.*"], vps())
    assert [d.code for d in sol.diagnostics] == ["RS101"]
    assert "python 3.11" in sol.diagnostics[0].message
    assert any(e.source == "py-rattler solver" for e in sol.diagnostics[0].evidence)


def test_channel_alias_and_mirror(tmp_path: Path) -> None:
    alias = CondaSolver(["conda-forge"], CondaSettings(channel_alias=str(CHANNEL), cache_dir=str(tmp_path)))
    assert alias.channel_urls == (CF.resolve().as_uri(),)
    assert alias.solve(SPECS, vps()).ok
    mirror = CondaSolver(["conda-forge"], CondaSettings(mirrors={"conda-forge": str(CF)}, cache_dir=str(tmp_path)))
    assert mirror.channel_urls == (CF.resolve().as_uri(),)
    assert mirror.solve(SPECS, vps()).ok
    prefix = CondaSettings(mirrors={"https://mirror.invalid/": CHANNEL.as_uri()})
    assert CondaSolver(["https://mirror.invalid/conda-forge"], prefix).channel_urls == (CF.resolve().as_uri(),)


def test_relative_channel_uses_base_dir(tmp_path: Path) -> None:
    s = CondaSolver(["./channel/conda-forge"], CondaSettings(base_dir=str(REPO / "examples"), cache_dir=str(tmp_path)))
    assert s.solve(SPECS, vps()).ok


def test_offline_without_cache_is_a_clear_error(tmp_path: Path) -> None:
    s = CondaSolver(["conda-forge"], CondaSettings(offline=True, cache_dir=str(tmp_path / "empty")))
    with pytest.raises(InputError) as exc:
        s.solve(["python"], vps())
    assert exc.value.code == "RS105"
    assert "--offline" in (exc.value.diagnostics[0].hint or "")


def test_local_channel_without_noarch(tmp_path: Path) -> None:
    ch = tmp_path / "only64"
    (ch / "linux-64").mkdir(parents=True)
    data = json.loads((CF / "linux-64" / "repodata.json").read_text())
    shutil.copy(CF / "linux-64" / "repodata.json", ch / "linux-64" / "repodata.json")
    assert data["packages.conda"]
    s = CondaSolver([str(ch)], CondaSettings(cache_dir=str(tmp_path / "c")))
    sol = s.solve(["libzlib"], vps())
    assert sol.ok, sol.diagnostics


def test_common_virtual_packages_take_the_weakest() -> None:
    a = node_virtual_packages(load_node("a100-driver535"))
    h = node_virtual_packages(load_node("h100-driver580"))
    cpu = node_virtual_packages(load_node("cpu-only"))
    common = {vp.name: vp.version for vp in common_virtual_packages([a, h])}
    assert common["__cuda"] == "12.2" and common["__glibc"] == "2.35" and common["__cuda_arch"] == "8.0"
    assert "__cuda" not in {vp.name for vp in common_virtual_packages([h, cpu])}


def test_http_channel_then_offline_from_cache(tmp_path: Path) -> None:
    """A channel served over loopback HTTP is fetched and cached; offline mode then solves from the cache alone."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(CHANNEL))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/conda-forge"
    cache = str(tmp_path / "cache")
    try:
        online = CondaSolver([url], CondaSettings(cache_dir=cache)).solve(SPECS, vps())
        assert online.ok, online.diagnostics
        assert all(p.url.startswith(url) for p in online.packages)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    offline = CondaSolver([url], CondaSettings(cache_dir=cache, offline=True)).solve(SPECS, vps())
    assert offline.ok, offline.diagnostics
    assert [p.file_name for p in offline.packages] == [p.file_name for p in online.packages]
    with pytest.raises(InputError):
        CondaSolver([url], CondaSettings(cache_dir=str(tmp_path / "other"), offline=True)).solve(SPECS, vps())


def test_dotted_build_string_solves(tmp_path: Path) -> None:
    # the bracket form the spec parser writes for `pytorch=1.12.1=py3.9_cpu_0` is what the solver matches
    from envresolve.specs.conda import parse_conda_dependency

    ch = tmp_path / "dotted"
    (ch / "linux-64").mkdir(parents=True)
    (ch / "noarch").mkdir()
    data = json.loads((CF / "linux-64" / "repodata.json").read_text())
    key, rec = next((k, v) for k, v in data["packages"].items() if v["name"] == "xz")
    for build in ("py3.9_cpu_0", "py3.10_cpu_0"):
        fake = dict(rec, name="dotbuild", version="1.12.1", build=build, depends=[])
        data["packages"][f"dotbuild-1.12.1-{build}.tar.bz2"] = fake
    (ch / "linux-64" / "repodata.json").write_text(json.dumps(data))
    (ch / "noarch" / "repodata.json").write_text(json.dumps({"info": {"subdir": "noarch"}, "packages": {}}))
    dep, diags = parse_conda_dependency("dotbuild=1.12.1=py3.9_cpu_0", None)
    assert dep is not None and not diags
    sol = CondaSolver([str(ch)], CondaSettings(cache_dir=str(tmp_path / "c"))).solve([dep.spec], vps())
    assert sol.ok, sol.diagnostics
    assert [(p.name, p.build) for p in sol.packages if p.name == "dotbuild"] == [("dotbuild", "py3.9_cpu_0")]
    assert key  # a real record was the template
