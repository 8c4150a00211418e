"""Coverage-guided fuzzing of the binary parsers and the YAML reader with atheris (libFuzzer for Python).

Targets (each reuses the contract of its `fuzz/fuzz_*.py` harness: only `EnvresolveError` / `YamlError` may
escape, and a rejected input must say why):

- `elf`: `envresolve.binary.elf.read_elf` (via `fuzz_elf.one_input`, symbols on)
- `fatbin`: `envresolve.binary.fatbin` (via `fuzz_fatbin.one_input`)
- `wheel`: `envresolve.binary.wheel.wheel_report` (via `fuzz_zip.one_input`)
- `conda`: `envresolve.binary.conda_pkg.conda_report` on `.conda` bytes (via `fuzz_zip.one_input`)
- `yaml`: `envresolve._yaml.compose_documents` and `load_documents`

The seed corpus of a target is its harness's `SEEDS` (built from the committed ELF fixtures) plus the committed
files in `fuzz/corpus/<target>/` (small seeds and every crash the fuzzer found, kept as regressions).

    python fuzz/coverage.py all --seconds 3         # bounded pass, all targets in one process (the test suite)
    python fuzz/coverage.py                         # every target in its own process, 2 s each
    python fuzz/coverage.py elf --seconds 3600      # a long session (docs/security.md, "Fuzzing")
    python fuzz/coverage.py --replay                # run every committed corpus file once, no fuzzing

A crash is written as `crash-<sha1>` into `--artifacts` (default: a temporary directory) and the run fails;
commit the input into `fuzz/corpus/<target>/` with the fix (from an `all` run, drop its first byte: it picks
the target, `TARGETS[byte % 5]`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "corpus"
TARGETS = ("elf", "fatbin", "wheel", "conda", "yaml")
_MAX_LEN = {"elf": 64 << 10, "fatbin": 16 << 10, "wheel": 64 << 10, "conda": 64 << 10, "yaml": 4 << 10}


def _harness(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", HERE / f"fuzz_{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _yaml_one_input(data: bytes) -> None:
    from envresolve._yaml import YamlError, compose_documents, load_documents

    text = data.decode("utf-8", "replace")
    for reader in (compose_documents, load_documents):
        with contextlib.suppress(YamlError):  # the one exception the contract allows
            reader(text)  # type: ignore[operator]


def target(name: str) -> tuple[Callable[[bytes], None], list[bytes]]:
    """The one-input function of a target and its generated seeds."""
    if name == "elf":
        elf = _harness("elf")
        return (lambda data: elf.one_input(data, chunk=4096, symbols=True)), list(elf.SEEDS)
    if name == "fatbin":
        fatbin = _harness("fatbin")
        return (lambda data: fatbin.one_input(data, chunk=64)), list(fatbin.SEEDS)
    if name in ("wheel", "conda"):
        z = _harness("zip")
        wheel, conda = z.SEEDS
        if name == "wheel":
            return (lambda data: z.one_input(data)), [wheel]
        return (lambda data: z.one_input(data, conda=True)), [conda]
    if name == "yaml":
        return _yaml_one_input, []
    raise SystemExit(f"unknown target {name!r}; one of {', '.join(TARGETS)}")


def _corpus_files(name: str) -> list[Path]:
    d = CORPUS / name
    return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []


def _mixed() -> tuple[Callable[[bytes], None], list[bytes]]:
    """All targets in one process: the first byte picks the target, the rest is its input. One start-up and
    one instrumentation for the whole bounded pass; the committed corpora join the seeds, each prefixed."""
    parts = [target(name) for name in TARGETS]
    fns = [fn for fn, _ in parts]

    def one_input(data: bytes) -> None:
        if data:
            fns[data[0] % len(fns)](data[1:])

    seeds = [bytes([i]) + seed for i, (_, target_seeds) in enumerate(parts) for seed in target_seeds]
    seeds += [bytes([i]) + p.read_bytes() for i, name in enumerate(TARGETS) for p in _corpus_files(name)]
    return one_input, seeds


def _child(name: str, seconds: float, runs: int, artifacts: str, seed: int) -> None:
    """Inside the fuzzing process: instrument envresolve, then hand control to libFuzzer."""
    import atheris

    with atheris.instrument_imports(include=["envresolve"]):
        import envresolve._yaml
        import envresolve.binary.conda_pkg
        import envresolve.binary.elf
        import envresolve.binary.fatbin
        import envresolve.binary.wheel  # noqa: F401

    one_input, seeds = _mixed() if name == "all" else target(name)
    work = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for i, data in enumerate(seeds):
        (work / f"seed-{i}").write_bytes(data)
    dirs = [str(work)] + ([str(CORPUS / name)] if (CORPUS / name).is_dir() else [])
    args = [
        sys.argv[0],
        f"-max_total_time={max(1, int(seconds))}",
        f"-max_len={max(_MAX_LEN.values()) if name == 'all' else _MAX_LEN[name]}",
        f"-seed={seed}",
        f"-artifact_prefix={artifacts.rstrip('/')}/",
        "-rss_limit_mb=1024",
        "-timeout=10",
        "-print_final_stats=1",
    ]
    if runs:
        args.append(f"-runs={runs}")
    atheris.Setup(args + dirs, one_input)
    atheris.Fuzz()


def replay(names: list[str]) -> list[str]:
    """Run every committed corpus file of the targets once (no atheris needed); returns failures."""
    failures = []
    for name in names:
        one_input, _ = target(name)
        for path in _corpus_files(name):
            try:
                one_input(path.read_bytes())
            except Exception as exc:  # a contract violation: report all, not just the first
                failures.append(f"{name}/{path.name}: {type(exc).__name__}: {exc}")
    return failures


def run(
    names: list[str], seconds: float, *, runs: int = 0, artifacts: str | None = None, seed: int = 1
) -> list[tuple[str, str, float]]:
    """Fuzz each target in its own process; returns (target, "ok" | failure text, seconds)."""
    results = []
    artifacts = artifacts or tempfile.mkdtemp(prefix="fuzz-artifacts-")
    Path(artifacts).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for name in names:
        started = time.monotonic()
        cmd = [sys.executable, str(Path(__file__)), "--child", name, "--seconds", str(seconds), "--runs", str(runs),
               "--artifacts", artifacts, "--seed", str(seed)]  # fmt: skip
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 60)
            status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        except subprocess.TimeoutExpired:
            status = f"hang: no result within {seconds + 60:.0f} s"
        results.append((name, status, time.monotonic() - started))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "targets", nargs="*", help=f"targets, or `all` for one mixed process (default: each of {', '.join(TARGETS)})"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="fuzzing time per target (default 2)")
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs (default: no limit)")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed (default 1: reproducible)")
    parser.add_argument("--artifacts", help="directory for crash inputs (default: a temporary directory)")
    parser.add_argument("--replay", action="store_true", help="only run the committed corpus files once")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.seconds, args.runs, args.artifacts, args.seed)
        return 0
    names = args.targets or list(TARGETS)
    if args.replay:
        failures = replay([n for n in names if n != "all"] or list(TARGETS))
        print("\n".join(failures) or f"replayed the corpus of {', '.join(names)}: no contract violation")
        return 1 if failures else 0
    bad = 0
    for name, status, seconds in run(names, args.seconds, runs=args.runs, artifacts=args.artifacts, seed=args.seed):
        print(f"{name:<8} {seconds:6.1f} s  {status}")
        bad += status != "ok"
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
