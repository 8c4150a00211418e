"""resolve_pip against the synthetic index served over loopback (PEP 691 JSON and PEP 503 HTML)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from envresolve.errors import InputError
from envresolve.net import HttpClient
from envresolve.node.facts import CpuFacts, DriverFacts, GpuFacts, NodeFacts
from envresolve.solve.pip import PipResolution, PipResolutionError, node_tags, resolve_pip
from envresolve.solve.pip.index import parse_html_page, parse_json_page
from tests.fixtures.index.server import ROOT, IndexServer, Knobs

SECRET = "t0ps3cret-token"

NODE_235 = NodeFacts(
    name="a100-535",
    glibc="2.35",
    driver=DriverFacts(version="535.104.05", cuda="12.2"),
    gpus=(GpuFacts(index=0, name="NVIDIA A100-SXM4-80GB", compute_capability="8.0"),),
)
NODE_217 = NodeFacts(name="el7", glibc="2.17", driver=DriverFacts(version="535.104.05", cuda="12.2"))


def _resolve(url: str, reqs: list[str], node: NodeFacts = NODE_235, **kw: object) -> PipResolution:
    client = kw.pop("client", None) or HttpClient(timeout=5, retries=1, backoff=0.01, progress=False, environ={})
    return resolve_pip(reqs, [node], python="3.11", index_urls=[url], client=client, use_cache=False, **kw)  # type: ignore[arg-type]


def _versions(res: PipResolution) -> dict[str, str]:
    return {p.name: p.version for p in res.packages}


@pytest.mark.parametrize("mode", ["json", "html"])
def test_resolves_over_json_and_html_pages(mode: str) -> None:
    knobs = Knobs(mode=mode)
    with IndexServer(knobs) as srv:
        res = _resolve(srv.url + "/simple/", ["alpha[fancy]", "gamma"])
    assert _versions(res) == {"alpha": "2.0", "beta": "1.0", "gamma": "1.0"}
    alpha = res.find("alpha")
    assert alpha is not None and alpha.extras == ("fancy",)
    assert alpha.dependencies == ("beta", "gamma")
    want = "application/vnd.pypi.simple.v1+json" if mode == "json" else "text/html"
    assert any(p == "/simple/alpha/" for p, _s, _h in knobs.log)
    assert want  # the server chose the page type from the mode; both parse to the same result


def test_hashes_are_recorded_and_match_the_files() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url + "/simple/", ["alpha"])
    for pkg in res.packages:
        data = (ROOT / "files" / pkg.filename).read_bytes()
        assert pkg.sha256 == hashlib.sha256(data).hexdigest()
        assert pkg.url.startswith(srv.url)


def test_pep658_metadata_used_when_offered_else_range_requests() -> None:
    knobs = Knobs()
    with IndexServer(knobs) as srv:
        res = _resolve(srv.url + "/simple/", ["alpha==1.0", "gamma"])
    sources = {p.name: p.metadata_source for p in res.packages}
    assert sources == {"alpha": "range", "beta": "pep658", "gamma": "range"}
    # the range path never downloaded a whole wheel: every request for it was a Range request
    alpha = [h for p, _s, h in knobs.log if p == "/files/alpha-1.0-py3-none-any.whl"]
    assert alpha and all("range" in h for h in alpha)
    assert any(p.endswith("beta-1.0-py3-none-any.whl.metadata") for p, _s, _h in knobs.log)


def test_no_range_support_falls_back_to_download() -> None:
    with IndexServer(Knobs(ranges=False)) as srv:
        res = _resolve(srv.url + "/simple/", ["gamma"])
    assert res.packages[0].metadata_source == "download"


def test_yanked_skipped_unless_pinned_exactly() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url + "/simple/", ["beta"])
        pinned = _resolve(srv.url + "/simple/", ["beta==1.1"])
    assert _versions(res) == {"beta": "1.0"}
    assert any(r.reason == "yanked" and r.version == "1.1" for r in res.rejections)
    assert _versions(pinned) == {"beta": "1.1"}
    assert pinned.packages[0].yanked == "broken build"


def test_requires_python_from_index_is_respected() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url + "/simple/", ["gamma"])
    assert _versions(res) == {"gamma": "1.0"}  # gamma 2.0 needs Python >= 3.12


def test_glibc_217_and_235_nodes_pick_different_wheels() -> None:
    with IndexServer() as srv:
        old = _resolve(srv.url + "/simple/", ["native"], NODE_217)
        new = _resolve(srv.url + "/simple/", ["native"], NODE_235)
    assert old.packages[0].filename == "native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert new.packages[0].filename == "native-1.1-cp311-cp311-manylinux_2_28_x86_64.whl"


def test_node_tags_are_explicit_for_the_target() -> None:
    tags = [str(t) for t in node_tags([NODE_217], "3.11")]
    assert tags[0] == "cp311-cp311-manylinux_2_17_x86_64"
    assert "cp311-cp311-manylinux_2_28_x86_64" not in tags
    assert "py3-none-any" in tags
    arm = NodeFacts(name="gh200", glibc="2.39", cpu=CpuFacts(arch="aarch64"))
    assert str(node_tags([arm], "3.12")[0]) == "cp312-cp312-manylinux_2_39_aarch64"
    with pytest.raises(InputError) as err:
        node_tags([arm, NODE_217], "3.11")
    assert err.value.code == "RS207"


def test_two_nodes_use_the_lowest_glibc() -> None:
    with IndexServer() as srv:
        res = resolve_pip(
            ["native"], [NODE_235, NODE_217], python="3.11", index_urls=[srv.url + "/simple/"], use_cache=False
        )
    assert _versions(res) == {"native": "1.0"}


def test_find_links_directory_and_index_together() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url + "/simple/", ["localpkg"], find_links=[str(ROOT / "findlinks")])
    assert _versions(res) == {"localpkg": "0.3", "beta": "1.0"}
    local = res.find("localpkg")
    assert local is not None and local.metadata_source == "local"
    assert local.sha256 == hashlib.sha256((ROOT / "findlinks" / local.filename).read_bytes()).hexdigest()


def test_file_url_index_works_without_a_server() -> None:
    res = resolve_pip(["alpha"], [NODE_235], python="3.11", index_urls=[(ROOT / "simple").as_uri()], use_cache=False)
    assert _versions(res) == {"alpha": "2.0", "beta": "1.0"}


def test_conda_installed_package_counts_as_installed() -> None:
    with IndexServer() as srv:
        res = _resolve(srv.url + "/simple/", ["alpha"], installed={"beta": "1.0"})
    assert _versions(res) == {"alpha": "2.0"}
    assert res.installed == (("beta", "1.0"),)


def test_conflict_with_conda_package_is_reported_not_replaced() -> None:
    with IndexServer() as srv, pytest.raises(PipResolutionError) as err:
        _resolve(srv.url + "/simple/", ["alpha"], installed={"beta": "0.9"})
    codes = [d.code for d in err.value.diagnostics]
    assert "RS301" in codes
    rs301 = next(d for d in err.value.diagnostics if d.code == "RS301")
    assert "beta>=1.0" in rs301.message and "conda installs beta 0.9" in rs301.message
    assert err.value.exit_status == 1


def test_plain_conflict_is_rs201() -> None:
    with IndexServer() as srv, pytest.raises(PipResolutionError) as err:
        _resolve(srv.url + "/simple/", ["conflicty", "beta>=1.0"])
    d = err.value.diagnostics[0]
    assert d.code == "RS201"
    assert "beta<1.0" in d.message and "conflicty 1.0" in d.message


def test_sdist_only_project_is_rs203() -> None:
    with IndexServer() as srv, pytest.raises(PipResolutionError) as err:
        _resolve(srv.url + "/simple/", ["sdistonly"])
    assert [d.code for d in err.value.diagnostics] == ["RS203"]


def test_unknown_project_is_rs202() -> None:
    with IndexServer() as srv, pytest.raises(PipResolutionError) as err:
        _resolve(srv.url + "/simple/", ["no-such-project"])
    assert [d.code for d in err.value.diagnostics] == ["RS202"]


def test_credentials_never_reach_the_result() -> None:
    with IndexServer(Knobs(auth=("alice", SECRET))) as srv:
        url = srv.url.replace("http://", f"http://alice:{SECRET}@") + "/simple/"
        res = _resolve(url, ["alpha"])
        with pytest.raises(PipResolutionError) as err:
            _resolve(url, ["no-such-project"])
    dumped = res.model_dump_json()
    assert SECRET not in dumped and "alice" not in dumped
    assert SECRET not in str(err.value) and all(SECRET not in d.model_dump_json() for d in err.value.diagnostics)


def test_auth_failure_surfaces_as_rs402() -> None:
    with IndexServer(Knobs(auth=("alice", SECRET))) as srv, pytest.raises(InputError) as err:
        _resolve(srv.url + "/simple/", ["alpha"])
    assert err.value.code == "RS402"


def test_warm_cache_sends_only_revalidations(tmp_path: Path) -> None:
    knobs = Knobs(max_age=0)
    with IndexServer(knobs) as srv:
        index = [srv.url + "/simple/"]
        cold = resolve_pip(["alpha==1.0"], [NODE_235], python="3.11", index_urls=index, cache_dir=tmp_path)
        entries = {p: p.stat().st_mtime_ns for p in (tmp_path / "http").glob("*.http")}
        n_cold = len(knobs.log)
        warm = resolve_pip(["alpha==1.0"], [NODE_235], python="3.11", index_urls=index, cache_dir=tmp_path)
    strip = lambda r: [p.model_copy(update={"metadata_source": ""}) for p in r.packages]  # noqa: E731
    assert strip(cold) == strip(warm)
    warm_pages = [(p, s) for p, s, _h in knobs.log[n_cold:] if p.startswith("/simple/")]
    assert warm_pages and all(s == 304 for _p, s in warm_pages)  # every page revalidated, none sent again
    # a 304 with the same validators and no freshness lifetime leaves the cached page (body and all) as it was
    assert entries and {p: p.stat().st_mtime_ns for p in (tmp_path / "http").glob("*.http")} == entries
    assert {p.metadata_source for p in warm.packages} == {"cache"}


def test_index_without_validators_refetches_but_reuses_parsed_pages(tmp_path: Path) -> None:
    knobs = Knobs(validators=False)
    with IndexServer(knobs) as srv:
        index = [srv.url + "/simple/"]
        cold = resolve_pip(["alpha"], [NODE_235], python="3.11", index_urls=index, cache_dir=tmp_path)
        bodies = {p: p.stat().st_mtime_ns for p in (tmp_path / "http").rglob("*.http")}
        parsed = sorted((tmp_path / "pages").rglob("*.json"))
        n_cold = len(knobs.log)
        warm = resolve_pip(["alpha"], [NODE_235], python="3.11", index_urls=index, cache_dir=tmp_path)
    assert [p.name for p in cold.packages] == [p.name for p in warm.packages] == ["alpha", "beta"]
    assert {s for p, s, _h in knobs.log[n_cold:] if p.startswith("/simple/")} == {200}  # nothing to revalidate with
    assert "if-none-match" not in knobs.log[-1][2]
    assert parsed and sorted((tmp_path / "pages").rglob("*.json")) == parsed
    assert bodies and {p: p.stat().st_mtime_ns for p in (tmp_path / "http").rglob("*.http")} == bodies  # not rewritten


def test_parsed_page_cache_gives_the_same_files(tmp_path: Path) -> None:
    """A page read back from the parsed-page cache lists the same files, field for field, as parsing it."""
    import dataclasses

    from envresolve.solve.pip.index import PackageFinder

    tags = node_tags([NODE_235], "3.11")
    with IndexServer(Knobs(validators=False)) as srv:
        index = srv.url + "/simple/"
        client = HttpClient(cache_dir=tmp_path, timeout=5, retries=1, progress=False, environ={})
        runs = []
        for _ in range(2):
            finder = PackageFinder(client, [index], tags=tags, cache_dir=tmp_path)
            runs.append({name: finder.files(name) for name in ("alpha", "beta", "torch")})
            finder.close()
    assert sorted((tmp_path / "pages").rglob("*.json"))  # the second run read these
    fresh, cached = runs
    assert sum(len(v) for v in fresh.values()) > 3
    for name, files in fresh.items():
        assert len(files) == len(cached[name])
        for a, b in zip(files, cached[name], strict=True):
            assert a == b and dataclasses.asdict(a) == dataclasses.asdict(b) and hash(a) == hash(b)
            assert type(a.version) is type(b.version) and a.sha256 == b.sha256
            with pytest.raises(dataclasses.FrozenInstanceError):
                b.url = "x"  # type: ignore[misc]


def test_metadata_cache_gives_what_parsing_gives_and_a_bad_record_is_fetched_again(tmp_path: Path) -> None:
    """A cached metadata record reads back as what parsing the METADATA gave; a damaged record is a miss."""
    from envresolve.solve.pip.index import PackageFinder
    from envresolve.solve.pip.metadata import MetadataFetcher

    tags = node_tags([NODE_235], "3.11")
    with IndexServer() as srv:
        client = HttpClient(cache_dir=tmp_path, timeout=5, retries=1, progress=False, environ={})
        finder = PackageFinder(client, [srv.url + "/simple/"], tags=tags, cache_dir=tmp_path)
        dist = next(f for f in finder.files("alpha") if f.kind == "wheel")
        finder.close()
        first = MetadataFetcher(client, tmp_path).get(dist)
        (record,) = sorted((tmp_path / "metadata").rglob("*.json"))
        assert first.how in ("pep658", "range") and first.requires_dist
        warm = MetadataFetcher(client, tmp_path).get(dist)
        assert warm.how == "cache" and (warm.name, warm.version, warm.requires_dist, warm.requires_python) == (
            first.name,
            first.version,
            first.requires_dist,
            first.requires_python,
        )
        for damaged in ("{not json", "[2, 1, 2]", json.dumps([3, "", "1.0", [], None, [], "unverified"])):
            record.write_text(damaged)
            again = MetadataFetcher(client, tmp_path).get(dist)
            assert again.how == first.how and again.requires_dist == first.requires_dist
        assert MetadataFetcher(client, tmp_path).get(dist).how == "cache"  # the fetch wrote the record again


def test_page_parsers_agree(tmp_path: Path) -> None:
    page = ROOT / "simple" / "torch"
    base = "http://127.0.0.1/simple/torch/"
    html = parse_html_page((page / "index.html").read_bytes(), base, "idx")
    js = parse_json_page((page / "index.json").read_bytes(), base, "idx")
    key = lambda fs: sorted((f.filename, f.url, f.sha256, f.requires_python, f.yanked, f.metadata) for f in fs)  # noqa: E731
    assert key(html) == key(js) and len(js) == 3


@pytest.mark.parametrize("body", ["{not json", "[" * 100_000], ids=["malformed", "nested-deep"])
def test_bad_index_page_is_rs206(tmp_path: Path, body: str) -> None:
    bad = tmp_path / "simple" / "alpha"
    bad.mkdir(parents=True)
    (bad / "index.json").write_text(body)
    with pytest.raises(InputError) as err:
        resolve_pip(["alpha"], [NODE_235], python="3.11", index_urls=[(tmp_path / "simple").as_uri()], use_cache=False)
    assert err.value.code == "RS206"


def test_constraints_markers_and_spec_indexes() -> None:
    from pydantic import SecretStr

    from envresolve.solve.pip import indexes_from_spec
    from envresolve.specs.model import EnvSpec, IndexUrl, PipRequirement

    with IndexServer() as srv:
        spec = EnvSpec(
            source="requirements.txt",
            format="requirements-txt",
            pip=(
                PipRequirement(name="native", requirement="native", raw="native"),
                PipRequirement(
                    name="native", requirement="native<1.1", raw="-c native<1.1", specifier="<1.1", constraint=True
                ),
                PipRequirement(
                    name="gamma",
                    requirement="gamma; python_version < '3.10'",
                    raw="gamma; python_version < '3.10'",
                    marker="python_version < '3.10'",
                ),
            ),
            indexes=(
                IndexUrl(kind="index-url", display=srv.url + "/simple/", url=SecretStr(srv.url + "/simple/")),
                IndexUrl(kind="find-links", display=str(ROOT / "findlinks"), url=SecretStr(str(ROOT / "findlinks"))),
            ),
        )
        index_urls, find_links = indexes_from_spec(spec)
        assert index_urls == [srv.url + "/simple/"] and find_links == [str(ROOT / "findlinks")]
        res = resolve_pip(
            list(spec.pip), [NODE_235], python="3.11", index_urls=index_urls, find_links=find_links, use_cache=False
        )
    assert _versions(res) == {"native": "1.0"}  # the constraint holds it below 1.1; gamma's marker is false


def test_direct_url_requirement_is_a_clear_input_error() -> None:
    with pytest.raises(InputError) as err:
        resolve_pip(["alpha @ https://example.invalid/alpha-1.0-py3-none-any.whl"], [NODE_235], python="3.11")
    assert err.value.code == "GN104" and "direct URL" in err.value.diagnostics[0].message


def test_dead_index_fails_the_resolution_with_rs401_no_hang() -> None:
    from tests.fixtures.index.server import dead_url

    client = HttpClient(timeout=1, retries=2, backoff=0.01, progress=False, environ={})
    with pytest.raises(InputError) as err:
        resolve_pip(["alpha"], [NODE_235], python="3.11", index_urls=[dead_url() + "/simple/"], client=client)
    assert err.value.code == "RS401" and err.value.exit_status == 2


def test_no_wheel_for_the_node_names_the_smallest_glibc() -> None:
    with IndexServer() as srv, pytest.raises(PipResolutionError) as err:
        _resolve(srv.url + "/simple/", ["native==1.1"], NODE_217)
    d = err.value.diagnostics[0]
    assert d.code == "RS209", err.value.diagnostics
    assert "glibc 2.17" in d.message
    assert d.hint is not None and "glibc >= 2.28" in d.hint


class _LocalRanges:
    """A stand-in HTTP client that answers range requests from bytes in memory (and counts them)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    def get_range(self, url: str, start: int | None, end: int | None) -> object:
        from envresolve.net import Response

        self.calls += 1
        size = len(self.data)
        first = max(0, size - (end or 0)) if start is None else start
        last = size - 1 if start is None or end is None else min(end, size - 1)
        body = self.data[first : last + 1]
        return Response(url, 206, {"content-range": f"bytes {first}-{last}/{size}"}, body)


