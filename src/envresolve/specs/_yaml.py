"""A bounded YAML reader that keeps positions.

PyYAML's composers recurse (the C one overflows the C stack on deeply nested input) and its constructors
will happily walk a "billion laughs" alias graph. This module builds its own small node tree from the
libyaml event stream with an explicit stack, limits the nesting depth, and measures the *expanded* size
of every alias graph without expanding it. Every node keeps its 0-based line and column.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from envresolve.diagnostics import Diagnostic, Location, make
from envresolve.errors import InputError

__all__ = ["MAX_DEPTH", "MAX_EXPANDED", "YNode", "compose_documents"]

#: deepest nesting of collections we accept (Kubernetes objects are ~20 deep)
MAX_DEPTH = 200
#: largest number of nodes a document may have once aliases are expanded
MAX_EXPANDED = 1_000_000

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

_SCALAR, _SEQ, _MAP = "scalar", "seq", "map"
_STR = "tag:yaml.org,2002:str"


@functools.lru_cache(maxsize=4096)
def _resolve_plain(value: str) -> str:
    """YAML 1.1 implicit tag of a plain scalar (PyYAML's resolver), cached: manifests repeat their values."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)))  # type: ignore[no-untyped-call]


@dataclass(eq=False)
class YNode:
    """One YAML node: a scalar (`value` is the text), a sequence (`items`) or a mapping (`pairs`)."""

    kind: str
    tag: str
    line: int  # 0-based
    column: int  # 0-based
    end_line: int
    value: str = ""
    style: str | None = None
    items: list[YNode] = field(default_factory=list)
    pairs: list[tuple[YNode, YNode]] = field(default_factory=list)
    size: int = 1  # expanded node count, aliases included
    _py: Any = None
    _done: bool = False

    @property
    def is_scalar(self) -> bool:
        return self.kind == _SCALAR

    @property
    def is_seq(self) -> bool:
        return self.kind == _SEQ

    @property
    def is_map(self) -> bool:
        return self.kind == _MAP

    def get(self, key: str) -> YNode | None:
        """The value node for a string key of a mapping (the last one when duplicated), else None."""
        found = None
        for k, v in self.pairs:
            if k.kind == _SCALAR and k.value == key:
                found = v
        return found

    def key_node(self, key: str) -> YNode | None:
        """The key node itself (for locations), else None."""
        found = None
        for k, _v in self.pairs:
            if k.kind == _SCALAR and k.value == key:
                found = k
        return found

    def py(self) -> Any:
        """The node as plain Python data (YAML 1.1 core types, as PyYAML's safe loader resolves them)."""
        if self._done:
            return self._py
        out: Any
        if self.kind == _SCALAR:
            out = _construct_scalar(self)
        elif self.kind == _SEQ:
            out = [i.py() for i in self.items]
        else:
            out = {}
            for k, v in self.pairs:
                key = k.py()
                if not isinstance(key, (str, int, float, bool, type(None))):
                    key = str(key)
                out[key] = v.py()
        self._py, self._done = out, True
        return out

    def text(self) -> str | None:
        """A scalar's value as written (no type resolution), or None for collections."""
        return self.value if self.kind == _SCALAR else None


def _construct_scalar(node: YNode) -> Any:
    if node.tag in ("tag:yaml.org,2002:str", "!"):
        return node.value
    pnode = yaml.ScalarNode(node.tag, node.value, style=node.style)
    try:
        if node.tag == "tag:yaml.org,2002:int":
            return _CONSTRUCTOR.construct_yaml_int(pnode)
        if node.tag == "tag:yaml.org,2002:float":
            return _CONSTRUCTOR.construct_yaml_float(pnode)
        if node.tag == "tag:yaml.org,2002:bool":
            return _CONSTRUCTOR.construct_yaml_bool(pnode)
        if node.tag == "tag:yaml.org,2002:null":
            return None
    except (ValueError, yaml.YAMLError):
        return node.value
    return node.value


def _line(mark: Any) -> int:
    return int(mark.line) if mark is not None else 0


def _col(mark: Any) -> int:
    return int(mark.column) if mark is not None else 0


def _error(code: str, message: str, file: str, mark: Any | None) -> InputError:
    loc = Location(file=file, line=mark.line + 1, column=mark.column + 1) if mark is not None else Location(file=file)
    return InputError(make(code, message, subject=file, location=loc))


def compose_documents(text: str, file: str) -> tuple[list[YNode | None], list[Diagnostic]]:
    """Every document of a YAML stream as a `YNode` tree (None for an empty document), plus duplicate-key warnings.

    Raises `InputError`: SP104 for a syntax error (with line and column), SP105 for input that is too deep
    or whose aliases expand beyond `MAX_EXPANDED` nodes.
    """
    docs: list[YNode | None] = []
    warnings: list[Diagnostic] = []
    try:
        for doc in _documents(yaml.parse(text, Loader=_Loader), file, warnings):
            docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise _error("SP104", f"YAML syntax error: {problem}", file, mark) from None
    except yaml.YAMLError as exc:
        raise _error("SP104", f"YAML error: {exc}", file, None) from None
    except RecursionError:
        raise _error("SP105", "YAML nesting is too deep", file, None) from None
    return docs, warnings


def _documents(events: Iterator[Any], file: str, warnings: list[Diagnostic]) -> Iterator[YNode | None]:
    anchors: dict[str, YNode] = {}
    # stack entries: [node, pending_key_or_None]
    stack: list[list[Any]] = []
    root: YNode | None = None
    for ev in events:
        if isinstance(ev, yaml.DocumentStartEvent):
            anchors = {}
            root = None
            continue
        if isinstance(ev, yaml.DocumentEndEvent):
            yield root
            continue
        if isinstance(ev, (yaml.StreamStartEvent, yaml.StreamEndEvent)):
            continue
        node: YNode | None = None
        if isinstance(ev, yaml.AliasEvent):
            target = anchors.get(ev.anchor or "")
            if target is None:
                raise _error("SP104", f"YAML alias *{ev.anchor} refers to no anchor", file, ev.start_mark)
            if any(entry[0] is target for entry in stack):
                raise _error("SP105", f"YAML alias *{ev.anchor} refers to a node that contains it", file, ev.start_mark)
            node = target
        elif isinstance(ev, yaml.ScalarEvent):
            tag = ev.tag
            if tag == "!" or (tag is None and ev.style):  # quoted and block scalars are strings
                tag = _STR
            elif tag is None:
                tag = _resolve_plain(ev.value)
            node = YNode(
                kind=_SCALAR,
                tag=tag,
                line=_line(ev.start_mark),
                column=_col(ev.start_mark),
                end_line=_line(ev.end_mark),
                value=ev.value,
                style=ev.style,
            )
            if ev.anchor:
                anchors[ev.anchor] = node
        elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise _error("SP105", f"YAML nesting deeper than {MAX_DEPTH} levels", file, ev.start_mark)
            kind = _SEQ if isinstance(ev, yaml.SequenceStartEvent) else _MAP
            coll = YNode(
                kind=kind,
                tag=ev.tag or ("tag:yaml.org,2002:seq" if kind == _SEQ else "tag:yaml.org,2002:map"),
                line=_line(ev.start_mark),
                column=_col(ev.start_mark),
                end_line=_line(ev.start_mark),
            )
            if ev.anchor:
                anchors[ev.anchor] = coll
            stack.append([coll, None, set()])
            continue
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            entry = stack.pop()
            node = entry[0]
            node.end_line = _line(ev.end_mark)
            if node.size > MAX_EXPANDED:
                raise _error(
                    "SP105",
                    f"YAML aliases expand to more than {MAX_EXPANDED} nodes (an alias bomb?)",
                    file,
                    ev.start_mark,
                )
        if node is None:
            continue
        if not stack:
            root = node
            continue
        parent = stack[-1]
        pnode: YNode = parent[0]
        if pnode.kind == _SEQ:
            pnode.items.append(node)
            pnode.size += node.size
        elif parent[1] is None:
            parent[1] = node
        else:
            key: YNode = parent[1]
            parent[1] = None
            if key.kind == _SCALAR:
                if key.value in parent[2]:
                    warnings.append(
                        make(
                            "SP109",
                            f"duplicate key {key.value!r}: YAML keeps only the last value",
                            subject=key.value,
                            location=Location(file=file, line=key.line + 1, column=key.column + 1),
                        )
                    )
                parent[2].add(key.value)
            pnode.pairs.append((key, node))
            pnode.size += key.size + node.size
        if pnode.size > MAX_EXPANDED:
            raise _error(
                "SP105", f"YAML aliases expand to more than {MAX_EXPANDED} nodes (an alias bomb?)", file, ev.start_mark
            )
