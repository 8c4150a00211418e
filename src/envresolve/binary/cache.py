"""Content-addressed cache of inspection reports.

Reports are stored under the artifact's sha256 (plus the reader version and the `symbols` flag) in
the user cache directory: `$ENVRESOLVE_CACHE_DIR`, else `$XDG_CACHE_HOME/envresolve`, else
`~/.cache/envresolve`. Hashing a 200 MB wheel costs ~0.1-0.5 s, so a small stat index maps
(path, size, mtime, inode) to the sha256 and a re-inspection of an unchanged file reads two small
files. Every write is atomic (temporary file + rename), so concurrent writers never leave a torn
entry; an unreadable or corrupt entry is ignored (and rewritten on the next inspection).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from envresolve._atomic import atomic_write_bytes
from envresolve._version import __version__
from envresolve.errors import EnvresolveError

if TYPE_CHECKING:  # imported when a report is read (pydantic: kept off the cold path's start)
    from envresolve.binary.model import ArtifactReport

__all__ = ["READER_VERSION", "ReportCache", "cache_dir", "sha256_file"]

#: bump when the archive readers change what a report says
READER_VERSION = "2"


def cache_dir() -> Path:
    """The cache root, following the environment variable and XDG conventions."""
    env = os.environ.get("ENVRESOLVE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "envresolve"
    return Path.home() / ".cache" / "envresolve"


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks (hashlib releases the GIL, so this runs beside inflating)."""
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(chunk)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


_READERS = (
    *("model", "elf", "fatbin", "cxxabi", "wheel", "conda_pkg", "prefix", "remote", "report"),
    *("elfhead", "budgeted"),
)


def _reader_tag() -> str:
    """Cache namespace: our version plus a digest of the readers' source, so any reader change invalidates it.

    Reading ~150 kB of source is far cheaper than importing the readers on the cached path.
    """
    h = hashlib.sha256(f"{READER_VERSION}/{__version__}".encode())
    here = Path(__file__).resolve().parent
    for name in _READERS:
        try:
            h.update((here / f"{name}.py").read_bytes())
        except OSError:
            h.update(name.encode())
    return f"v{READER_VERSION}-{h.hexdigest()[:16]}"


class ReportCache:
    """Reports keyed by content; a stat index finds the content key of an unchanged local file."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir()
        self.base = self.root / "inspect" / _reader_tag()

    # -- reports by content key
    def _report_path(self, key: str, symbols: bool) -> Path:
        safe = hashlib.sha256(key.encode()).hexdigest() if not _is_hex(key) else key
        return self.base / "reports" / f"{safe}-{'sym' if symbols else 'nosym'}.json"

    def get(self, key: str, *, symbols: bool) -> ArtifactReport | None:
        """The cached report for a content key (a sha256), or None when absent or unreadable."""
        try:
            data = self._report_path(key, symbols).read_bytes()
            from envresolve.binary.model import ArtifactReport

            return ArtifactReport.model_validate_json(data)
        except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
            return None

    def get_for(self, sha256: str, name: str, version: str, *, symbols: bool = False) -> ArtifactReport | None:
        """The report cached under `sha256`, only when it is about `name` `version`.

        Reports are stored under a sha256 only after the whole file was hashed, but the sha256 asked for is
        often just what an index claims: a report of another project or version means the claim is false,
        and it is not used.
        """
        report = self.get(sha256, symbols=symbols)
        if report is None or report.name is None:
            return None
        from packaging.utils import canonicalize_name
        from packaging.version import InvalidVersion, Version

        if canonicalize_name(report.name) != canonicalize_name(name):
            return None
        try:
            same = Version(report.version or "") == Version(version)
        except InvalidVersion:
            same = report.version == version
        return report if same else None

    def put(self, key: str, report: ArtifactReport, *, symbols: bool) -> None:
        """Store a report; failures (read-only or full disk) are ignored: the cache is an optimisation."""
        target = self._report_path(key, symbols)
        with contextlib.suppress(OSError, EnvresolveError):
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, report.model_dump_json().encode(), durable=False)

    # -- stat index: local path -> sha256
    def _index_path(self, path: str) -> Path:
        digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()
        return self.base / "index" / f"{digest}.json"

    @staticmethod
    def _stamp(st: os.stat_result) -> list[int]:
        return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]

    def sha_for(self, path: str, st: os.stat_result) -> str | None:
        """The sha256 recorded for this path when size, mtime and inode are unchanged."""
        try:
            entry = json.loads(self._index_path(path).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("path") != path or entry.get("stamp") != self._stamp(st):
            return None
        sha = entry.get("sha256")
        return sha if isinstance(sha, str) and _is_hex(sha) else None

    def remember(self, path: str, st: os.stat_result, sha256: str) -> None:
        """Record path + stat -> sha256."""
        target = self._index_path(path)
        body = json.dumps({"path": path, "stamp": self._stamp(st), "sha256": sha256}).encode()
        with contextlib.suppress(OSError, EnvresolveError):
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, body, durable=False)


def _is_hex(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)
