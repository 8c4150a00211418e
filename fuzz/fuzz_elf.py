"""Fuzz the streaming ELF reader: real fixtures with mutated header/table fields, cut short, fed in random chunks.

Contract: `read_elf` returns `(facts | None, diagnostics)`; the only exception allowed out is `EnvresolveError`.
Call `fuzz(max_examples=N)` from the bounded CI fuzz pass, or run `python fuzz/fuzz_elf.py --examples N`;
`python fuzz/fuzz_elf.py --atheris [atheris args]` runs a coverage-guided session when atheris is installed
(give `tests/fixtures/elf/bin` as a seed corpus directory).
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.binary.elf import read_elf
from envresolve.errors import EnvresolveError

__all__ = ["fuzz", "one_input"]

_BIN = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "elf" / "bin"
_SEED_NAMES = [
    "libplain.so.1",
    "libversioned.so.1",
    "libcuda_mixed.so",
    "libpatched.so",
    "libcxx11.so",
    "libcuda_rdc.so",
]
SEEDS = [(_BIN / n).read_bytes() for n in _SEED_NAMES if (_BIN / n).is_file()]
_INTERESTING = [0, 1, 2, 7, 8, 16, 56, 64, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 31, 1 << 40, (1 << 64) - 1]


def one_input(data: bytes, *, chunk: int = 4096, symbols: bool = False, size: int | None = None) -> None:
    """Run the reader once; raise only on a contract violation."""
    chunks = [data[i : i + chunk] for i in range(0, len(data), max(1, chunk))]
    try:
        facts, diags = read_elf(iter(chunks), path="fuzz.so", size=size, symbols=symbols, reopen=lambda: iter(chunks))
    except EnvresolveError:
        return
    assert facts is not None or diags, "a rejected input must say why"
    for d in diags:
        assert d.code[:2] in ("BN", "GN"), d.code
        assert d.code != "GN103", d.message  # GN103 is an internal error: a reader bug, never a finding


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, int, bool, int | None]:
    buf = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        region = draw(st.sampled_from(["header", "anywhere"]))
        hi = min(len(buf), 1024) if region == "header" else len(buf)
        at = draw(st.integers(0, max(0, hi - 8)))
        kind = draw(st.sampled_from(["byte", "u16", "u32", "u64"]))
        value = draw(st.sampled_from(_INTERESTING) | st.integers(0, (1 << 64) - 1))
        fmt = {"byte": "<B", "u16": "<H", "u32": "<I", "u64": "<Q"}[kind]
        struct.pack_into(fmt, buf, at, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
    if draw(st.booleans()):
        del buf[draw(st.integers(0, len(buf))) :]
    chunk = draw(st.sampled_from([61, 1000, 4096, 1 << 20]))  # byte-sized chunks are covered by the tests
    size = draw(st.sampled_from([None, len(buf), len(buf) + 100]))
    return bytes(buf), chunk, draw(st.booleans()), size


def fuzz(max_examples: int) -> None:
    """Run `max_examples` hypothesis examples; raises on a contract violation."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated())
    def run(case: tuple[bytes, int, bool, int | None]) -> None:
        data, chunk, symbols, size = case
        one_input(data, chunk=chunk, symbols=symbols, size=size)

    run()

    @settings(max_examples=max(1, max_examples // 4), deadline=None, database=None)
    @given(st.binary(max_size=4096))
    def raw(data: bytes) -> None:
        one_input(b"\x7fELF" + data, chunk=64)
        one_input(data, chunk=7)

    raw()


def _atheris(argv: list[str]) -> None:
    import atheris  # optional: only for coverage-guided sessions

    atheris.instrument_all()  # the reader is already imported; instrument what is loaded

    def test_one(data: bytes) -> None:
        one_input(data, chunk=4096, symbols=True)

    atheris.Setup([sys.argv[0], *argv], test_one)
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
        print(f"fuzz_elf: {args.examples} examples, no contract violation")
