"""A small deterministic TOML writer for the shapes pylock.toml needs (tables, arrays of tables, scalars).

The standard library reads TOML but does not write it; the output is checked by parsing it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dumps"]


def _key(k: str) -> str:
    if k and all(c.isalnum() or c in "-_" for c in k):
        return k
    return _str(k)


def _str(s: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes (\uXXXX, \n, \", \\)
    return json.dumps(s, ensure_ascii=False)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    if isinstance(v, Sequence):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, Sequence) and not isinstance(v, str) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _emit(table: Mapping[str, Any], path: list[str], out: list[str]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)]
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    arrays = [(k, v) for k, v in table.items() if _is_table_array(v)]
    for k, v in scalars:
        out.append(f"{_key(k)} = {_value(v)}")
    for k, v in subtables:
        # small leaf tables (hashes) stay inline; others get a header
        if all(not isinstance(x, Mapping | list | tuple) for x in v.values()) and len(v) <= 4 and path:
            out.append(f"{_key(k)} = {_value(v)}")
            continue
        out.append("")
        out.append("[" + ".".join(_key(p) for p in [*path, k]) + "]")
        _emit(v, [*path, k], out)
    for k, items in arrays:
        for item in items:
            out.append("")
            out.append("[[" + ".".join(_key(p) for p in [*path, k]) + "]]")
            _emit(item, [*path, k], out)


def dumps(doc: Mapping[str, Any]) -> str:
    """TOML text for a mapping, keys in the order given."""
    out: list[str] = []
    _emit(doc, [], out)
    return "\n".join(out).lstrip("\n") + "\n"
