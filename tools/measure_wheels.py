"""Regenerate `matrices/measured_wheels.yaml`: download PyPI wheels, inspect them with envresolve, delete them.

Not part of the test run; needs a network. It picks, per project, the wheel files listed in `PLAN` from PyPI's
simple index (PEP 691 JSON), downloads one at a time into a temporary directory (the next download overlaps the
current inspection, so at most two wheels are on disk), verifies the index's sha256, runs `envresolve.inspect` on
it, reads the Requires-Dist of its PEP 658 metadata file, and writes the row. Rows already in the table (by sha256)
are kept and not measured again, so an interrupted run resumes. The table is rewritten atomically after each
wheel. Timings and bytes go to stdout (and `--timings FILE` as JSON).

    .venv/bin/python tools/measure_wheels.py                      # every project of PLAN
    .venv/bin/python tools/measure_wheels.py --only torch --dry-run
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion, Version

import envresolve
import envresolve.errors
from envresolve._atomic import atomic_write_text
from envresolve.binary.measured import cuda_pins, measured_row
from envresolve.matrices.measured import MeasuredWheel, MeasuredWheelsMatrix

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "matrices" / "measured_wheels.yaml"
INDEX = "https://pypi.org/simple"  # PyPI's simple index; its JSON API is not used
ACCEPT = "application/vnd.pypi.simple.v1+json"
PYTHONS = ("cp311", "cp310", "cp39", "cp38", "cp37", "cp312", "cp313")


@dataclass(frozen=True)
class Plan:
    """Which files of a project to measure: versions from `since` (or the newest `last`), one CPython each."""

    project: str
    since: str | None = None
    last: int = 3
    archs: tuple[str, ...] = ("x86_64",)


PLAN: tuple[Plan, ...] = (
    Plan("torch", since="1.7", archs=("x86_64", "aarch64")),
    # torch's companions, for every release that pairs with a torch of the table: a lock of torch with them
    # then reads none of their files
    Plan("torchvision", since="0.8", archs=("x86_64", "aarch64")),
    Plan("torchaudio", since="0.7", archs=("x86_64", "aarch64")),
    Plan("triton", since="2.0"),
    Plan("xformers", last=3),
    Plan("bitsandbytes", last=3),
    Plan("cupy-cuda11x", last=2),
    Plan("cupy-cuda12x", last=2),
    Plan("cupy-cuda13x", last=2),
    Plan("jax-cuda12-plugin", last=2),
    Plan("jax-cuda12-pjrt", last=2),
    Plan("jax-cuda13-plugin", last=2),
    Plan("jax-cuda13-pjrt", last=2),
    Plan("onnxruntime-gpu", last=3),
    Plan("vllm", last=2),
    Plan("tensorflow", last=2),
)


def _get(url: str, accept: str | None = None, timeout: float = 60.0) -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data: bytes = resp.read()
        return data


def project_page(project: str) -> dict[str, Any]:
    """The PEP 691 JSON page of a project."""
    page: dict[str, Any] = json.loads(_get(f"{INDEX}/{project}/", ACCEPT))
    return page


def _linux(filename: str, arch: str) -> bool:
    return filename.endswith(f"_{arch}.whl") and "manylinux" in filename


def pick_files(plan: Plan, page: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of `plan`: per version and architecture, the Linux wheel of the first Python of PYTHONS
    (else an abi3 / py3-none wheel), newest build tag first."""
    files = [f for f in page["files"] if f["filename"].endswith(".whl") and not f.get("yanked")]
    by_version: dict[Version, list[dict[str, Any]]] = {}
    for f in files:
        try:
            _name, version, _build, _tags = parse_wheel_filename(f["filename"])
        except ValueError:
            continue
        if version.is_prerelease or version.is_devrelease or version.local:
            continue
        by_version.setdefault(version, []).append(f)
    versions = sorted(by_version)
    since = Version(plan.since) if plan.since is not None else None
    versions = [v for v in versions if v >= since] if since is not None else versions[-plan.last :]
    chosen = []
    for version in versions:
        for arch in plan.archs:
            best = _first_python([f for f in by_version[version] if _linux(f["filename"], arch)])
            if best is not None:
                chosen.append(best)
    return chosen


