"""Node files read as YAML go through the bounded reader: same data as PyYAML's safe loader, hostile input refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from envresolve._yaml import YamlError, load_documents
from envresolve.errors import InputError
from envresolve.node import load_node, load_nodes

FIX = Path(__file__).parent / "fixtures"

SAME_AS_SAFE_LOAD = [
    "a: 1\n",
    "",
    "a: [1, 2.5, true, null, ~, '3', 0x1f, 1_000, 0o17, 1:30, .inf, 2024-01-01, yes, Off]\n",
    "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
    "m:\n  <<: [{a: 1}, {a: 2, b: 2}]\n  c: 3\n",
    "a: &a [1]\nb: *a\n",
    "x: !!str 12\ny: !!int '7'\nz: !!float '1'\nw: ! 5\n",
    "k: |\n  text\n",
    "a: b\na: c\n",
    "=: 1\n",
    "- -1\n- +5\n- 0.5e3\n",
]


@pytest.mark.parametrize("text", SAME_AS_SAFE_LOAD)
def test_data_matches_safe_load(text: str) -> None:
    docs = load_documents(text)
    assert (docs[0] if docs else None) == yaml.safe_load(text)


@pytest.mark.parametrize("text", ["? [1]\n: 2\n", "a: <<\n", "k: =\n", "a: !foo 1\n", "a: !!int x\n"])
def test_what_safe_load_refuses_is_refused(text: str) -> None:
    with pytest.raises((yaml.YAMLError, ValueError)):
        yaml.safe_load(text)
    with pytest.raises(YamlError) as exc:
        load_documents(text)
    assert exc.value.kind == "syntax"


def test_fixtures_read_as_before() -> None:
    for name in ("node-gfd-nfd.yaml", "node-deprecated-only.yaml", "nodes-list.yaml", "virtual-packages.yaml"):
        text = (FIX / name).read_text()
        assert load_documents(text) == [yaml.safe_load(text)]


def _refused(path: Path, *, seconds: float = 5.0, code: str = "ND202") -> InputError:
    start = time.perf_counter()
    with pytest.raises(InputError) as exc:
        load_node(path)
    assert time.perf_counter() - start < seconds
    assert exc.value.code == code
    return exc.value


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("apiVersion: v1\nkind: Node\nmetadata:\n  labels:\n" + "".join(f"    {x}\n" for x in lines))
    err = _refused(path)
    assert "alias bomb" in err.diagnostics[0].message


# valid JSON meets the JSON nesting limit (GN108); text that is no JSON is then read as YAML, with its own (ND202)
@pytest.mark.parametrize(("opener", "code"), [("[", "GN108"), ("{a: ", "ND202"), ("a: {", "ND202")])
def test_deep_nesting_is_refused_without_crashing(tmp_path: Path, opener: str, code: str) -> None:
    closer = "]" if opener == "[" else "}"
    path = tmp_path / "deep.yaml"
    path.write_text(opener * 200_000 + closer * 200_000)
    err = _refused(path, code=code)
    assert "deeper than" in err.diagnostics[0].message


def test_block_style_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep-block.yaml"
    path.write_text("".join(" " * i + f"k{i}:\n" for i in range(300)))
    _refused(path)


def test_recursive_alias_and_multiple_documents_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    path.write_text("apiVersion: v1\nkind: Node\nmetadata: &m {labels: *m}\n")
    assert "contains it" in _refused(path).diagnostics[0].message
    path.write_text("apiVersion: v1\nkind: Node\n---\napiVersion: v1\nkind: Node\n")
    assert "2 YAML documents" in _refused(path).diagnostics[0].message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}\n")
    assert "at line 4" in _refused(path).diagnostics[0].message


def test_yaml_and_json_lists_agree(tmp_path: Path) -> None:
    import json

    obj = yaml.safe_load((FIX / "nodes-list.yaml").read_text())
    as_json = tmp_path / "nodes.json"
    as_json.write_text(json.dumps(obj))
    assert load_nodes(as_json) == [
        n.model_copy(update={"source": str(as_json) + n.source.split("nodes-list.yaml")[1]})
        for n in load_nodes(FIX / "nodes-list.yaml")
        if n.source
    ]


def _varied_manifests() -> list[dict[str, object]]:
    """The fixture Nodes, plus copies that differ in the facts the memoized conversion keys on."""
    base = [yaml.safe_load((FIX / n).read_text()) for n in ("node-gfd-nfd.yaml", "node-deprecated-only.yaml")]
    base += yaml.safe_load((FIX / "nodes-list.yaml").read_text())["items"]
    out: list[dict[str, object]] = []
    nfd = "feature.node.kubernetes.io/"
    variants: list[dict[str, str]] = [
        {},
        {f"{nfd}system-os_release.ID": "rocky", f"{nfd}system-os_release.VERSION_ID": "9.3"},
        {f"{nfd}system-os_release.VERSION_ID": "23.10"},  # no table row: ND206
        {"nvidia.com/gpu.count": "2", "nvidia.com/gpu.memory": "x"},  # ND205
        {f"{nfd}cpu-cpuid.AVX2": "true", f"{nfd}cpu-cpuid.FMA3": "true", f"{nfd}cpu-cpuid.AVX": "true"},
        {"kubernetes.io/arch": "arm64"},
    ]  # fmt: skip
    for i, manifest in enumerate(base):
        for j, extra in enumerate(variants):
            m = yaml.safe_load(yaml.safe_dump(manifest))
            m["metadata"]["name"] = f"n{i}-{j}"
            m["metadata"].setdefault("labels", {}).update(extra)
            out.append(m)
    return out


def test_a_list_gives_the_same_facts_as_each_node_alone(tmp_path: Path) -> None:
    from envresolve.node import read_nodes

    items = _varied_manifests()
    listed = tmp_path / "list.yaml"
    listed.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    together = read_nodes(listed)
    assert len(together) == len(items)
    codes = set()
    for i, (manifest, (node, diags)) in enumerate(zip(items, together, strict=True)):
        alone_path = tmp_path / f"node{i}.yaml"
        alone_path.write_text(yaml.safe_dump(manifest))
        (alone, alone_diags), *rest = read_nodes(alone_path)
        assert rest == []
        assert node.source == f"{listed}#items[{i}]"
        assert node == alone.model_copy(update={"source": node.source})
        assert diags == alone_diags
        codes |= {d.code for d in diags}
    assert {"ND205", "ND206", "ND207", "ND208"} <= codes  # the variants reach every kind of finding
    assert len({n.name for n, _ in together}) == len(items)
