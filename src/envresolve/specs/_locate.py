"""Positions of embedded files: a line inside a YAML block scalar -> the line inside the manifest."""

from __future__ import annotations

from collections.abc import Callable

from envresolve.diagnostics import Location
from envresolve.specs._yaml import YNode

__all__ = ["EmbeddedLocator", "Locator", "plain_locator"]

#: maps a 1-based (line, column) of the text being parsed to a location in the real file
Locator = Callable[[int, int], Location]


def plain_locator(file: str, line_offset: int = 0, col_offset: int = 0) -> Locator:
    """A locator for text that *is* the file (offsets 0) or starts at a known place in it."""

    def locate(line: int, column: int) -> Location:
        return Location(file=file, line=line + line_offset, column=column + col_offset)

    return locate


class EmbeddedLocator:
    """Maps (line, column) inside a scalar's value (1-based) to the manifest.

    Literal block scalars (`|`, `|-`, `|+`, `|2`) keep every line: value line *i* is source line
    `indicator line + i`, shifted by the block's indentation. For folded, quoted and plain multi-line
    scalars the lines are matched against the source text in order; where no match is found the
    scalar's first line is used.
    """

    def __init__(self, node: YNode, source_lines: list[str], file: str) -> None:
        self.file = file
        self.node = node
        self._map: dict[int, tuple[int, int]] = {}
        value_lines = node.value.split("\n")
        if node.style == "|":
            indent = self._block_indent(source_lines, node.line + 1)
            for i in range(1, len(value_lines) + 1):
                self._map[i] = (node.line + 1 + i, indent)
        else:
            cursor = node.line
            for i, text in enumerate(value_lines, start=1):
                needle = text.strip()
                if not needle:
                    continue
                for j in range(cursor, min(len(source_lines), node.end_line + 1)):
                    pos = source_lines[j].find(needle)
                    if pos >= 0:
                        lead = len(text) - len(text.lstrip())
                        self._map[i] = (j + 1, max(0, pos - lead))
                        cursor = j
                        break

    @staticmethod
    def _block_indent(lines: list[str], first: int) -> int:
        for j in range(first, len(lines)):
            s = lines[j]
            if s.strip():
                return len(s) - len(s.lstrip(" "))
        return 0

    def __call__(self, line: int, column: int) -> Location:
        hit = self._map.get(line)
        if hit is None:
            return Location(file=self.file, line=self.node.line + 1, column=self.node.column + 1)
        outer_line, indent = hit
        return Location(file=self.file, line=outer_line, column=indent + column)
