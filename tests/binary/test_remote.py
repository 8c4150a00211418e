"""Wheels by URL, against loopback servers: one that honours Range, one that does not, and dead ones."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from envresolve.binary import inspect
from envresolve.errors import InputError
from tests.fixtures.archives import build


class _Handler(BaseHTTPRequestHandler):
    root: Path
    ranges: bool
    log: list[tuple[str, str | None, str | None]]
    sent: list[int]

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.log.append((self.path, self.headers.get("Range"), self.headers.get("Authorization")))
        path = self.root / self.path.split("?", 1)[0].lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        rng = self.headers.get("Range")
        if self.ranges and rng and rng.startswith("bytes="):
            lo_s, hi_s = rng[6:].split("-")
            if lo_s == "":
                lo, hi = max(0, len(data) - int(hi_s)), len(data) - 1
            else:
                lo, hi = int(lo_s), min(int(hi_s) if hi_s else len(data) - 1, len(data) - 1)
            body = data[lo : hi + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {lo}-{hi}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{len(data)}"')
        self.end_headers()
        self.wfile.write(body)
        self.sent.append(len(body))


@pytest.fixture(params=[True, False], ids=["range", "no-range"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list, bool]]:  # type: ignore[type-arg]
    log: list[tuple[str, str | None, str | None]] = []
    sent: list[int] = []
    handler = type("H", (_Handler,), {"root": tmp_path, "ranges": request.param, "log": log, "sent": sent})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", (log, sent), request.param
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_wheel_by_url_matches_local(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, (log, sent), ranges = server
    rnd = random.Random(7)
    extra = [(f"demo/data/blob{i}.bin", rnd.randbytes(200_000)) for i in range(8)]  # bytes we should not fetch
    w = build.demo_wheel(tmp_path, extra=extra)
    local = inspect(w, cache=False)
    remote = inspect(f"{base}/{w.name}", cache=False)
    assert remote.artifact == f"{base}/{w.name}"
    assert remote.elf == local.elf
    assert remote.max_glibc == "2.34" and remote.platform_tag == "manylinux2014_x86_64"
    codes = [d.code for d in remote.diagnostics]
    if ranges:
        assert all(r is not None for _, r, _ in log)
        assert sum(sent) < w.stat().st_size / 2
        assert "BN702" not in codes
        assert remote.sha256 is None  # nothing read the whole file
    else:
        assert "BN702" in codes
        assert remote.sha256 == local.sha256


def test_sha_fragment_and_cache(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    base, (log, _sent), ranges = server
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    w = build.demo_wheel(tmp_path)
    sha = inspect(w, cache=False).sha256
    url = f"{base}/{w.name}#sha256={sha}"
    first = inspect(url)
    n = len(log)
    second = inspect(url)
    assert second.elf == first.elf
    if ranges:
        # ranges never hash the whole file: the claimed sha256 is not trusted as a cache key nor recorded,
        # the report is cached under the URL and its ETag (one tail request to see the validators)
        assert len(log) == n + 1 and second.sha256 is None
    else:
        assert len(log) == n and second.sha256 == sha  # hashed, verified, cached by sha256: no request


def test_claimed_sha_of_another_file_is_not_believed(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    base, _log, ranges = server
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    w = build.demo_wheel(tmp_path)
    real = inspect(w)  # cached under its verified sha256
    other = tmp_path / "other-1.0-py3-none-any.whl"
    other.write_bytes(w.read_bytes() + b"\0")  # a different file: different sha256
    url = f"{base}/{other.name}#sha256={real.sha256}"
    if ranges:
        r = inspect(url)
        assert r.sha256 is None and r.name == "other"  # read, not taken from the poisoned key
    else:
        with pytest.raises(InputError) as err:
            inspect(url)
        assert err.value.code == "RS403"


def test_credentials_are_masked_and_sent_as_basic_auth(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, (log, _sent), _ = server
    w = build.demo_wheel(tmp_path)
    url = base.replace("http://", "http://alice:s3cret@") + f"/{w.name}"
    r = inspect(url, cache=False)
    assert "s3cret" not in r.model_dump_json() and "****@" in r.artifact
    assert all(auth and auth.startswith("Basic ") for _, _, auth in log)
    with pytest.raises(InputError) as err:
        inspect(url.replace(w.name, "missing-1.0-py3-none-any.whl"), cache=False)
    assert err.value.code == "BN701" and "s3cret" not in str(err.value.diagnostics)
    assert "404" in err.value.diagnostics[0].message


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """inspect shares the resolver's HTTP client: the same bounded retries, here with a short backoff."""
    import envresolve.net

    monkeypatch.setattr(envresolve.net, "BACKOFF", 0.01)


@pytest.mark.usefixtures("fast_retries")
def test_dead_server_is_bn701() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError) as err:
        inspect(f"http://127.0.0.1:{port}/x-1.0-py3-none-any.whl", cache=False, timeout=2)
    assert err.value.code == "BN701"


@pytest.mark.usefixtures("fast_retries")
def test_silent_server_times_out() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(InputError) as err:
            inspect(f"http://127.0.0.1:{port}/x-1.0-py3-none-any.whl", cache=False, timeout=0.5)
    assert err.value.code == "BN701" and "timed out" in err.value.diagnostics[0].message


@pytest.mark.parametrize("maker", [build.demo_conda, build.demo_tar_bz2])
def test_conda_package_by_url(server, tmp_path: Path, maker) -> None:  # type: ignore[no-untyped-def]
    base, (log, _sent), _ = server
    pkg = maker(tmp_path)
    local = inspect(pkg, cache=False)
    r = inspect(f"{base}/{pkg.name}", cache=False)
    assert r.kind == "conda" and r.name == "demo" and r.artifact == f"{base}/{pkg.name}"
    assert r.elf == local.elf and r.sha256 == local.sha256
    assert all(d.subject is None or d.subject.startswith(base) for d in r.diagnostics)
    assert sorted(d.code for d in r.diagnostics) == sorted(d.code for d in local.diagnostics)
    assert [rng for _, rng, _ in log] == [None]  # one plain download, no range probing
