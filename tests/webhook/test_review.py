"""The pure decision (`envresolve.webhook.review`): what the server answers, without the server."""

from __future__ import annotations

import json

import pytest

from envresolve.node import load_nodes
from envresolve.webhook import Policy, decide, fleet_of, parse_review, response_for
from envresolve.webhook.review import BadReview
from tests.webhook.harness import CONFLICT, CU124, FLEET, dataset, review

NODES = load_nodes(FLEET)


def test_the_fleet_is_grouped_once() -> None:
    fleet = fleet_of(NODES, source="test")
    assert fleet.nodes == 6 and len(fleet.groups) == 3
    assert {g.names for g in fleet.groups} == {
        ("h100-a", "h100-b", "h100-c"),
        ("a100-old-driver-1", "a100-old-driver-2"),
        ("t4-legacy",),
    }


def test_without_node_facts_nothing_is_blocked() -> None:
    d = decide(review(dataset(**CONFLICT))["request"], None)
    assert d.allowed and d.outcome == "not-judged" and d.codes == ("WH103",)
    assert "no node facts" in d.warnings[0]


def test_decision_and_log_record() -> None:
    fleet = fleet_of(NODES, source="test")
    d = decide(review(dataset(**CONFLICT), uid="u")["request"], fleet, Policy())
    body = response_for(d)
    assert body["response"]["allowed"] is False and body["response"]["uid"] == "u"
    record = d.log_fields()
    assert record["codes"][:2] == ["WH101", "SP201"] and record["nodes_ok"] == 0
    assert "2.5.1" not in json.dumps(record) and "cuda-version" not in json.dumps(record)  # no spec contents
    partly = decide(review(dataset(**CU124))["request"], fleet, Policy(require="all"))
    assert not partly.allowed and partly.outcome == "runs-partly" and partly.nodes_ok == 5


def test_generate_name_and_request_namespace_name_the_dataset() -> None:
    obj = dataset(**CONFLICT)
    del obj["metadata"]["name"], obj["metadata"]["namespace"]
    obj["metadata"]["generateName"] = "env-"
    req = review(obj)["request"]
    req["namespace"] = "team-a"
    d = decide(req, fleet_of(NODES, source="test"))
    assert d.dataset == "Dataset team-a/env-" and "Dataset team-a/env- does not run" in d.message


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": []}',
        b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": 7}}',
        b"[" * 100_000,
    ],
)
def test_bad_reviews(body: bytes) -> None:
    with pytest.raises(BadReview):
        parse_review(body)


def test_the_checks_read_only_the_node_facts_the_webhook_groups_by() -> None:
    """The webhook checks one node per group of equal `NODE_FACTS`; a check reading another node fact (say
    `node.glibc`) would then be judged on an arbitrary member of the group. Fail here instead."""
    import ast
    import inspect
    import textwrap

    from envresolve.node.facts import NodeFacts
    from envresolve.specs import checks

    tree = ast.parse(inspect.getsource(checks))
    fields = set(NodeFacts.model_fields)
    read = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "node"
    }
    derived = {"label", "driver_version", "cuda_driver_version", "compute_capabilities"}  # properties over these
    identity = {"name", "source"}  # cited in messages and evidence, never deciding a verdict
    assert set(checks.NODE_FACTS) <= fields
    assert read - derived <= {*checks.NODE_FACTS, *identity}, read
    # the derived properties read only grouped facts (or the name, which never changes a verdict)
    for prop in derived & read:
        src = inspect.getsource(getattr(NodeFacts, prop).fget)
        used = {a.attr for a in ast.walk(ast.parse(textwrap.dedent(src))) if isinstance(a, ast.Attribute)}
        assert used & fields <= {*checks.NODE_FACTS, *identity}, (prop, used & fields)