def _wheel(members: dict[str, bytes], *, comment: bytes = b"", method: int = 8) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.comment = comment
    return buf.getvalue()


def _scan(data: bytes, tail: int = 64 * 1024, wheel: str = "a-1-py3-none-any.whl") -> tuple[bytes | None, int]:
    """What `_scan_metadata` reads from `data` served as `wheel`, and the range requests it made."""
    from envresolve.solve.pip.index import _parse_wheel_name
    from envresolve.solve.pip.metadata import _RangeFile, _scan_metadata

    parsed = _parse_wheel_name(wheel)
    assert parsed is not None
    dist = SimpleNamespace(name=parsed[0], version=parsed[1])
    client = _LocalRanges(data)
    first = client.get_range("u", None, tail)
    start = len(data) - len(first.body)  # type: ignore[attr-defined]
    raw = _RangeFile(client, "u", len(data), (start, first.body))  # type: ignore[arg-type]
    return _scan_metadata(raw, start, first.body, dist), client.calls - 1  # type: ignore[arg-type]


def test_metadata_scan_matches_zipfile_and_falls_back_on_anything_unusual() -> None:
    import os
    import zipfile

    meta = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Dist: torch>=2\n"
    many = {f"big/mod{i:05d}.py": os.urandom(16) for i in range(3000)}  # a directory larger than the tail read
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        data = _wheel({**many, "big-1.0.dist-info/METADATA": meta, "big-1.0.dist-info/RECORD": b""}, method=method)
        # the entry closes the directory, in the tail: the member alone is fetched, not the directory
        assert _scan(data, wheel="big-1.0-py3-none-any.whl") == (meta, 1)
        assert _scan(data, tail=len(data), wheel="big-1.0-py3-none-any.whl") == (meta, 0)  # all in the first read
        # a file of another project or version than its .dist-info: the whole directory is searched
        assert _scan(data, wheel="big-2.0-py3-none-any.whl") == (meta, 2)
    # a second .dist-info/METADATA beside the file's own, in the tail: the whole directory decides (two: none)
    two_late = _wheel({**many, "big-1.0.dist-info/METADATA": meta, "other-1.dist-info/METADATA": meta})
    assert _scan(two_late, wheel="big-1.0-py3-none-any.whl") == (None, 1)
    # real fixture wheels agree with zipfile
    for path in sorted((ROOT / "files").glob("*.whl")):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            want = zf.read(names[0]) if len(names) == 1 else None
        assert _scan(path.read_bytes(), wheel=path.name)[0] == want
    # unusual archives are left to zipfile (which then reports them as before)
    assert _scan(_wheel({"a-1.dist-info/METADATA": meta}, comment=b"hi"))[0] is None
    two = _wheel({"a-1.dist-info/METADATA": meta, "b-1.dist-info/METADATA": meta})
    assert _scan(two)[0] is None
    assert _scan(_wheel({"x/a-1.dist-info/METADATA": meta}))[0] is None
    assert _scan(_wheel({"a-1.dist-info/METADATA.bak": meta}))[0] is None
    bad = bytearray(_wheel({"a-1.dist-info/METADATA": meta}, method=zipfile.ZIP_STORED))
    at = bytes(bad).find(b"Requires-Dist")
    bad[at] ^= 0x20  # the CRC no longer matches
    assert _scan(bytes(bad))[0] is None


