"""Spec files' YAML: the bounded composer of `envresolve._yaml`, with its failures as SP diagnostics.

`compose_documents(text, file)` keeps every node's position (`YNode`), refuses input nested deeper than
`MAX_DEPTH` or whose aliases expand beyond `MAX_EXPANDED` nodes, and reports duplicated keys.
"""

from __future__ import annotations

from envresolve import _yaml
from envresolve._yaml import MAX_DEPTH, MAX_EXPANDED, YamlError, YNode
from envresolve.diagnostics import Diagnostic, Location, make
from envresolve.errors import InputError

__all__ = ["MAX_DEPTH", "MAX_EXPANDED", "YNode", "compose_documents"]


def _error(exc: YamlError, file: str) -> InputError:
    code = "SP105" if exc.kind == "limit" else "SP104"
    message = exc.problem if exc.problem.startswith("YAML") else f"YAML syntax error: {exc.problem}"
    if exc.line is None or exc.column is None:
        loc = Location(file=file)
    else:
        loc = Location(file=file, line=exc.line + 1, column=exc.column + 1)
    return InputError(make(code, message, subject=file, location=loc))


def compose_documents(text: str, file: str) -> tuple[list[YNode | None], list[Diagnostic]]:
    """Every document of a YAML stream as a `YNode` tree (None for an empty document), plus duplicate-key warnings.

    Raises `InputError`: SP104 for a syntax error (with line and column), SP105 for input that is too deep
    or whose aliases expand beyond `MAX_EXPANDED` nodes.
    """
    try:
        docs, duplicates = _yaml.compose_documents(text)
    except YamlError as exc:
        raise _error(exc, file) from None
    warnings = [
        make(
            "SP109",
            f"duplicate key {d.key!r}: YAML keeps only the last value",
            subject=d.key,
            location=Location(file=file, line=d.line + 1, column=d.column + 1),
        )
        for d in duplicates
    ]
    return docs, warnings
