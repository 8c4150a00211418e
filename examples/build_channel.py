"""Trim the demo's local conda channel from real repodata records.

Source: the team corpus's `repodata/lockfile-derived/conda-forge` channel, itself every linux-64/noarch
conda-forge record of three real public pixi lock files (records unchanged: depends, constrains, sha256,
md5, timestamps; see examples/README.md). This script solves the demo's conda dependencies with py-rattler
against that channel for a generous node (CUDA 13.0 driver, glibc 2.39), then keeps every record of every
package name the solution uses, so the solver still has real choices (several python 3.x builds, cuda-version
12.4 / 12.6 / 12.9, ...). Output: `examples/channel/conda-forge/{linux-64,noarch}/repodata.json`, sorted.

    python examples/build_channel.py /path/to/corpus/repodata/lockfile-derived/conda-forge
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "channel" / "conda-forge"

#: the conda side of examples/llm-finetune-dataset.yaml (keep in sync)
SPECS = [
    "python 3.12.*",
    "pip",
    "cuda-version 12.*",
    "cuda-cudart",
    "cuda-nvrtc",
    "numpy",
    "pyyaml",
    "filelock",
    "typing_extensions",
]
GENEROUS_NODE = {"__cuda": "13.0", "__glibc": "2.39", "__linux": "6.8", "__unix": "0", "__archspec": "1"}


def main(argv: list[str]) -> int:
    from envresolve.solve.conda import CondaSettings, CondaSolver, VirtualPackage

    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[0]).resolve()
    vps = [
        VirtualPackage(name=n, version=v, build="x86_64" if n == "__archspec" else "0")
        for n, v in GENEROUS_NODE.items()
    ]
    with tempfile.TemporaryDirectory() as cache:
        solution = CondaSolver([str(source)], CondaSettings(cache_dir=cache)).solve(SPECS, vps)
    if not solution.ok:
        for d in solution.diagnostics:
            print(d.message, file=sys.stderr)
        return 1
    names = {p.name for p in solution.packages}
    for subdir in ("linux-64", "noarch"):
        data = json.loads((source / subdir / "repodata.json").read_text(encoding="utf-8"))
        out: dict[str, object] = {"info": {"subdir": subdir}, "repodata_version": 1}
        for key in ("packages", "packages.conda"):
            recs = data.get(key) or {}
            out[key] = {fn: rec for fn, rec in sorted(recs.items()) if rec["name"] in names}
        target = OUT / subdir / "repodata.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        kept = sum(len(v) for k, v in out.items() if k.startswith("packages") and isinstance(v, dict))
        print(f"{target}: {kept} records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
