"""A bounded YAML reader for user input: libyaml's event stream, composed with an explicit stack.

PyYAML's composers recurse (the C one overflows the C stack on deeply nested input) and its constructors
will happily walk a "billion laughs" alias graph. This module reads libyaml's event stream itself, with an
explicit stack, limits the nesting depth, and measures the *expanded* size of every alias graph without
expanding it. Two readers share those limits:

- `compose_documents`: a small node tree (`YNode`) that keeps 0-based lines and columns, for readers that
  point at positions (spec files);
- `load_documents`: plain Python data, as `yaml.safe_load` would build it (YAML 1.1 core types, merge
  keys), without positions, for readers that only need the data (node manifests; about 6x faster).

Both raise `YamlError`; callers turn it into their own diagnostic. Nothing here depends on the rest of
envresolve.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

__all__ = ["MAX_DEPTH", "MAX_EXPANDED", "Duplicate", "YNode", "YamlError", "compose_documents", "load_documents"]

#: deepest nesting of collections we accept (Kubernetes objects are ~20 deep)
MAX_DEPTH = 200
#: largest number of nodes a document may have once aliases are expanded
MAX_EXPANDED = 1_000_000

_Parser: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
#: first characters for which a plain scalar may resolve to something other than a string
_IMPLICIT_FIRST = frozenset(k for k in _RESOLVER.yaml_implicit_resolvers if k)

_SCALAR, _SEQ, _MAP = "scalar", "seq", "map"
_STR = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlError(Exception):
    """YAML that cannot be read: `kind` "syntax" (malformed) or "limit" (too deep, alias bomb, recursive alias).

    `line` and `column` are 0-based, or None where libyaml gave no position.
    """

    def __init__(self, kind: Literal["syntax", "limit"], problem: str, line: int | None, column: int | None) -> None:
        super().__init__(problem)
        self.kind = kind
        self.problem = problem
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Duplicate:
    """A mapping key written twice (YAML keeps the last value); 0-based position of the second one."""

    key: str
    line: int
    column: int


def _at(kind: Literal["syntax", "limit"], problem: str, mark: Any | None) -> YamlError:
    if mark is None:
        return YamlError(kind, problem, None, None)
    return YamlError(kind, problem, int(mark.line), int(mark.column))


def _bomb(mark: Any) -> YamlError:
    return _at("limit", f"YAML aliases expand to more than {MAX_EXPANDED} nodes (an alias bomb?)", mark)


def _too_deep(mark: Any) -> YamlError:
    return _at("limit", f"YAML nesting deeper than {MAX_DEPTH} levels", mark)


def _is_depth_refusal(exc: yaml.MarkedYAMLError) -> bool:
    """libyaml 0.2.5 as bundled since PyYAML 6.0.4 refuses deep flow nesting in its scanner, before any event
    reaches our own depth check (it scans up to 1024 characters ahead for simple keys). That is the same
    limit, so it gets the same kind and message as ours, whatever libyaml's wording."""
    return "nesting" in f"{exc.problem or ''} {exc.context or ''}".lower()


def _events(text: str, consume: Callable[[Any], None]) -> None:
    """Feed every libyaml event to `consume`; parser errors become `YamlError`."""
    parser = _Parser(text)
    get = parser.get_event
    end = yaml.StreamEndEvent
    # The trees built here hold no reference cycles, but the cyclic collector still walks the growing heap
    # again and again while they are built (3-4x the parse time on a 7 MB Node List); pause it meanwhile.
    paused = gc.isenabled()
    gc.disable()
    try:
        while True:
            ev = get()
            if ev is None or type(ev) is end:
                break
            consume(ev)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if _is_depth_refusal(exc):
            raise _too_deep(mark) from None
        raise _at("syntax", exc.problem or exc.context or "syntax error", mark) from None
    except yaml.YAMLError as exc:
        raise YamlError("syntax", str(exc), None, None) from None
    except RecursionError:
        raise YamlError("limit", "YAML nesting is too deep", None, None) from None
    finally:
        parser.dispose()
        if paused:
            gc.enable()


