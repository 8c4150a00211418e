from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.errors import InputError
from envresolve.node import load_node
from envresolve.node.facts import (
    NODE_FACTS_SCHEMA_VERSION,
    CpuFacts,
    DriverFacts,
    GpuFacts,
    LibStdCxxFacts,
    NodeFacts,
    OsFacts,
    Provenance,
)
from envresolve.node.load import parse_node_text
from envresolve.node.schema import SCHEMA_PATH, node_facts_json_schema, render_schema

FIX = Path(__file__).parent / "fixtures"

versions = st.lists(st.integers(0, 999), min_size=1, max_size=3).map(lambda p: ".".join(map(str, p)))
ccs = st.tuples(st.integers(1, 12), st.integers(0, 9)).map(lambda t: f"{t[0]}.{t[1]}")
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
gpus = st.builds(
    GpuFacts,
    index=st.integers(0, 64),
    name=names,
    uuid=st.none() | names,
    compute_capability=ccs,
    memory_mib=st.none() | st.integers(0, 10**6),
    mig_enabled=st.none() | st.booleans(),
)
nodes = st.builds(
    NodeFacts,
    name=st.none() | names,
    source=st.none() | names,
    os=st.builds(OsFacts, id=st.none() | names, version_id=st.none() | versions, kernel=st.none() | names),
    cpu=st.builds(
        CpuFacts, arch=st.sampled_from(["x86_64", "aarch64", "ppc64le"]), microarch_level=st.none() | st.integers(1, 4)
    ),
    glibc=st.none() | versions,
    libstdcxx=st.none()
    | st.builds(LibStdCxxFacts, path=st.none() | names, glibcxx=st.none() | versions, cxxabi=st.none() | versions),
    driver=st.none() | st.builds(DriverFacts, version=st.none() | versions, cuda=st.none() | versions),
    gpus=st.lists(gpus, max_size=4).map(tuple),
    cuda_arch=st.none() | ccs,
    provenance=st.dictionaries(st.sampled_from(["os", "glibc", "gpus", "driver"]), st.sampled_from(list(Provenance))),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes)
def test_json_round_trip(node: NodeFacts) -> None:
    text = node.to_json()
    again = NodeFacts.model_validate_json(text)
    assert again == node
    assert again.to_json() == text
    ((loaded, _),) = parse_node_text(text, origin="x.json")
    assert loaded.same_facts(node)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    obj = json.loads((FIX / "node-gfd-nfd.facts.json").read_text())
    obj["schema_version"] = NODE_FACTS_SCHEMA_VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(InputError) as exc:
        load_node(path)
    assert exc.value.code == "ND201"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"schema_version": 1, "gpus": [{"index": 0}]}', "ND202"),
        ('{"schema_version": 1, "glibc": "two"}', "ND202"),
        ('{"schema_version": 1, "unknown_field": 1}', "ND202"),
        ('{"schema_version": "1"}', "ND202"),
        ('{"schema_version": 1,', "ND202"),
        ("[1, 2, 3]", "ND203"),
        ("just a string", "ND203"),
        ("", "ND203"),
    ],
)
def test_invalid_facts(text: str, code: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_node_text(text, origin="f.json")
    assert exc.value.code == code


def test_yaml_facts_file_is_read(tmp_path: Path) -> None:
    import yaml

    node = load_node(FIX / "node-gfd-nfd.facts.json")
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(node.model_dump(mode="json")))
    assert load_node(path) == node


def test_schema_file_is_in_sync() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), "run python -m envresolve.node.schema"


def test_facts_validate_against_the_exported_schema() -> None:
    import jsonschema

    schema = node_facts_json_schema()
    for name in ("node-gfd-nfd.facts.json",):
        jsonschema.validate(json.loads((FIX / name).read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "gpus": [{"index": -1}]}, schema)
