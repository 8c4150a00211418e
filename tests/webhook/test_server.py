"""The real `envresolve webhook` process, called as kube-apiserver calls it: HTTPS with a test CA, AdmissionReview
v1 JSON in, AdmissionReview v1 JSON out."""

from __future__ import annotations

import json
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography import x509

from envresolve.cli import main
from tests.webhook.harness import CONFLICT, CU124, FLEET, Server, dataset, fleet_subset, review, start
from tests.webhook.tls import CertAuthority


def test_denies_a_dataset_that_runs_on_no_node(server: Server) -> None:
    doc = review(dataset(**CONFLICT), uid="705ab4f5-6393-11e8-b7cc-42010a800002")
    out = server.post_review(doc)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    resp = out["response"]
    assert resp["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002"
    assert resp["allowed"] is False
    assert resp["status"]["code"] == 403
    message = resp["status"]["message"]
    assert "Dataset ml/torch-env does not run on any of the 6 nodes" in message
    assert "SP201" in message and "Fix:" in message
    assert "h100-a" in message and "t4-legacy" in message  # the node groups that cannot run it


def test_warns_when_only_some_nodes_can_run_it(server: Server) -> None:
    out = server.post_review(review(dataset(**CU124), uid="uid-partly"))
    resp = out["response"]
    assert resp["uid"] == "uid-partly" and resp["allowed"] is True
    assert "status" not in resp
    warnings = resp["warnings"]
    assert warnings[0] == "envresolve: Dataset ml/torch-env cannot run on 1 of 6 nodes"
    assert any("t4-legacy" in w and "CP101" in w and "470.256.02" in w for w in warnings[1:])  # the judge's code
    assert all(len(w) <= 240 for w in warnings)


def test_allows_silently_what_runs_everywhere_and_what_is_not_ours(server: Server) -> None:
    for doc in (
        review(dataset()),  # numpy + transformers: runs on every node
        review(dataset(source_type="S3")),  # another source type
        review({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}),
        review(dataset(**CONFLICT), operation="DELETE"),
        review({"apiVersion": "dataset.baizeai.io/v1alpha1", "kind": "Dataset", "spec": "???"}),
    ):
        resp = server.post_review(doc)["response"]
        assert resp == {"uid": doc["request"]["uid"], "allowed": True}


def test_update_is_judged_unless_the_source_is_unchanged(server: Server) -> None:
    bad, good = dataset(**CONFLICT), dataset()
    assert server.post_review(review(bad, operation="UPDATE", old=good))["response"]["allowed"] is False
    # a label or finalizer change of a Dataset that no node can run any more is never blocked
    relabelled = json.loads(json.dumps(bad))
    relabelled["metadata"]["labels"] = {"team": "ml"}
    resp = server.post_review(review(relabelled, operation="UPDATE", old=bad))["response"]
    assert resp["allowed"] is True and "unchanged" in resp["warnings"][0]


def test_malformed_body_is_400_and_the_server_keeps_serving(server: Server) -> None:
    for body in (
        b"{not json",
        b"[]",
        b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}',
        json.dumps(
            {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}
        ).encode(),
        b"\xff\xfe" * 10,
    ):
        status, out = server.request("POST", "/validate", body)
        assert status == 400, body
        assert "error" in json.loads(out)
    assert server.post_review(review(dataset()))["response"]["allowed"] is True
    assert server.request("GET", "/healthz")[0] == 200


def test_oversized_body_is_413(server: Server) -> None:
    obj = dataset()
    obj["metadata"]["annotations"] = {"padding": "x" * 200_000}  # the limit is 64 KiB in this server
    status, _ = server.request("POST", "/validate", json.dumps(review(obj)).encode())
    assert status == 413
    assert server.post_review(review(dataset()))["response"]["allowed"] is True


def test_a_body_that_does_not_arrive_in_time_is_408(server: Server) -> None:
    ctx = server.context()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n")
        tls.sendall(b'Content-Length: 1000\r\n\r\n{"apiVersion": ')  # and then nothing
        reply = tls.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    assert server.post_review(review(dataset()))["response"]["allowed"] is True


def test_a_review_past_its_deadline_is_allowed_with_a_warning(workdir: Path) -> None:
    hurried = start(
        ["--nodes", str(FLEET), "--insecure-http", "--review-timeout", "0.000001"], workdir=workdir, ca=None
    )
    try:
        resp = hurried.post_review(review(dataset(**CONFLICT), uid="late"))["response"]
        assert resp["uid"] == "late" and resp["allowed"] is True
        assert "not checked" in resp["warnings"][0] and "longer than" in resp["warnings"][0]
    finally:
        hurried.stop()


