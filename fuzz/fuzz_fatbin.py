"""Fuzz the fatbinary scanner: real `.nv_fatbin` containers with mutated header fields, cut short, fed in
random chunks, plus random bytes around the magic.

Contract: the scanner and `parse_fatbin` return entries and diagnostics; no exception at all.
Call `fuzz(max_examples=N)` from the bounded CI fuzz pass, or run `python fuzz/fuzz_fatbin.py --examples N`;
`python fuzz/fuzz_fatbin.py --atheris [atheris args]` runs a coverage-guided session when atheris is installed
(give `tests/fixtures/elf/bin` as a seed corpus directory).
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.binary.fatbin import MAX_ENTRIES, FatbinScanner, parse_fatbin

__all__ = ["fuzz", "one_input"]

_BIN = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "elf" / "bin"
_MAGIC = struct.pack("<IHH", 0xBA55ED50, 1, 16)


def _containers(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.is_file() else b""
    out = []
    at = data.find(_MAGIC)
    while at >= 0:
        (fat,) = struct.unpack_from("<Q", data, at + 8)
        out.append(data[at : at + 16 + fat])
        at = data.find(_MAGIC, at + 16 + fat)
    return out


SEEDS = [c for n in ("libcuda_mixed.so", "libcuda_sm100f.so", "libcuda_compressed.so") for c in _containers(_BIN / n)]
SEEDS = SEEDS or [_MAGIC + bytes(8)]
_INTERESTING = [0, 1, 2, 3, 16, 64, 80, 0x2000, 0x8000, 0x100000, 0x200000, 0xFFFFFFFF, 1 << 40, (1 << 64) - 1]


def one_input(data: bytes, *, chunk: int = 4096, size: int | None = None) -> None:
    """Scan once as a stream and once as a blob; raise only on a contract violation."""
    scanner = FatbinScanner(subject="fuzz", size=size)
    for i in range(0, len(data), max(1, chunk)):
        scanner.feed(data[i : i + chunk])
    scanner.finish()
    assert len(scanner.entries) <= MAX_ENTRIES
    assert all(d.code.startswith("BN") for d in scanner.diagnostics)
    entries, diags = parse_fatbin(data)
    assert all(d.code.startswith("BN") for d in diags)
    assert len(entries) <= MAX_ENTRIES


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, int, int | None]:
    seeds = draw(st.lists(st.sampled_from(SEEDS), min_size=1, max_size=3))
    buf = bytearray(draw(st.binary(max_size=64)).join(seeds))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, max(0, min(len(buf), 256) - 8)))
        fmt = draw(st.sampled_from(["<H", "<I", "<Q"]))
        value = draw(st.sampled_from(_INTERESTING) | st.integers(0, (1 << 64) - 1))
        struct.pack_into(fmt, buf, at, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
    if draw(st.booleans()):
        del buf[draw(st.integers(0, len(buf))) :]
    chunk = draw(st.sampled_from([3, 16, 64, 4096]))
    size = draw(st.sampled_from([None, len(buf)]))
    return bytes(buf), chunk, size


def fuzz(max_examples: int) -> None:
    """Run `max_examples` hypothesis examples; raises on a contract violation."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated())
    def run(case: tuple[bytes, int, int | None]) -> None:
        data, chunk, size = case
        one_input(data, chunk=chunk, size=size)

    run()

    @settings(max_examples=max(1, max_examples // 4), deadline=None, database=None)
    @given(st.binary(max_size=2048))
    def raw(data: bytes) -> None:
        one_input(_MAGIC + data, chunk=16)

    raw()


def _atheris(argv: list[str]) -> None:
    import atheris  # optional: only for coverage-guided sessions

    atheris.instrument_all()  # the reader is already imported; instrument what is loaded

    atheris.Setup([sys.argv[0], *argv], lambda data: one_input(data, chunk=64))
    atheris.Fuzz()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--atheris", action="store_true", help="run atheris (pass its options after --)")
    args, rest = parser.parse_known_args()
    if args.atheris:
        _atheris(rest)
    else:
        fuzz(args.examples)
        print(f"fuzz_fatbin: {args.examples} examples, no contract violation")
