"""A resolution is used again while the pages it read and everything else it depends on are unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.binary.budgeted import WheelFacts
from envresolve.binary.cache import ReportCache
from envresolve.net import HttpClient
from envresolve.node.facts import DriverFacts, GpuFacts, NodeFacts
from envresolve.solve.pip import PipResolution, resolve_pip
from envresolve.solve.pip import provider as provider_module
from tests.fixtures.index.server import IndexServer, Knobs

NODE = NodeFacts(
    name="a100-535",
    glibc="2.35",
    driver=DriverFacts(version="535.104.05", cuda="12.2"),
    gpus=(GpuFacts(index=0, name="NVIDIA A100-SXM4-80GB", compute_capability="8.0"),),
)


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many searches ran (each builds one provider)."""
    made: list[int] = []
    init = provider_module.PipProvider.__init__

    def counted(self: provider_module.PipProvider, *a: object, **k: object) -> None:
        made.append(1)
        init(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(provider_module.PipProvider, "__init__", counted)
    return made


def _lock(url: str, cache: Path, node: NodeFacts = NODE, **kw: object) -> PipResolution:
    client = HttpClient(cache_dir=cache, timeout=5, retries=1, backoff=0.01, progress=False, environ={})
    facts = WheelFacts(client, budget=0, cache=ReportCache(cache))
    return resolve_pip(
        ["alpha"], [node], python="3.11", index_urls=[url], cache_dir=cache, client=client, binary_facts=facts, **kw
    )  # type: ignore[arg-type]


def _same(a: PipResolution, b: PipResolution) -> bool:
    strip = lambda r: r.model_copy(  # noqa: E731
        update={"packages": tuple(p.model_copy(update={"metadata_source": ""}) for p in r.packages)}
    )
    return strip(a) == strip(b)


def test_a_second_resolution_with_the_same_inputs_and_pages_is_the_kept_one(
    tmp_path: Path, searches: list[int]
) -> None:
    knobs = Knobs(validators=False)  # the pages come again in full, as from an index without validators
    with IndexServer(knobs) as srv:
        first = _lock(srv.url + "/simple/", tmp_path)
        n = len(knobs.log)
        second = _lock(srv.url + "/simple/", tmp_path)
    assert len(searches) == 1  # the second run did not search
    assert _same(first, second) and {p.metadata_source for p in second.packages} == {"cache"}
    assert knobs.log[n:] and all(path.startswith("/simple/") for path, _s, _h in knobs.log[n:])  # pages only
    (kept,) = (tmp_path / "pip-results").glob("*.json")  # one resolution kept, with the pages it read
    assert "/simple/alpha/" in kept.read_text() and "/simple/beta/" in kept.read_text()


def test_a_changed_page_or_other_inputs_resolve_again(tmp_path: Path, searches: list[int]) -> None:
    knobs = Knobs(validators=False)
    with IndexServer(knobs) as srv:
        first = _lock(srv.url + "/simple/", tmp_path)
        knobs.mode = "html"  # the same files in other bytes: a page that changed
        second = _lock(srv.url + "/simple/", tmp_path)
        assert len(searches) == 2 and _same(first, second)
        third = _lock(srv.url + "/simple/", tmp_path)  # unchanged since the second: kept
        assert len(searches) == 2 and _same(second, third)
        el7 = NodeFacts(name="el7", glibc="2.17", driver=DriverFacts(version="535.104.05", cuda="12.2"))
        _lock(srv.url + "/simple/", tmp_path, node=el7)  # another node: another key
        assert len(searches) == 3


def test_cached_binary_facts_added_since_mean_resolving_again(tmp_path: Path, searches: list[int]) -> None:
    with IndexServer(Knobs(validators=False)) as srv:
        first = _lock(srv.url + "/simple/", tmp_path)
        alpha = first.find("alpha")
        assert alpha is not None
        from envresolve.binary.model import ArtifactReport

        report = ArtifactReport(artifact=alpha.filename, kind="wheel", sha256=alpha.sha256, name="alpha", version="1.0")
        ReportCache(tmp_path).put(alpha.sha256, report, symbols=False)  # as `envresolve inspect` would
        _lock(srv.url + "/simple/", tmp_path)
    assert len(searches) == 2


def test_what_cannot_be_keyed_is_never_kept(tmp_path: Path) -> None:
    with IndexServer(Knobs(validators=False)) as srv:
        _lock(srv.url + "/simple/", tmp_path, filters=[])  # custom filters
        client = HttpClient(cache_dir=tmp_path, timeout=5, retries=1, backoff=0.01, progress=False, environ={})
        resolve_pip(
            ["alpha"], [NODE], python="3.11", index_urls=[srv.url + "/simple/"], cache_dir=tmp_path, client=client
        )  # cached facts by a callback ("cache")
    assert not (tmp_path / "pip-results").exists()


def test_a_kept_resolution_holds_no_credentials(tmp_path: Path, searches: list[int]) -> None:
    with IndexServer(Knobs(validators=False, auth=("user", "s3cr3t-Token"))) as srv:
        url = srv.url.replace("http://", "http://user:s3cr3t-Token@") + "/simple/"
        _lock(url, tmp_path)
        _lock(url, tmp_path)
    assert len(searches) == 1
    (kept,) = (tmp_path / "pip-results").glob("*.json")
    assert "s3cr3t-Token" not in kept.read_text()