def _first_python(cands: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The wheel of the first Python of PYTHONS (else an abi3 / py3-none wheel), newest build tag first."""
    for want in (*(f"-{py}-" for py in PYTHONS), "-abi3-", "-none-"):
        hits = [f for f in cands if want in f["filename"]]
        if hits:
            return max(hits, key=lambda f: parse_wheel_filename(f["filename"])[2])
    return None


class _RangeReader(io.RawIOBase):
    """A seekable read-only view of a remote file through HTTP range requests (for zipfile)."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size, self.pos = url, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence] + offset
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.pos)
        if n <= 0:
            return 0
        req = urllib.request.Request(self.url, headers={"Range": f"bytes={self.pos}-{self.pos + n - 1}"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            data = resp.read()
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def requires_dist(f: dict[str, Any]) -> list[str]:
    """Requires-Dist of a file: from its PEP 658 metadata file, else (the index does not serve one for every
    file) from the wheel's own METADATA, read with range requests."""
    try:
        raw = _get(f["url"] + ".metadata")
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
        with zipfile.ZipFile(io.BufferedReader(_RangeReader(f["url"], f["size"]), buffer_size=1 << 20)) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            raw = zf.read(names[0]) if names else b""
    meta = BytesParser().parsebytes(raw, headersonly=True)
    return [str(x) for x in meta.get_all("Requires-Dist") or []]


def repin(rows: list[MeasuredWheel], plans: list[Plan]) -> list[MeasuredWheel]:
    """Rows with their `pins` read again from the index (no wheel is downloaded)."""
    files = {f["hashes"]["sha256"]: f for p in plans for f in project_page(p.project)["files"]}
    out = []
    for row in rows:
        f = files.get(row.sha256)
        out.append(row.model_copy(update={"pins": cuda_pins(requires_dist(f))}) if f else row)
    return out


def download(f: dict[str, Any], workdir: Path) -> tuple[Path, float]:
    """Download a file into `workdir`, verifying the index's sha256; returns the path and seconds taken."""
    t0 = time.monotonic()
    dest = workdir / f["filename"]
    digest = hashlib.sha256()
    with urllib.request.urlopen(f["url"], timeout=120) as resp, dest.open("wb") as out:
        while chunk := resp.read(1 << 22):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != f["hashes"]["sha256"]:
        dest.unlink()
        raise RuntimeError(f"{f['filename']}: sha256 differs from the index")
    return dest, time.monotonic() - t0


def load_rows() -> list[MeasuredWheel]:
    """The rows of the current table (none when it does not exist yet)."""
    if not TABLE.exists():
        return []
    return list(MeasuredWheelsMatrix.model_validate(yaml.safe_load(TABLE.read_text(encoding="utf-8"))).rows)


HEADER = """\
# Facts measured by `envresolve inspect` on real PyPI wheels (one file per row), regenerated by
# tools/measure_wheels.py. Keyed by sha256 and by (name, version, tag); `measured` is the date read.
# device_code lists only libraries with device code the driver can load; `needed` is DT_NEEDED nothing in the
# wheel provides; `pins` are the CUDA library `==` pins of the file's Requires-Dist.
"""


def write_table(rows: list[MeasuredWheel], today: dt.date) -> None:
    """Validate and atomically write the table, rows sorted by project, version and tag."""
    rows = sorted(rows, key=lambda r: (r.name, _vkey(r.version), r.tag))
    obj = {
        "schema_version": 1,
        "kind": "measured-wheels",
        "sources": {
            "envresolve-inspect": {
                "title": "envresolve inspect of the wheel file downloaded from PyPI (sha256 verified against "
                "PyPI's simple index), metadata from its PEP 658 .metadata file",
                "section": "tools/measure_wheels.py",
                "url": "https://pypi.org/simple/",
                "read": max([r.measured for r in rows], default=today).isoformat(),
            }
        },
        "rows": [r.model_dump(mode="json", exclude_defaults=True) for r in rows],
    }
    MeasuredWheelsMatrix.model_validate(obj)
    body = yaml.safe_dump(obj, sort_keys=False, default_flow_style=None, width=200)
    atomic_write_text(TABLE, HEADER + body)


def _vkey(v: str) -> Version:
    try:
        return Version(v)
    except InvalidVersion:
        return Version("0")


def _todo(plans: list[Plan], known: set[str]) -> Iterator[dict[str, Any]]:
    for plan in plans:
        page = project_page(plan.project)
        for f in pick_files(plan, page):
            if f["hashes"]["sha256"] not in known:
                yield f


#: projects whose exact pins in a measured torch wheel's Requires-Dist are measured too (`--pinned`): the CUDA
#: libraries torch installs with it, so that a lock of torch reads none of them
PINNED_BY = "torch"
_PINNED = ("nvidia-", "cuda-")


def pinned_files(rows: list[MeasuredWheel]) -> list[dict[str, Any]]:
    """The wheels the measured `PINNED_BY` rows pin exactly (`==`) among `_PINNED` projects, for each row's
    architecture (markers evaluated for Linux on it)."""
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement

    by_sha = {f["hashes"]["sha256"]: f for f in project_page(PINNED_BY)["files"]}
    wanted: set[tuple[str, str, str]] = set()  # (project, version, arch)
    for row in rows:
        f = by_sha.get(row.sha256)
        if row.name != PINNED_BY or f is None:
            continue
        arch = "aarch64" if row.tag.endswith("aarch64") else "x86_64"
        py = row.tag.split("-")[0]
        env = {
            **default_environment(),
            "platform_system": "Linux",
            "sys_platform": "linux",
            "platform_machine": arch,
            "python_version": f"{py[2]}.{py[3:]}" if py.startswith("cp") else "3.11",
            "extra": "",
        }
        for line in requires_dist(f):
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            exact = [sp.version for sp in req.specifier if sp.operator == "=="]
            if len(exact) != 1 or not req.name.lower().startswith(_PINNED):
                continue
            if req.marker is None or req.marker.evaluate(env):
                wanted.add((req.name.lower().replace("_", "-"), exact[0], arch))
    out: list[dict[str, Any]] = []
    for project in sorted({p for p, _v, _a in wanted}):
        page = project_page(project)
        for _p, version, arch in sorted(w for w in wanted if w[0] == project):
            best = _first_python(
                [
                    f
                    for f in page["files"]
                    if _linux(f["filename"], arch)
                    and not f.get("yanked")
                    and parse_wheel_filename(f["filename"])[1] == Version(version)
                ]
            )
            if best is not None:
                out.append(best)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="projects of PLAN to measure (default: all)")
    ap.add_argument("--dry-run", action="store_true", help="list the files that would be measured")
    ap.add_argument("--repin", action="store_true", help="read the pins of the rows again; download nothing")
    ap.add_argument("--timings", type=Path, help="write per-file timings here as JSON")
    ap.add_argument(
        "--pinned", action="store_true", help=f"measure the CUDA wheels the {PINNED_BY} rows pin (not PLAN's files)"
    )
    args = ap.parse_args(argv)
    plans = [p for p in PLAN if not args.only or p.project in args.only]
    rows = load_rows()
    known = {r.sha256 for r in rows}
    todo = (f for f in pinned_files(rows) if f["hashes"]["sha256"] not in known) if args.pinned else _todo(plans, known)
    if args.repin:
        write_table(repin(rows, plans), dt.datetime.now(dt.timezone.utc).date())
        return 0
    if args.dry_run:
        for f in todo:
            print(f["filename"], f["size"])
        return 0
    today = dt.datetime.now(dt.timezone.utc).date()
    timings: list[dict[str, Any]] = []
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="measure-wheels-"))
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:  # one download at a time, overlapping one inspection
            pending: tuple[dict[str, Any], Future[tuple[Path, float]]] | None = None
            for f in [*todo, None]:
                nxt = (f, pool.submit(download, f, workdir)) if f is not None else None
                if pending is not None:
                    cur, fut = pending
                    try:
                        timings.append(_measure(cur, fut, rows, today))
                    except (OSError, RuntimeError, ValueError, envresolve.errors.EnvresolveError) as exc:
                        print(json.dumps({"file": cur["filename"], "error": str(exc)}), flush=True)
                        continue
                    write_table(rows, today)
                pending = nxt
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    total = {
        "files": len(timings),
        "bytes": sum(t["bytes"] for t in timings),
        "download_s": round(sum(t["download_s"] for t in timings), 1),
        "inspect_s": round(sum(t["inspect_s"] for t in timings), 1),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(total))
    if args.timings:
        args.timings.write_text(json.dumps({"total": total, "files": timings}, indent=1) + "\n")
    return 0


def _measure(
    f: dict[str, Any], fut: Future[tuple[Path, float]], rows: list[MeasuredWheel], today: dt.date
) -> dict[str, Any]:
    path, download_s = fut.result()
    try:
        t0 = time.monotonic()
        report = envresolve.inspect(path, cache=False)
        inspect_s = time.monotonic() - t0
    finally:
        path.unlink(missing_ok=True)
    row = measured_row(report, filename=f["filename"], size=f["size"], measured=today, requires_dist=requires_dist(f))
    rows.append(row)
    line = {
        "file": f["filename"],
        "bytes": f["size"],
        "download_s": round(download_s, 1),
        "inspect_s": round(inspect_s, 1),
    }
    print(json.dumps(line), flush=True)
    return line


if __name__ == "__main__":
    sys.exit(main())
