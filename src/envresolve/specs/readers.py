"""The spec-reader registry: one entry per input format (name, sniff, read), each returning the same shape.

A reader says whether it takes a file (`sniff`, from its path and text, cheap) and reads it into `EnvSpec`s plus
file-level findings (`read`). Every fact a reader learns is a typed `EnvSpec` field (indexes, find-links,
`no_index`, ...). `load_file` asks the registered readers first, in registration order, then its built-in formats
(pixi, requirements, environment.yml, Dataset), so adding a format means adding one entry here, not editing the
dispatch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envresolve.diagnostics import Diagnostic
from envresolve.specs.model import EnvSpec

__all__ = ["READERS", "ReadResult", "SpecReader", "reader_for", "register"]


@dataclass(frozen=True)
class ReadResult:
    """What a reader found in one file: its specs and the findings that belong to the file."""

    format: str
    specs: Sequence[EnvSpec] = ()
    diagnostics: Sequence[Diagnostic] = ()


class SpecReader(Protocol):
    """One input format."""

    name: str

    def sniff(self, path: Path, text: str) -> bool:
        """Whether this reader takes the file (from its name and, if needed, its text)."""
        ...

    def read(self, path: Path, text: str, env: Mapping[str, str] | None) -> ReadResult:
        """The file's specs; malformed content is findings (SP1xx), unreadable input raises `InputError`."""
        ...


#: registered readers, asked in order before the built-in formats
READERS: list[SpecReader] = []


def register(reader: SpecReader) -> SpecReader:
    """Add a reader (once per name; a second registration under the same name replaces the first)."""
    READERS[:] = [r for r in READERS if r.name != reader.name]
    READERS.append(reader)
    return reader


def reader_for(path: Path, text: str) -> SpecReader | None:
    """The first registered reader that takes this file."""
    return next((r for r in READERS if r.sniff(path, text)), None)
