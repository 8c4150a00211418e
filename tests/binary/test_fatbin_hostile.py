"""Hostile fatbinaries: lying sizes, broken entries, unknown versions, work limits."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import envresolve.binary.fatbin as fatbin
from envresolve.binary.elf import read_elf
from envresolve.binary.fatbin import FatbinScanner, parse_fatbin

BIN = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"
MIXED = (BIN / "libcuda_mixed.so").read_bytes()
MAGIC = struct.pack("<IHH", 0xBA55ED50, 1, 16)


def first_container(data: bytes = MIXED) -> int:
    at = data.find(MAGIC)
    assert at > 0
    return at


def elf_codes(data: bytes, size: int | None = None) -> list[str]:
    _facts, diags = read_elf([data], path="k.so", size=len(data) if size is None else size)
    return [d.code for d in diags]


def test_container_size_past_the_end_of_the_file() -> None:
    buf = bytearray(MIXED)
    struct.pack_into("<Q", buf, first_container() + 8, 0x7FFFFFFF)
    assert elf_codes(bytes(buf)) == ["BN150"]


def test_container_size_larger_than_its_entries() -> None:
    at = first_container()
    (fat,) = struct.unpack_from("<Q", MIXED, at + 8)
    blob = bytearray(MIXED[at : at + 16 + fat])
    struct.pack_into("<Q", blob, 8, fat + 4096)  # the container claims 4 kB more than the blob has
    entries, diags = parse_fatbin(bytes(blob))
    assert [d.code for d in diags] == ["BN150"]
    assert entries == []  # the lie is noticed before any entry is trusted


def test_stream_ends_inside_a_container() -> None:
    at = first_container()
    scanner = FatbinScanner(subject="cut")  # size unknown, as for a member streamed from an archive
    scanner.feed(MIXED[: at + 16 + 64 + 10])
    scanner.finish()
    assert [d.code for d in scanner.diagnostics] == ["BN150"]


def test_entry_payload_past_its_container() -> None:
    buf = bytearray(MIXED)
    struct.pack_into("<Q", buf, first_container() + 16 + 8, 1 << 40)  # first entry's payload size
    assert elf_codes(bytes(buf)) == ["BN151"]


@pytest.mark.parametrize(("field", "value"), [(0, 7), (4, 3), (4, 1 << 20)])  # kind; header size too small/large
def test_malformed_entry_header(field: int, value: int) -> None:
    buf = bytearray(MIXED)
    fmt = "<H" if field == 0 else "<I"
    struct.pack_into(fmt, buf, first_container() + 16 + field, value)
    assert elf_codes(bytes(buf)) == ["BN151"]


def test_unknown_container_version() -> None:
    blob = struct.pack("<IHHQ", 0xBA55ED50, 9, 16, 0) + bytes(64)
    entries, diags = parse_fatbin(blob)
    assert entries == [] and [d.code for d in diags] == ["BN152"]
    # in a stream, an unknown version is not taken for a container at all
    scanner = FatbinScanner(subject="s")
    scanner.feed(b"junk" + blob)
    scanner.finish()
    assert scanner.entries == [] and scanner.diagnostics == [] and scanner.containers == 0


def test_entry_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fatbin, "MAX_ENTRIES", 2)
    facts, diags = read_elf([MIXED], path="k.so", size=len(MIXED))
    assert [d.code for d in diags] == ["BN110"]
    assert facts is not None and len(facts.fatbin) == 2


def test_random_bytes_make_no_entries() -> None:
    import random

    rnd = random.Random(1234)
    noise = bytes(rnd.getrandbits(8) for _ in range(200_000))
    scanner = FatbinScanner(subject="noise")
    scanner.feed(noise)
    scanner.finish()
    assert scanner.entries == [] and scanner.diagnostics == []


def test_tiny_blob() -> None:
    assert [d.code for d in parse_fatbin(b"\x50\xed")[1]] == ["BN150"]
