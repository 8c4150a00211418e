"""A format is one registry entry: a registered reader is asked before the built-in formats."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from envresolve.specs import readers
from envresolve.specs.load import load_file
from envresolve.specs.model import EnvSpec, PipRequirement
from envresolve.specs.readers import ReadResult, register


class _PinsReader:
    """A toy format for the test: `*.pins`, one `name==version` per line."""

    name = "pins"

    def sniff(self, path: Path, text: str) -> bool:
        return path.suffix == ".pins"

    def read(self, path: Path, text: str, env: Mapping[str, str] | None) -> ReadResult:
        pip = tuple(
            PipRequirement(name=line.split("==")[0], requirement=line, raw=line, specifier="==" + line.split("==")[1])
            for line in text.split()
        )
        return ReadResult(format="pins", specs=(EnvSpec(source=str(path), format="requirements-txt", pip=pip),))


@pytest.fixture
def registry() -> Iterator[None]:
    saved = list(readers.READERS)
    yield
    readers.READERS[:] = saved


def test_a_registered_reader_reads_its_format(registry: None, tmp_path: Path) -> None:
    register(_PinsReader())
    register(_PinsReader())  # the same name twice: one entry
    assert [r.name for r in readers.READERS].count("pins") == 1
    spec_file = tmp_path / "env.pins"
    spec_file.write_text("torch==2.8.0\n")
    res = load_file(spec_file)
    assert res.format == "pins" and [r.name for r in res.specs[0].pip] == ["torch"]
    other = tmp_path / "requirements.txt"
    other.write_text("numpy\n")
    assert load_file(other).format == "requirements-txt"  # built-in formats are untouched
