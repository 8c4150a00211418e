"""The HTTP client: retries, timeouts, auth, credentials never shown, cache, resumable downloads, file:// URLs."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from envresolve.errors import InputError
from envresolve.net import HttpClient, NetError, strip_credentials
from tests.fixtures.index.server import ROOT, IndexServer, Knobs, SilentServer, dead_url

WHEEL = "files/beta-1.0-py3-none-any.whl"
SECRET = "s3cr3t-Pa55"


def _client(tmp_path: Path | None = None, **kw: object) -> HttpClient:
    opts: dict[str, object] = {"timeout": 2.0, "retries": 3, "backoff": 0.01, "progress": False, "environ": {}}
    opts.update(kw)
    return HttpClient(cache_dir=tmp_path, **opts)  # type: ignore[arg-type]


def test_retries_5xx_then_succeeds() -> None:
    knobs = Knobs(fail_first=2)
    with IndexServer(knobs) as srv:
        client = _client()
        resp = client.get(f"{srv.url}/simple/beta/")
    assert resp.status == 200 and b"beta-1.0" in resp.body
    assert [s for _p, s, _h in knobs.log] == [503, 503, 200]


def test_5xx_retries_are_bounded() -> None:
    knobs = Knobs(fail_first=100)
    with IndexServer(knobs) as srv, pytest.raises(NetError) as err:
        _client(retries=2).get(f"{srv.url}/simple/beta/")
    assert err.value.code == "RS404"
    assert len(knobs.log) == 3  # first try + 2 retries


def test_dead_index_is_a_clear_error_quickly() -> None:
    t0 = time.monotonic()
    with pytest.raises(NetError) as err:
        _client(retries=2).get(dead_url() + "/simple/beta/")
    assert err.value.code == "RS401"
    assert "cannot reach" in err.value.diagnostics[0].message
    assert time.monotonic() - t0 < 5


def test_silent_server_times_out_no_hang() -> None:
    with SilentServer() as srv:
        t0 = time.monotonic()
        with pytest.raises(NetError) as err:
            _client(timeout=0.3, retries=1).get(srv.url + "/simple/beta/")
    assert err.value.code == "RS401"
    assert "timed out" in err.value.diagnostics[0].message
    assert time.monotonic() - t0 < 5


def test_auth_failure_without_credentials_names_the_fix() -> None:
    with IndexServer(Knobs(auth=("alice", SECRET))) as srv, pytest.raises(NetError) as err:
        _client().get(f"{srv.url}/simple/beta/")
    diag = err.value.diagnostics[0]
    assert diag.code == "RS402"
    assert "no credentials" in diag.message
    assert "netrc" in (diag.hint or "")


def test_wrong_credentials_are_refused_and_never_shown() -> None:
    with IndexServer(Knobs(auth=("alice", SECRET))) as srv:
        url = srv.url.replace("http://", f"http://alice:{SECRET}x@") + "/simple/beta/"
        with pytest.raises(NetError) as err:
            _client().get(url)
    diag = err.value.diagnostics[0]
    assert diag.code == "RS402" and "refused" in diag.message
    assert SECRET not in diag.model_dump_json() and SECRET not in str(err.value)


def test_credentials_in_url_work_and_stay_out_of_responses() -> None:
    knobs = Knobs(auth=("alice", SECRET))
    with IndexServer(knobs) as srv:
        url = srv.url.replace("http://", f"http://alice:{SECRET}@") + "/simple/beta/"
        resp = _client().get(url)
    assert resp.status == 200
    assert SECRET not in resp.url and "alice" not in resp.url


def test_credentials_from_environment_per_host_and_generic(tmp_path: Path) -> None:
    with IndexServer(Knobs(auth=("bob", SECRET))) as srv:
        per_host = {"ENVRESOLVE_INDEX_127_0_0_1_USERNAME": "bob", "ENVRESOLVE_INDEX_127_0_0_1_PASSWORD": SECRET}
        assert _client(environ=per_host).get(f"{srv.url}/simple/beta/").status == 200
        generic = {"ENVRESOLVE_INDEX_USERNAME": "bob", "ENVRESOLVE_INDEX_PASSWORD": SECRET}
        untrusted = _client(environ=generic)
        with pytest.raises(NetError):  # generic credentials only go to configured index hosts
            untrusted.get(f"{srv.url}/simple/beta/")
        trusted = _client(environ=generic)
        trusted.trust_host(srv.url + "/simple/")
        assert trusted.get(f"{srv.url}/simple/beta/").status == 200


def test_credentials_from_netrc(tmp_path: Path) -> None:
    rc = tmp_path / "netrc"
    rc.write_text(f"machine 127.0.0.1 login carol password {SECRET}\n")
    rc.chmod(0o600)
    with IndexServer(Knobs(auth=("carol", SECRET))) as srv:
        assert _client(environ={"NETRC": str(rc)}).get(f"{srv.url}/simple/beta/").status == 200


class _FakeKeyring:
    """Stands in for the `keyring` module: records what it was asked."""

    def __init__(self, user: str, password: str) -> None:
        self.asked: list[str] = []
        self._cred = type("Cred", (), {"username": user, "password": password})()

    def get_credential(self, service: str, username: object) -> object:
        self.asked.append(service)
        return self._cred


def test_keyring_is_asked_only_after_a_401(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    ring = _FakeKeyring("dave", SECRET)
    monkeypatch.setitem(sys.modules, "keyring", ring)
    with IndexServer(Knobs()) as open_srv:  # no auth wanted: keyring stays untouched
        client = _client()
        client.trust_host(open_srv.url + "/simple/")
        assert client.get(f"{open_srv.url}/simple/beta/").status == 200
    assert ring.asked == []
    knobs = Knobs(auth=("dave", SECRET))
    with IndexServer(knobs) as srv:
        client = _client()
        client.trust_host(srv.url + "/simple/")
        assert client.get(f"{srv.url}/simple/beta/").status == 200
        assert client.get(f"{srv.url}/simple/beta/").status == 200  # the credentials are kept for the host
    assert len(ring.asked) == 1
    assert [s for _p, s, _h in knobs.log] == [401, 200, 200]
    assert "authorization" not in knobs.log[0][2] and "authorization" in knobs.log[1][2]


def test_keyring_is_not_asked_for_an_untrusted_host(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    ring = _FakeKeyring("dave", SECRET)
    monkeypatch.setitem(sys.modules, "keyring", ring)
    with IndexServer(Knobs(auth=("dave", SECRET))) as srv, pytest.raises(NetError) as err:
        _client().get(f"{srv.url}/simple/beta/")
    assert err.value.code == "RS402" and ring.asked == []


def test_strip_credentials_repr_hides_password() -> None:
    clean, creds = strip_credentials(f"https://u:{SECRET}@example.invalid/simple/")
    assert clean == "https://example.invalid/simple/"
    assert creds is not None and SECRET not in repr(creds)


def test_http_cache_revalidates_with_etag(tmp_path: Path) -> None:
    knobs = Knobs(max_age=0)
    with IndexServer(knobs) as srv:
        first = _client(tmp_path).get(f"{srv.url}/simple/beta/", cache=True)
        second = _client(tmp_path).get(f"{srv.url}/simple/beta/", cache=True)
    assert first.body == second.body and second.from_cache
    assert [s for _p, s, _h in knobs.log] == [200, 304]


def test_http_cache_fresh_entry_sends_no_request(tmp_path: Path) -> None:
    knobs = Knobs(max_age=600)
    with IndexServer(knobs) as srv:
        _client(tmp_path).get(f"{srv.url}/simple/beta/", cache=True)
        warm = _client(tmp_path)
        resp = warm.get(f"{srv.url}/simple/beta/", cache=True)
    assert resp.from_cache and warm.requests == 0 and len(knobs.log) == 1


def test_offline_uses_cache_and_reports_misses(tmp_path: Path) -> None:
    with IndexServer(Knobs(max_age=0)) as srv:
        _client(tmp_path).get(f"{srv.url}/simple/beta/", cache=True)
        offline = _client(tmp_path, offline=True)
        assert offline.get(f"{srv.url}/simple/beta/", cache=True).from_cache
        with pytest.raises(InputError) as err:
            offline.get(f"{srv.url}/simple/alpha/", cache=True)
    assert err.value.code == "RS406"
    assert offline.requests == 0


def test_download_resumes_with_range_and_checks_hash(tmp_path: Path) -> None:
    want = hashlib.sha256((ROOT / WHEEL).read_bytes()).hexdigest()
    knobs = Knobs(truncate_once={"/" + WHEEL})
    with IndexServer(knobs) as srv:
        out = _client().download(f"{srv.url}/{WHEEL}", tmp_path / "w.whl", sha256=want)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == want
    statuses = [s for p, s, _h in knobs.log if p == "/" + WHEEL]
    assert statuses == [-200, 206]  # cut in half, then resumed with Range
    assert knobs.log[-1][2]["range"].startswith("bytes=")


def test_download_hash_mismatch_leaves_nothing(tmp_path: Path) -> None:
    with IndexServer() as srv, pytest.raises(NetError) as err:
        _client().download(f"{srv.url}/{WHEEL}", tmp_path / "w.whl", sha256="0" * 64)
    assert err.value.code == "RS403"
    assert list(tmp_path.iterdir()) == []


def test_file_urls_and_ranges(tmp_path: Path) -> None:
    client = _client()
    page = client.get((ROOT / "simple" / "beta").as_uri() + "/")
    assert b"beta-1.0" in page.body
    tail = client.get_range((ROOT / WHEEL).as_uri(), None, 22)
    assert tail.status == 206 and tail.body.startswith(b"PK\x05\x06")
    listing = client.get((ROOT / "findlinks").as_uri())
    assert b"localpkg-0.3-py3-none-any.whl" in listing.body


def test_credentials_do_not_follow_a_redirect_to_another_host() -> None:
    other = Knobs()
    with IndexServer(other) as files_host:
        # same machine, other host name: a different origin for the client
        knobs = Knobs(auth=("alice", SECRET), redirect_files=files_host.url.replace("127.0.0.1", "localhost"))
        with IndexServer(knobs) as srv:
            url = srv.url.replace("http://", f"http://alice:{SECRET}@") + "/" + WHEEL
            resp = _client().get(url)
    assert resp.status == 200 and resp.body == (ROOT / WHEEL).read_bytes()
    assert [s for _p, s, _h in knobs.log] == [302]
    assert "authorization" in knobs.log[0][2]
    assert other.log and all("authorization" not in h for _p, _s, h in other.log)