def test_a_warm_run_fetches_the_pages_the_last_run_needed_up_front(tmp_path: Path) -> None:
    """The projects a resolution fetched are remembered for its roots and locations: the next run asks for all
    their pages at once (before the dependencies that name them are read). Only names are kept."""
    from envresolve.solve.pip.index import PackageFinder

    cache = tmp_path / "cache"
    with IndexServer() as srv:
        client = HttpClient(cache_dir=cache, timeout=5, retries=1, backoff=0.01, progress=False, environ={})
        root = srv.url + "/simple/"
        resolve_pip(["alpha"], [NODE_235], python="3.11", index_urls=[root], client=client, cache_dir=cache)
        finder = PackageFinder(client, [root], cache_dir=cache)
        assert finder.remembered(["Alpha"]) == ["alpha", "beta"]
        assert finder.remembered(["gamma"]) == []  # other roots: nothing known
        assert PackageFinder(client, [srv.url + "/other/"], cache_dir=cache).remembered(["alpha"]) == []
        finder.close()
    (hints,) = (cache / "pip-hints").rglob("*.json")
    assert srv.url not in hints.read_text() and "127.0.0.1" not in hints.read_text()


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b'{"alpha": 1}', b'["alpha", 3, "../x", "BETA", "be ta", "ok-name"]', b"[" + b'"a",' * 400000],
)
def test_a_broken_hints_file_costs_nothing(tmp_path: Path, content: bytes) -> None:
    from envresolve.solve.pip.index import PackageFinder

    finder = PackageFinder(
        HttpClient(cache_dir=tmp_path, environ={}), ["https://example.invalid/simple/"], cache_dir=tmp_path
    )
    path = finder._hints_path(["alpha"])
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    got = finder.remembered(["alpha"])
    assert set(got) <= {"alpha", "ok-name"} and len(got) <= 2000
    finder.close()


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_metadata_headers_are_read_and_the_description_body_is_not(eol: bytes) -> None:
    from envresolve.solve.pip.metadata import parse_metadata

    head = [b"Metadata-Version: 2.1", b"Name: demo", b"Version: 1.0", b"Requires-Dist: numpy>=1.20"]
    head += [b"Requires-Dist: packaging ; extra == 'x'", b"Provides-Extra: x", b"Requires-Python: >=3.9"]
    body = [b"# demo", b"", b"Requires-Dist: evil", b"Name: other"] + [b"text"] * 5000
    md = parse_metadata(eol.join(head) + eol + eol + eol.join(body) + eol, "range")
    assert (md.name, md.version, md.requires_python) == ("demo", "1.0", ">=3.9")
    assert md.requires_dist == ("numpy>=1.20", "packaging ; extra == 'x'") and md.provides_extra == ("x",)


def test_parse_metadata_reads_headers_only_and_refuses_two_names() -> None:
    from envresolve.solve.pip.metadata import parse_metadata

    text = (
        b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\nAuthor: J\xe9r\xf4me\nRequires-Python: >=3.8\n"
        b"Requires-Dist: beta>=1\nRequires-Dist: gamma ; extra == 'g'\nProvides-Extra: g\n\nName: not-a-header\n"
    )
    md = parse_metadata(text, "range")
    assert (md.name, md.version, md.requires_python) == ("alpha", "1.0", ">=3.8")
    assert md.requires_dist == ("beta>=1", "gamma ; extra == 'g'") and md.provides_extra == ("g",)
    with pytest.raises(ValueError, match="one Name"):
        parse_metadata(b"Name: alpha\nName: beta\nVersion: 1.0\n", "range")
    with pytest.raises(ValueError, match="one Name"):
        parse_metadata(b"Name: alpha\n", "range")
