"""Hostile local inputs, built at test time in a temporary directory (nothing large is committed).

The archive builders write the formats directly with `struct` (a zip of 400,000 members or a tar of 200,000
symlinks takes about a second this way, against tens of seconds through `zipfile`/`tarfile`). `measure` runs the
CLI in a fresh interpreter and reports its exit status, output, wall time and peak RSS.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[2]
PLAIN_ELF = REPO / "tests" / "fixtures" / "elf" / "bin" / "libplain.so.1"

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<4sHHHHIIH")


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A stored (uncompressed) zip archive of `members`, without zip64 records (see `many_member_wheel`)."""
    local: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, data in members:
        raw = name.encode()
        crc = zlib.crc32(data)
        head = _LOCAL.pack(b"PK\x03\x04", 20, 0x800, 0, 0, 0, crc, len(data), len(data), len(raw), 0) + raw
        local.append(head + data)
        central.append(
            _CENTRAL.pack(
                b"PK\x01\x02", 20, 20, 0x800, 0, 0, 0, crc, len(data), len(data), len(raw), 0, 0, 0, 0, 0, offset
            )
            + raw
        )
        offset += len(head) + len(data)
    cd = b"".join(central)
    count = min(len(members), 0xFFFF)
    return b"".join(local) + cd + _EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(cd), offset, 0)


def many_member_wheel(path: Path, count: int) -> Path:
    """A wheel of `count` empty members (the issue's 40 MB wheel of 400k members). Past 65,535 members the end
    record's 16-bit count is 0xFFFF, as zip64-less writers leave it; the directory size tells the truth."""
    members = [(f"pkg/lib{i}.so", b"") for i in range(count)]  # named like libraries: each one is peeked at
    members.append(("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"))
    path.write_bytes(zip_bytes(members))
    return path


def _tar_header(name: bytes, *, size: int = 0, typeflag: bytes = b"0", linkname: bytes = b"") -> bytes:
    buf = bytearray(512)
    buf[0 : len(name)] = name
    buf[100:108] = b"0000644\0"
    buf[108:116] = b"0000000\0"
    buf[116:124] = b"0000000\0"
    buf[124:136] = b"%011o\0" % size
    buf[136:148] = b"00000000000\0"
    buf[148:156] = b" " * 8
    buf[156:157] = typeflag
    buf[157 : 157 + len(linkname)] = linkname
    buf[257:265] = b"ustar\x0000"
    buf[148:156] = b"%06o\0 " % sum(buf)
    return bytes(buf)


def _conda(path: Path, pkg_tar: bytes | list[bytes], index: dict[str, object] | bytes | None = None) -> Path:
    """A `.conda`: a zip holding `info-*.tar.zst` (index.json) and `pkg-*.tar.zst` (the given tar bytes)."""
    raw_index = index if isinstance(index, bytes) else json.dumps(index or {"name": "x", "version": "1"}).encode()
    pad = b"\0" * (-len(raw_index) % 512)
    info = _tar_header(b"info/index.json", size=len(raw_index)) + raw_index + pad + b"\0" * 1024
    cctx = zstandard.ZstdCompressor(level=1)
    parts = pkg_tar if isinstance(pkg_tar, list) else [pkg_tar]
    chunks = [cctx.compressobj()]
    pkg = b"".join(chunks[0].compress(p) for p in parts) + chunks[0].flush()
    members = [("metadata.json", b'{"conda_pkg_format_version": 2}'), ("info-x-1-0.tar.zst", cctx.compress(info))]
    members.append(("pkg-x-1-0.tar.zst", pkg))
    path.write_bytes(zip_bytes(members))
    return path


def symlink_conda(path: Path, count: int) -> Path:
    """A `.conda` whose pkg tar holds `count` symlinks (the issue's 533 KB package of 200k symlinks)."""
    # one header template; per link only the name and the checksum (a byte sum, so base + sum(name)) change
    template = _tar_header(b"", typeflag=b"2", linkname=b"libreal.so")
    base = sum(template[:148]) + sum(template[156:]) + 8 * ord(" ")
    head, tail = template[100:148], template[156:]
    headers = []
    for i in range(count):
        name = b"lib/l%d.so" % i
        headers.append(name.ljust(100, b"\0") + head + b"%06o\0 " % (base + sum(name)) + tail)
    return _conda(path, [*headers, b"\0" * 1024])


def long_name_conda(path: Path, name_bytes: int) -> Path:
    """A `.conda` whose pkg tar starts with a GNU long-name record of `name_bytes` bytes (600 MiB in the issue).

    The name is 'a's with a random byte every 128: it compresses about 67x (600 MiB -> 9.4 MB), under the
    decompression-bomb ratio limit (250x), as the issue's 7.8 MB package did; all 'a's would be caught as a bomb.
    """
    block = 1 << 20
    noisy = bytearray(b"a" * block)
    noisy[::128] = os.urandom(block // 128)
    body = [_tar_header(b"././@LongLink", size=name_bytes, typeflag=b"L")]
    body += [bytes(noisy)] * (name_bytes // block)
    body.append(b"a" * (name_bytes % block) + b"\0" * (-name_bytes % 512))
    body += [_tar_header(b"x", size=0), b"\0" * 1024]
    return _conda(path, body)


def deep_index_conda(path: Path, depth: int) -> Path:
    """A `.conda` whose info/index.json nests `depth` arrays."""
    return _conda(path, b"\0" * 1024, index=b'{"name": "x", "deep": ' + b"[" * depth + b"]" * depth + b"}")


def hostile_elf(path: Path) -> Path:
    """A real shared object whose header says e_shoff = 2**62 and e_shnum = 0xFFFF."""
    data = bytearray(PLAIN_ELF.read_bytes())
    struct.pack_into("<Q", data, 0x28, 2**62)
    struct.pack_into("<H", data, 0x3C, 0xFFFF)
    path.write_bytes(bytes(data))
    return path


def diamond(root: Path, levels: int) -> Path:
    """requirements.txt including two files per level, each including both files of the next level."""
    for level in range(levels):
        for side in "ab":
            nxt = "" if level == levels - 1 else f"-r l{level + 1}a.txt\n-r l{level + 1}b.txt\n"
            (root / f"l{level}{side}.txt").write_text(f"pkg{level}{side}\n{nxt}")
    top = root / "requirements.txt"
    top.write_text("-r l0a.txt\n-r l0b.txt\n")
    return top


@dataclass(frozen=True)
class Run:
    """One CLI run in a fresh interpreter."""

    rc: int
    out: str
    err: str
    seconds: float
    rss_mb: float


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child would report its parent's peak
_WRAPPER = """
import resource, sys
from envresolve.cli import main
rc = main(sys.argv[1:])
sys.stdout.flush()
try:
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("@@RSS", peak, file=sys.stderr)
raise SystemExit(rc)
"""


def measure(args: list[str], *, timeout: float = 60.0, cwd: Path | None = None) -> Run:
    """Run `envresolve ARGS` in a child interpreter; a run past `timeout` fails the test (a hang)."""
    env = dict(os.environ, ENVRESOLVE_CACHE_DIR=str((cwd or Path.cwd()) / ".envresolve-cache-measure"))
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )
    seconds = time.monotonic() - start
    err, _, rss = proc.stderr.rpartition("@@RSS ")
    return Run(proc.returncode, proc.stdout, err, seconds, int(rss.strip() or 0) / 1024)
