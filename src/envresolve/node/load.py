"""`load_node(source)`: a file path or a bundled profile name -> node facts, whatever the file's format.

Sniffed formats: a node facts file (JSON or YAML, `schema_version` at the top), a Kubernetes `Node` or
`List` of Nodes, a conda-lock style virtual-packages file (`subdirs:`), saved Slurm `scontrol show node`
output (`NodeName=` first; multi-line or `-o`), and a directory holding facts files, manifests or
virtual-packages files. Every problem is an `InputError` carrying an ND/GN diagnostic; nothing else escapes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from envresolve._input import LimitError, loads_json, read_limited
from envresolve.diagnostics import Diagnostic, make
from envresolve.errors import InputError
from envresolve.limits import MAX_NODE_FILE_BYTES
from envresolve.node.conda import is_virtual_packages_obj, nodes_from_virtual_packages
from envresolve.node.facts import NodeFacts
from envresolve.node.infer import fill_inferred
from envresolve.node.profiles import load_profile

__all__ = ["MAX_NODE_FILE_BYTES", "load_node", "load_nodes", "parse_node_text", "read_node", "read_nodes"]

_SUFFIXES = {".json", ".yaml", ".yml"}


def load_node(source: str | os.PathLike[str]) -> NodeFacts:
    """One node from a file path or a bundled profile name. Raises `InputError`."""
    return read_node(source)[0]


def load_nodes(source: str | os.PathLike[str]) -> list[NodeFacts]:
    """Every node a source describes (a `List` of Nodes or a directory gives several). Raises `InputError`."""
    return [node for node, _ in read_nodes(source)]


def read_node(source: str | os.PathLike[str]) -> tuple[NodeFacts, list[Diagnostic]]:
    """Like `load_node`, with the findings made while loading (inferred facts, label warnings)."""
    nodes = read_nodes(source)
    if len(nodes) != 1:
        raise InputError(
            make(
                "ND202",
                f"{source} describes {len(nodes)} nodes where one was expected",
                subject=str(source),
                hint="pass one node, or use a command that takes several (load_nodes)",
            )
        )
    return nodes[0]


def read_nodes(source: str | os.PathLike[str]) -> list[tuple[NodeFacts, list[Diagnostic]]]:
    """Like `load_nodes`, with the findings made while loading each node."""
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir():
        # not only regular files: a FIFO or a link to a device among them is refused (GN106), not skipped silently
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES and not p.is_dir())
        if not files:
            raise InputError(make("ND203", f"directory {text} holds no .json/.yaml node files"))
        out: list[tuple[NodeFacts, list[Diagnostic]]] = []
        for f in files:
            out.extend(read_nodes(f))
        return out
    if path.exists() or os.sep in text or path.suffix.lower() in _SUFFIXES:
        return parse_node_text(_read(path), origin=text)
    profile = load_profile(text)
    node, diags = profile.to_node()
    return [(node, diags)]


def _read(path: Path) -> str:
    """The node file's text through the bounded reader: regular files only (GN106), at most 16 MiB (GN107)."""
    data = read_limited(path, limit=MAX_NODE_FILE_BYTES, what="node file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(make("ND202", f"{path} is not UTF-8 text")) from None


def _parse(text: str, origin: str) -> Any:
    json_error = ""
    if text.lstrip().startswith(("{", "[")):
        try:
            return loads_json(text)
        except LimitError as exc:
            raise InputError(exc.diagnostic(origin)) from None
        except json.JSONDecodeError as exc:
            json_error = str(exc)
    from envresolve import _yaml  # PyYAML loads only when a node file is read (profiles come parsed)

    try:
        docs = _yaml.load_documents(text)
    except _yaml.YamlError as exc:
        where = (
            f" at line {exc.line + 1}, column {exc.column + 1}"
            if exc.line is not None and exc.column is not None
            else ""
        )
        if exc.kind == "limit":
            raise InputError(make("ND202", f"{origin} is refused{where}: {exc.problem}")) from None
        problem = exc.problem or json_error or "syntax error"
        raise InputError(make("ND202", f"{origin} is not valid JSON or YAML{where}: {problem}")) from None
    if len(docs) > 1:
        raise InputError(make("ND202", f"{origin} holds {len(docs)} YAML documents; a node file holds one"))
    return docs[0] if docs else None


def parse_node_text(text: str, *, origin: str) -> list[tuple[NodeFacts, list[Diagnostic]]]:
    """Parse and sniff node description text (any supported format). Raises `InputError`."""
    from envresolve.node.facts_file import facts_from_obj, is_facts_obj
    from envresolve.node.kubernetes import is_kubernetes_obj, nodes_from_kubernetes
    from envresolve.node.slurm import is_scontrol_text, nodes_from_scontrol

    if is_scontrol_text(text):
        return nodes_from_scontrol(text, origin=origin)
    obj = _parse(text, origin)
    if is_facts_obj(obj):
        node = facts_from_obj(obj, origin=origin)
        return [(node, _driver_notes(obj, node))]
    if is_kubernetes_obj(obj):
        return [_with_inferred(node, diags) for node, diags in nodes_from_kubernetes(obj, origin=origin)]
    if isinstance(obj, dict) and obj.get("kind") is not None and "apiVersion" in obj:
        raise InputError(make("ND202", f"{origin}: Kubernetes kind {obj.get('kind')!r} is not a Node"))
    if is_virtual_packages_obj(obj):
        return nodes_from_virtual_packages(obj, origin=origin)
    raise InputError(
        make(
            "ND203",
            "not a node facts file, a Kubernetes Node or List, a conda virtual-packages file, nor saved "
            "`scontrol show node` output",
            subject=origin,
        )
    )


def _with_inferred(node: NodeFacts, diags: list[Diagnostic]) -> tuple[NodeFacts, list[Diagnostic]]:
    node, more = fill_inferred(node)
    return node, diags + more


def _driver_notes(obj: dict[str, Any], node: NodeFacts) -> list[Diagnostic]:
    """ND230 for a facts file that lists GPUs without a `driver` key (read as a driver of unknown version)."""
    if "driver" in obj or not node.gpus:
        return []
    return [
        make(
            "ND230",
            f"{node.label} lists {len(node.gpus)} GPU(s) but no `driver`: read as a driver whose version and CUDA "
            "level are unknown",
            subject="driver",
            node=node.label,
            hint='state the driver (envresolve probe --format json), or `"driver": null` for a node without one',
        )
    ]