def test_fifty_concurrent_reviews_are_all_answered(server: Server) -> None:
    docs = [review(dataset(**(CONFLICT if i % 2 else CU124), name=f"env-{i}"), uid=f"uid-{i}") for i in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(server.post_review, docs))
    for i, out in enumerate(answers):
        assert out["response"]["uid"] == f"uid-{i}"
        assert out["response"]["allowed"] is (i % 2 == 0)


def test_probes_and_structured_logs_without_spec_contents(server: Server) -> None:
    status, body = server.request("GET", "/readyz")
    assert status == 200 and json.loads(body) == {"status": "ready", "nodes": 6, "groups": 3}
    server.post_review(review(dataset(**CU124), uid="uid-logged"))
    deadline = time.monotonic() + 5
    while not any(r.get("uid") == "uid-logged" for r in server.logs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    record = next(r for r in server.logs() if r.get("uid") == "uid-logged")
    assert record["event"] == "review" and record["outcome"] == "runs-partly"
    assert record["codes"] == ["WH102", "CP101"] and record["nodes_ok"] == 5
    text = server.log.read_text()
    assert all(line.startswith("{") for line in text.splitlines()), text[:500]  # JSON lines only
    assert "torch==2.5.1" not in text and "cuda-version" not in text and "condaEnvironmentYml" not in text


def _served_cert(port: int, ca: Path) -> x509.Certificate:
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_renewed_certificate_and_changed_node_file_are_reloaded(workdir: Path, ca: CertAuthority) -> None:
    d = workdir / "reload"
    d.mkdir()
    cert, key = d / "tls.crt", d / "tls.key"
    first = ca.issue(cert, key, cn="first")
    nodes = fleet_subset(d / "nodes.json", ["t4-legacy"])
    srv = start(
        ["--nodes", str(nodes), "--tls-cert", str(cert), "--tls-key", str(key), "--reload-interval", "0.2"],
        workdir=d,
        ca=ca.path,
    )
    try:
        assert _served_cert(srv.port, ca.path).serial_number == first.serial_number
        assert srv.post_review(review(dataset(**CU124)))["response"]["allowed"] is False  # T4 only: no node runs it

        second = ca.issue(cert, key, cn="second")  # what cert-manager does when it renews the Secret
        fleet_subset(nodes, ["t4-legacy", "h100-a"])
        deadline = time.monotonic() + 10
        while _served_cert(srv.port, ca.path).serial_number != second.serial_number:
            assert time.monotonic() < deadline, srv.log.read_text()
            time.sleep(0.1)
        while (resp := srv.post_review(review(dataset(**CU124)))["response"])["allowed"] is False:
            assert time.monotonic() < deadline, srv.log.read_text()
            time.sleep(0.1)
        assert resp["warnings"][0].endswith("cannot run on 1 of 2 nodes")
        events = [r["event"] for r in srv.logs()]
        assert "tls-reloaded" in events and events.count("nodes-loaded") == 2
    finally:
        srv.stop()


def test_require_all_and_dry_run(workdir: Path) -> None:
    strict = start(["--nodes", str(FLEET), "--insecure-http", "--require", "all"], workdir=workdir, ca=None)
    try:
        resp = strict.post_review(review(dataset(**CU124)))["response"]
        assert resp["allowed"] is False and "1 of the 6 nodes" in resp["status"]["message"]
        assert strict.post_review(review(dataset()))["response"]["allowed"] is True
    finally:
        strict.stop()
    dry = start(["--nodes", str(FLEET), "--insecure-http", "--dry-run"], workdir=workdir, ca=None)
    try:
        resp = dry.post_review(review(dataset(**CONFLICT)))["response"]
        assert resp["allowed"] is True and "dry run" in resp["warnings"][0]
    finally:
        dry.stop()


def test_insecure_http_refuses_anything_but_loopback(capsys: object) -> None:
    for host in ("0.0.0.0", "10.1.2.3", "::", "example.internal"):
        assert main(["webhook", "--nodes", str(FLEET), "--insecure-http", "--host", host]) == 2
    assert main(["webhook", "--nodes", str(FLEET), "--port", "1"]) == 2  # TLS without cert/key files
