"""Node facts listed live through the official Kubernetes client, from a local stand-in for the API server
(HTTPS with the test CA, bearer token, `limit`/`continue` paging as the Kubernetes API defines it)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from envresolve.errors import InputError
from envresolve.webhook.nodes import ApiNodes
from tests.webhook.harness import CU124, FLEET, dataset, free_port, review, start
from tests.webhook.tls import CertAuthority

TOKEN = "test-token-not-a-secret"


class FakeApiServer:
    """GET /api/v1/nodes: a NodeList page of `limit` items; `metadata.continue` is the next offset."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.requests: list[dict[str, str]] = []

    async def nodes(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.query))
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credentials != TOKEN:  # the scheme is case-insensitive (RFC 7235)
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        start = int(request.query.get("continue") or 0)
        limit = int(request.query.get("limit") or 500)
        page = self.items[start : start + limit]
        more = start + limit < len(self.items)
        body = {
            "kind": "NodeList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "1", **({"continue": str(start + limit)} if more else {})},
            # list responses carry items without kind/apiVersion
            "items": [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in page],
        }
        return web.json_response(body)


@pytest.fixture(scope="module")
def api(workdir: Path, ca: CertAuthority) -> Iterator[tuple[FakeApiServer, Path]]:
    cert, key = workdir / "api.crt", workdir / "api.key"
    ca.issue(cert, key, cn="kube-apiserver")
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    fake = FakeApiServer(yaml.safe_load(FLEET.read_text())["items"])
    port = free_port()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/api/v1/nodes", fake.nodes)
    runner = web.AppRunner(app, access_log=None)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "fake",
                        "cluster": {"server": f"https://127.0.0.1:{port}", "certificate-authority": str(ca.path)},
                    }
                ],
                "users": [{"name": "webhook", "user": {"token": TOKEN}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "webhook"}}],
                "current-context": "fake",
            }
        )
    )
    yield fake, kubeconfig
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def test_nodes_are_listed_in_pages_and_read_from_their_labels(api: tuple[FakeApiServer, Path]) -> None:
    fake, kubeconfig = api
    fake.requests.clear()
    fleet = ApiNodes(kubeconfig=str(kubeconfig), page_size=4, label_selector="nvidia.com/gpu.present=true").load()
    assert fleet.nodes == 6 and len(fleet.groups) == 3
    assert [r.get("continue") for r in fake.requests] == [None, "4"]
    assert all(r["labelSelector"] == "nvidia.com/gpu.present=true" and r["limit"] == "4" for r in fake.requests)
    t4 = next(g for g in fleet.groups if g.names == ("t4-legacy",))
    assert t4.node.driver is not None and t4.node.driver.version == "470.256.02"
    assert t4.node.compute_capabilities == ("7.5",)


def test_unreachable_api_server_is_a_coded_error(workdir: Path, ca: CertAuthority) -> None:
    kubeconfig = workdir / "kubeconfig-nowhere"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "x", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    with pytest.raises(InputError) as info:
        ApiNodes(kubeconfig=str(kubeconfig), timeout=2).load()
    assert info.value.code == "WH104"


def test_webhook_judges_against_live_nodes_and_relists_them(
    api: tuple[FakeApiServer, Path], workdir: Path, ca: CertAuthority
) -> None:
    fake, kubeconfig = api
    d = workdir / "live"
    d.mkdir()
    cert, key = d / "tls.crt", d / "tls.key"
    ca.issue(cert, key)
    srv = start(
        [
            "--nodes-from-api",
            "--kubeconfig",
            str(kubeconfig),
            "--refresh-interval",
            "0.3",
            "--reload-interval",
            "0.1",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        workdir=d,
        ca=ca.path,
    )
    everything = list(fake.items)
    try:
        resp = srv.post_review(review(dataset(**CU124)))["response"]
        assert resp["allowed"] is True and resp["warnings"][0].endswith("cannot run on 1 of 6 nodes")
        fake.items = [i for i in everything if i["metadata"]["name"] == "t4-legacy"]  # the fleet shrinks
        deadline = time.monotonic() + 10
        while srv.post_review(review(dataset(**CU124)))["response"]["allowed"]:
            assert time.monotonic() < deadline, srv.log.read_text()
            time.sleep(0.1)
    finally:
        fake.items = everything
        srv.stop()


def test_in_cluster_config_reads_the_service_account(
    api: tuple[FakeApiServer, Path], workdir: Path, ca: CertAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a Pod has: KUBERNETES_SERVICE_HOST/PORT and the service account's token and CA files (their paths are
    the client's constants, pointed here at test files)."""
    from kubernetes.config import incluster_config

    fake, kubeconfig = api
    server = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    token = workdir / "sa-token"
    token.write_text(TOKEN)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca.path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(InputError) as info:
        ApiNodes().load()  # not in a Pod
    assert info.value.code == "WH104" and "Service host/port is not set" in info.value.diagnostics[0].message
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", server.rsplit(":", 1)[1])
    fleet = ApiNodes().load()
    assert fleet.nodes == len(fake.items) and fleet.source == "Kubernetes API (in-cluster)"
