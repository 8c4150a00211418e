"""deploy/ is valid against the Kubernetes OpenAPI schemas (kubernetes-validate bundles them per release) and
cert-manager's CRD schemas (tests/fixtures/k8s-schemas, trimmed from cert-manager's CRDs), offline, and its
pieces agree with each other and with the CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from envresolve.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SCHEMAS = REPO / "tests" / "fixtures" / "k8s-schemas"
#: the oldest Kubernetes release the manifests target (the v1 webhook, policy/v1 and matchPolicy all exist) and
#: the newest one kubernetes-validate bundles
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CRD_SCHEMAS = {
    ("cert-manager.io/v1", "Certificate"): SCHEMAS / "certificate-cert-manager-v1.json",
    ("cert-manager.io/v1", "Issuer"): SCHEMAS / "issuer-cert-manager-v1.json",
}


def _docs() -> list[dict[str, Any]]:
    out = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        out += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return out


DOCS = _docs()


def _validate(doc: dict[str, Any], version: str) -> None:
    schema_path = CRD_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if schema_path is not None:
        jsonschema.validate(doc, json.loads(schema_path.read_text()))
    else:
        kubernetes_validate.validate(doc, version, strict=True)


def _one(kind: str) -> dict[str, Any]:
    found = [d for d in DOCS if d["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid(version: str) -> None:
    kinds = sorted(d["kind"] for d in DOCS)
    assert kinds == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Issuer",
            "Certificate",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ValidatingWebhookConfiguration",
        ]
    )
    for doc in DOCS:
        _validate(doc, version)


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("ValidatingWebhookConfiguration", ("webhooks", 0, "failurPolicy"), "Ignore"),  # misspelt field
        ("ValidatingWebhookConfiguration", ("webhooks", 0, "timeoutSeconds"), "5s"),
        ("Deployment", ("spec", "replicas"), "two"),
        ("Certificate", ("spec", "dnsName"), ["x"]),
        ("Issuer", ("spec", "selfSigned", "crlDistributionPoints"), "not-a-list"),
    ],
)
def test_the_validator_catches_mistakes(kind: str, path: tuple[Any, ...], value: Any) -> None:
    doc = copy.deepcopy(_one(kind))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        _validate(doc, VERSIONS[0])


def test_the_pieces_fit_together() -> None:
    vwc, svc, dep = _one("ValidatingWebhookConfiguration"), _one("Service"), _one("Deployment")
    cert, role = _one("Certificate"), _one("ClusterRole")
    (hook,) = vwc["webhooks"]
    assert hook["failurePolicy"] == "Ignore" and hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"] and 1 <= hook["timeoutSeconds"] <= 10
    (rule,) = hook["rules"]
    assert rule["apiGroups"] == ["dataset.baizeai.io"] and rule["resources"] == ["datasets"]
    assert sorted(rule["operations"]) == ["CREATE", "UPDATE"]
    ref = hook["clientConfig"]["service"]
    assert (ref["namespace"], ref["name"], ref["path"]) == (
        svc["metadata"]["namespace"],
        svc["metadata"]["name"],
        "/validate",
    )
    assert ref["port"] == svc["spec"]["ports"][0]["port"]
    # cert-manager: the cainjector annotation names the Certificate, whose Secret the Deployment mounts
    ns, name = vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"].split("/")
    assert (ns, name) == (cert["metadata"]["namespace"], cert["metadata"]["name"])
    assert f"{svc['metadata']['name']}.{ns}.svc" in cert["spec"]["dnsNames"]
    pod = dep["spec"]["template"]["spec"]
    secrets = [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
    assert secrets == [cert["spec"]["secretName"]]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]
    assert pod["serviceAccountName"] == _one("ServiceAccount")["metadata"]["name"]
    # the container's arguments are ones the CLI accepts, and the probes hit the server's endpoints
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "webhook" and args.nodes_from_api and not args.insecure_http
    assert args.tls_cert.startswith("/tls/") and args.review_timeout < hook["timeoutSeconds"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"][0]["containerPort"] == args.port
