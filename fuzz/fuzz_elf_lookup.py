"""Fuzz the symbol-lookup view of the ELF reader (`DynObject`): real fixtures with mutated fields, cut short.

Contract: opening a file and asking `info()`, `version_definitions()`, `undefined_symbols()` and `exports()` either
answers or raises `ElfFormatError`; nothing else escapes and nothing hangs (the run's time slice catches a hang).
Call `fuzz(max_examples=N)` from the bounded CI fuzz pass, or run `python fuzz/fuzz_elf_lookup.py --examples N`.
"""

from __future__ import annotations

import argparse
import os
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.binary.elf import DynObject, ElfFormatError

__all__ = ["fuzz", "one_input"]

_BIN = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "elf" / "bin"
_SEED_NAMES = ["libplain.so.1", "libversioned.so.1", "libpatched.so", "libcxx11.so", "libpaths_runpath.so"]
SEEDS = [(_BIN / n).read_bytes() for n in _SEED_NAMES if (_BIN / n).is_file()]
_INTERESTING = [0, 1, 2, 7, 8, 16, 56, 64, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 31, (1 << 64) - 1]


def one_input(data: bytes, directory: str) -> None:
    """Run the lookup view once on `data` (written to a file in `directory`); raise only on a contract violation."""
    path = os.path.join(directory, "fuzz.so")
    with open(path, "wb") as f:
        f.write(data)
    try:
        with DynObject(path) as obj:
            obj.info()
            obj.version_definitions()
            for _ in obj.undefined_symbols():
                pass
            obj.exports("foo")
            obj.exports("foo", "VERS_1.0")
    except ElfFormatError:
        return


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    buf = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, max(0, len(buf) - 8)))
        fmt = draw(st.sampled_from(["<B", "<H", "<I", "<Q"]))
        value = draw(st.sampled_from(_INTERESTING) | st.integers(0, (1 << 64) - 1))
        struct.pack_into(fmt, buf, at, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
    if draw(st.booleans()):
        del buf[draw(st.integers(0, len(buf))) :]
    return bytes(buf)


def fuzz(max_examples: int) -> None:
    """Run `max_examples` hypothesis examples; raises on a contract violation."""
    with tempfile.TemporaryDirectory() as tmp:

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(mutated())
        def run(data: bytes) -> None:
            one_input(data, tmp)

        run()

        @settings(max_examples=max(1, max_examples // 4), deadline=None, database=None)
        @given(st.binary(max_size=4096))
        def raw(data: bytes) -> None:
            one_input(b"\x7fELF" + data, tmp)

        raw()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    fuzz(args.examples)
    print(f"fuzz_elf_lookup: {args.examples} examples, no contract violation")
