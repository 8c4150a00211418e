"""Fuzz the archive readers: a small real wheel and a small .conda package (built in memory from the ELF
fixtures in tests/fixtures/archives) with mutated central directory / local header fields, random byte
flips and truncation, read by the wheel reader and the conda reader.

Contract: every input yields a report (hostile input becomes diagnostics); the only exception allowed
out is `EnvresolveError`. Call `fuzz(max_examples=N)` from the bounded CI fuzz pass (`fuzz/run.py`), or
run `python fuzz/fuzz_zip.py --examples N`.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envresolve.binary.conda_pkg import conda_report
from envresolve.binary.wheel import Limits, wheel_report
from envresolve.errors import EnvresolveError

__all__ = ["fuzz", "one_input"]

_FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "archives"
# Small limits keep a fuzzed bomb cheap; they are still far above the seeds' real sizes.
_LIMITS = Limits(max_ratio=100.0, max_member_bytes=8 << 20, ratio_slack=64 << 10)
_INTERESTING = [0, 1, 2, 4, 8, 30, 46, 0x7F, 0xFF, 0xFFFF, 0xFFFFFFFF, 1 << 31, 1 << 20]


def _zip(members: list[tuple[str, bytes]], method: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 23, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data)
    return out.getvalue()


def _seeds() -> list[bytes]:
    alpha = (_FIX / "libalpha.so.1").read_bytes()
    kern = (_FIX / "libkern.so").read_bytes()
    wheel = _zip(
        [("d/__init__.py", b""), ("d/libalpha.so.1", alpha), ("d/libkern.so", kern), ("d-1.dist-info/WHEEL", b"")],
        zipfile.ZIP_DEFLATED,
    )
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        for name, data in [
            ("info/index.json", json.dumps({"name": "d", "subdir": "linux-64"}).encode()),
            ("lib/a.so", alpha),
        ]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        link = tarfile.TarInfo("lib/a.so.1")
        link.type, link.linkname = tarfile.SYMTYPE, "a.so"
        tf.addfile(link)
    conda = _zip([("pkg-d-1-0.tar.zst", zstandard.ZstdCompressor().compress(tar.getvalue()))], zipfile.ZIP_STORED)
    return [wheel, conda]


SEEDS = _seeds()


class _Bytes:
    """An in-memory ByteSource."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    def read_at(self, offset: int, n: int) -> bytes:
        return self._data[offset : offset + max(0, n)] if offset >= 0 else b""

    def stream(self, offset: int, length: int) -> Iterator[bytes]:
        end = min(offset + length, self.size)
        while offset < end:
            step = min(1 << 16, end - offset)
            yield self._data[offset : offset + step]
            offset += step


def one_input(data: bytes, *, conda: bool = False) -> None:
    """Read one (possibly hostile) archive; raise only on a contract violation."""
    try:
        if conda:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "fuzz-1-0.conda"
                path.write_bytes(data)
                report = conda_report(str(path), limits=_LIMITS)
        else:
            report = wheel_report(
                _Bytes(data), artifact="fuzz.whl", filename="fuzz-1.0-py3-none-any.whl", limits=_LIMITS
            )
    except EnvresolveError:
        return
    for d in report.diagnostics:
        assert d.code[:2] in ("BN", "GN"), d.code
        assert d.code != "GN103", d.message  # GN103 is an internal error: a reader bug, never a finding


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, bool]:
    which = draw(st.integers(0, len(SEEDS) - 1))
    buf = bytearray(SEEDS[which])
    # Aim at the structures: the end record, the central directory, the local headers.
    anchors = [buf.rfind(b"PK\x05\x06"), buf.find(b"PK\x01\x02"), 0, buf.find(b"PK\x03\x04", 4)]
    for _ in range(draw(st.integers(0, 6))):
        base = max(0, draw(st.sampled_from(anchors)))
        at = (
            min(len(buf) - 8, base + draw(st.integers(0, 64)))
            if draw(st.booleans())
            else draw(st.integers(0, len(buf) - 8))
        )
        fmt = draw(st.sampled_from(["<B", "<H", "<I"]))
        value = draw(st.sampled_from(_INTERESTING) | st.integers(0, 0xFFFFFFFF))
        struct.pack_into(fmt, buf, at, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
    if draw(st.booleans()):
        del buf[draw(st.integers(0, len(buf))) :]
    return bytes(buf), which == 1


def fuzz(max_examples: int) -> None:
    """Run `max_examples` hypothesis examples; raises on a contract violation."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=False,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated())
    def run(case: tuple[bytes, bool]) -> None:
        data, conda = case
        one_input(data, conda=conda)

    run()
    for seed in SEEDS:  # the unmutated seeds must read cleanly too
        one_input(seed, conda=seed is SEEDS[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=500)
    args = parser.parse_args(argv)
    fuzz(args.examples)
    print(f"fuzz_zip: {args.examples} examples, no contract violation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
