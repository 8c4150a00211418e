"""Build the demo's local wheel index: tiny stand-in wheels whose metadata is that of real PyPI releases.

`examples/wheels/metadata.json` holds, for every file, the real name, version, file name (hence tags),
Requires-Python and Requires-Dist, read from PyPI with `pip install --dry-run --report` (see its `origin`).
This script writes one small wheel per entry into `examples/wheels/` and a static PEP 503 index over them into
`examples/index/` (one `index.html` per project, links with `#sha256=`), byte-for-byte reproducibly (fixed zip
timestamps, sorted members). The wheels contain no code: envresolve only locks, it never installs them. Their
sha256 differs from the real files' (`real_sha256` keeps the real one for reference).

    python examples/build_wheels.py          # rebuild
    python examples/build_wheels.py --check  # fail if the committed wheels differ from a rebuild
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "wheels"
INDEX = Path(__file__).resolve().parent / "index"
EPOCH = (1980, 1, 1, 0, 0, 0)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(entry: dict[str, object]) -> tuple[str, bytes]:
    """The file name and bytes of one stand-in wheel."""
    filename = str(entry["filename"])
    parts = filename[: -len(".whl")].split("-")
    dist, version = parts[0], parts[1]
    pyt, abi, plat = parts[-3], parts[-2], parts[-1]
    tags = [f"{p}-{a}-{pl}" for p in pyt.split(".") for a in abi.split(".") for pl in plat.split(".")]
    info = f"{dist}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {entry['name']}", f"Version: {entry['version']}"]
    meta.append(f"Summary: envresolve demo stand-in; metadata copied from the real {entry['name']} {entry['version']}")
    if entry.get("requires_python"):
        meta.append(f"Requires-Python: {entry['requires_python']}")
    meta += [f"Requires-Dist: {r}" for r in entry.get("requires_dist") or []]  # type: ignore[union-attr]
    purelib = plat == "any"
    wheel = ["Wheel-Version: 1.0", "Generator: envresolve examples/build_wheels.py"]
    wheel.append(f"Root-Is-Purelib: {'true' if purelib else 'false'}")
    wheel += [f"Tag: {t}" for t in tags]
    if len(parts) == 6:
        wheel.append(f"Build: {parts[2]}")
    members = {
        f"{dist}_demo_stub/__init__.py": b'"""Stand-in: no code. See examples/README.md."""\n',
        f"{info}/METADATA": ("\n".join(meta) + "\n").encode(),
        f"{info}/WHEEL": ("\n".join(wheel) + "\n").encode(),
    }
    record = [_record_line(n, d) for n, d in sorted(members.items())] + [f"{info}/RECORD,,"]
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(members):
            zi = zipfile.ZipInfo(name, date_time=EPOCH)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, members[name])
    return filename, buf.getvalue()


def simple_pages(data: dict[str, object], wanted: dict[str, bytes]) -> dict[str, bytes]:
    """A static PEP 503 index over the wheels: `index/<project>/index.html`, links with sha256 fragments."""
    import html
    import re

    projects: dict[str, list[str]] = {}
    for e in data["wheels"]:  # type: ignore[attr-defined]
        key = re.sub(r"[-_.]+", "-", str(e["name"])).lower()
        projects.setdefault(key, []).append(str(e["filename"]))
    pages: dict[str, bytes] = {}
    for key, files in sorted(projects.items()):
        links = []
        for fn in sorted(files):
            digest = hashlib.sha256(wanted[fn]).hexdigest()
            links.append(f'<a href="../../wheels/{html.escape(fn)}#sha256={digest}">{html.escape(fn)}</a><br/>')
        body = "<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        pages[f"{key}/index.html"] = body.encode()
    root = "".join(f'<a href="{k}/">{k}</a><br/>\n' for k in sorted(projects))
    pages["index.html"] = ("<!DOCTYPE html>\n<html><body>\n" + root + "</body></html>\n").encode()
    return pages


def main(argv: list[str]) -> int:
    data = json.loads((HERE / "metadata.json").read_text(encoding="utf-8"))
    wanted = dict(build_wheel(e) for e in data["wheels"])
    pages = simple_pages(data, wanted)
    if "--check" in argv:
        bad = [n for n, b in wanted.items() if not (HERE / n).is_file() or (HERE / n).read_bytes() != b]
        bad += [f"index/{n}" for n, b in pages.items() if not (INDEX / n).is_file() or (INDEX / n).read_bytes() != b]
        extra = sorted(p.name for p in HERE.glob("*.whl") if p.name not in wanted)
        for n in bad + extra:
            print(f"out of date: {n}", file=sys.stderr)
        return 1 if bad or extra else 0
    for old in HERE.glob("*.whl"):
        if old.name not in wanted:
            old.unlink()
    for name, blob in wanted.items():
        (HERE / name).write_bytes(blob)
    for name, blob in pages.items():
        (INDEX / name).parent.mkdir(parents=True, exist_ok=True)
        (INDEX / name).write_bytes(blob)
    print(f"wrote {len(wanted)} wheels to {HERE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