@functools.lru_cache(maxsize=4096)
def _resolve_plain(value: str) -> str:
    """YAML 1.1 implicit tag of a plain scalar (PyYAML's resolver), cached: manifests repeat their values."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)))  # type: ignore[no-untyped-call]


def _plain_tag(value: str) -> str:
    if value and value[0] not in _IMPLICIT_FIRST:
        return _STR
    return _resolve_plain(value)


# --- positions kept: the YNode tree --------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
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
            out = _construct_scalar(self.tag, self.value, self.style)
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


def _construct_scalar(tag: str, value: str, style: str | None) -> Any:
    if tag in (_STR, "!"):
        return value
    pnode = yaml.ScalarNode(tag, value, style=style)
    try:
        if tag == "tag:yaml.org,2002:int":
            return _CONSTRUCTOR.construct_yaml_int(pnode)
        if tag == "tag:yaml.org,2002:float":
            return _CONSTRUCTOR.construct_yaml_float(pnode)
        if tag == "tag:yaml.org,2002:bool":
            return _CONSTRUCTOR.construct_yaml_bool(pnode)
        if tag == "tag:yaml.org,2002:null":
            return None
    except (ValueError, yaml.YAMLError):
        return value
    return value


def compose_documents(text: str) -> tuple[list[YNode | None], list[Duplicate]]:
    """Every document of a YAML stream as a `YNode` tree (None for an empty document), plus duplicated keys.

    Raises `YamlError` for malformed input ("syntax") and for input that is too deep or whose aliases
    expand beyond `MAX_EXPANDED` nodes ("limit").
    """
    docs: list[YNode | None] = []
    duplicates: list[Duplicate] = []
    anchors: dict[str, YNode] = {}
    # stack entries: [node, pending key or None, keys seen]
    stack: list[list[Any]] = []
    root: list[YNode | None] = [None]

    def consume(ev: Any) -> None:
        nonlocal anchors
        cls = type(ev)
        node: YNode
        if cls is yaml.ScalarEvent:
            tag = ev.tag
            if tag is None:
                tag = _plain_tag(ev.value) if ev.implicit[0] else _STR
            elif tag == "!":
                tag = _STR
            mark = ev.start_mark
            node = YNode(_SCALAR, tag, mark.line, mark.column, ev.end_mark.line, ev.value, ev.style)
            if ev.anchor:
                anchors[ev.anchor] = node
        elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
            mark = ev.start_mark
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(mark)
            kind = _SEQ if cls is yaml.SequenceStartEvent else _MAP
            coll = YNode(kind, ev.tag or (_SEQ_TAG if kind == _SEQ else _MAP_TAG), mark.line, mark.column, mark.line)
            if ev.anchor:
                anchors[ev.anchor] = coll
            stack.append([coll, None, set()])
            return
        elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
            node = stack.pop()[0]
            node.end_line = ev.end_mark.line
            if node.size > MAX_EXPANDED:
                raise _bomb(ev.start_mark)
        elif cls is yaml.AliasEvent:
            target = anchors.get(ev.anchor or "")
            if target is None:
                raise _at("syntax", f"YAML alias *{ev.anchor} refers to no anchor", ev.start_mark)
            if any(entry[0] is target for entry in stack):
                raise _at("limit", f"YAML alias *{ev.anchor} refers to a node that contains it", ev.start_mark)
            node = target
        elif cls is yaml.DocumentStartEvent:
            anchors = {}
            root[0] = None
            return
        elif cls is yaml.DocumentEndEvent:
            docs.append(root[0])
            return
        else:
            return
        if not stack:
            root[0] = node
            return
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
                    duplicates.append(Duplicate(key.value, key.line, key.column))
                parent[2].add(key.value)
            pnode.pairs.append((key, node))
            pnode.size += key.size + node.size
        if pnode.size > MAX_EXPANDED:
            raise _bomb(ev.start_mark)

    _events(text, consume)
    return docs, duplicates


# --- data only: what yaml.safe_load builds ---------------------------------------------------------------------

_NO_KEY = object()
_MERGE = object()  # a plain `<<`: merges as a key, an error elsewhere
_VALUE = object()  # a plain `=`: the string "=" as a key, an error elsewhere (as in PyYAML)


@functools.lru_cache(maxsize=4096)
def _plain_value(value: str) -> Any:
    tag = _resolve_plain(value)
    if tag == _MERGE_TAG:
        return _MERGE
    if tag == "tag:yaml.org,2002:value":
        return _VALUE
    return _tagged_scalar(tag, value, None)


def _tagged_scalar(tag: str, value: str, mark: Any) -> Any:
    if tag == _STR:
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    pnode = yaml.ScalarNode(tag, value, start_mark=mark)
    method = {
        "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
        "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
        "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
        "tag:yaml.org,2002:timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
        "tag:yaml.org,2002:binary": _CONSTRUCTOR.construct_yaml_binary,
    }.get(tag)
    if method is None:
        raise _at("syntax", f"YAML tag {tag!r} is not supported here", mark)
    try:
        return method(pnode)
    except (ValueError, TypeError, KeyError, IndexError, yaml.YAMLError) as exc:
        raise _at("syntax", f"cannot read {value[:40]!r} as {tag}: {exc}", mark) from None


class _Open:
    """A collection being built: its object, its expanded size, the pending mapping key, merge sources."""

    __slots__ = ("anchor", "is_map", "key", "merges", "obj", "size")

    def __init__(self, obj: Any, is_map: bool, anchor: str | None) -> None:
        self.obj = obj
        self.is_map = is_map
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.size = 1
        self.merges: list[dict[Any, Any]] | None = None


def load_documents(text: str) -> list[Any]:
    """Every document of a YAML stream as plain Python data, as `yaml.safe_load` builds it (None when empty).

    Same types and merge-key semantics as PyYAML's safe loader; explicit tags other than the YAML 1.1 core
    types (str, int, float, bool, null, timestamp, binary, seq, map) are refused. Aliases share the object
    they refer to. Raises `YamlError` like `compose_documents`.
    """
    docs: list[Any] = []
    # anchor -> [object, expanded size]; the size is None while the collection is still open (recursion)
    anchors: dict[str, list[Any]] = {}
    stack: list[_Open] = []
    root: list[Any] = [None]
    scalar_ev, alias_ev = yaml.ScalarEvent, yaml.AliasEvent
    map_start, seq_start, map_end, seq_end = (
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
        yaml.MappingEndEvent,
        yaml.SequenceEndEvent,
    )

    def consume(ev: Any) -> None:
        nonlocal anchors
        cls = type(ev)
        size = 1
        if cls is scalar_ev:
            tag = ev.tag
            value = ev.value
            if tag is None or tag == "!":  # as PyYAML's composer: resolved by content only when plain
                if not ev.implicit[0]:
                    obj: Any = value
                elif value and value[0] not in _IMPLICIT_FIRST:
                    obj = value
                else:
                    obj = _plain_value(value)
            else:
                obj = _tagged_scalar(tag, value, ev.start_mark)
            if ev.anchor:
                anchors[ev.anchor] = [obj, 1]
        elif cls is map_start or cls is seq_start:
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(ev.start_mark)
            is_map = cls is map_start
            tag = ev.tag
            if tag is not None and tag != "!" and tag != (_MAP_TAG if is_map else _SEQ_TAG):
                raise _at("syntax", f"YAML tag {tag!r} is not supported here", ev.start_mark)
            coll: Any = {} if is_map else []
            if ev.anchor:
                anchors[ev.anchor] = [coll, None]
            stack.append(_Open(coll, is_map, ev.anchor))
            return
        elif cls is map_end or cls is seq_end:
            done = stack.pop()
            obj, size = done.obj, done.size
            if done.merges is not None:
                explicit = dict(obj)
                obj.clear()
                for source in done.merges:
                    obj.update(source)
                obj.update(explicit)
            if done.anchor:
                anchors[done.anchor][1] = size
        elif cls is alias_ev:
            target = anchors.get(ev.anchor or "")
            if target is None:
                raise _at("syntax", f"YAML alias *{ev.anchor} refers to no anchor", ev.start_mark)
            if target[1] is None:
                raise _at("limit", f"YAML alias *{ev.anchor} refers to a node that contains it", ev.start_mark)
            obj, size = target
        elif cls is yaml.DocumentStartEvent:
            anchors = {}
            root[0] = None
            return
        elif cls is yaml.DocumentEndEvent:
            docs.append(root[0])
            return
        else:
            return
        if obj is _MERGE or obj is _VALUE:
            if not (stack and stack[-1].is_map and stack[-1].key is _NO_KEY):
                raise _at("syntax", f"a plain {'<<' if obj is _MERGE else '='} is only allowed as a key", ev.start_mark)
            if obj is _VALUE:
                obj = "="
        if not stack:
            root[0] = obj
            return
        parent = stack[-1]
        parent.size += size
        if parent.size > MAX_EXPANDED:
            raise _bomb(ev.start_mark)
        if not parent.is_map:
            parent.obj.append(obj)
        elif parent.key is _NO_KEY:
            if isinstance(obj, (dict, list)):
                raise _at("syntax", "a YAML mapping key must be a scalar here", ev.start_mark)
            parent.key = obj
        elif parent.key is _MERGE:
            parent.key = _NO_KEY
            sources = [obj] if isinstance(obj, dict) else obj if isinstance(obj, list) else None
            if sources is None or not all(isinstance(s, dict) for s in sources):
                raise _at("syntax", "a YAML merge key (<<) needs a mapping or a list of mappings", ev.start_mark)
            if parent.merges is None:
                parent.merges = []
            parent.merges.extend(reversed(sources))  # PyYAML: the first mapping of a list wins
        else:
            parent.obj[parent.key] = obj
            parent.key = _NO_KEY

    _events(text, consume)
    return docs
