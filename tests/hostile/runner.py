"""Runs hostile cases, each in a forked child of one warmed-up process, and measures each one.

`python tests/hostile/runner.py CASES.json RESULTS.json`: CASES is a list of
`{"id", "argv", "api", "cwd", "timeout"}`; RESULTS maps each id to
`{"exit", "seconds", "cpu_s", "max_rss_kib", "killed"}` (stdout/stderr go to `cwd/stdout`, `cwd/stderr`).

One process imports envresolve once and forks per case, so a case costs milliseconds of startup instead of a
fresh interpreter, yet gets its own exit status, peak RSS (`wait4`'s `ru_maxrss`, which counts what the child
inherited too) and wall time. The parent kills a child that outlives its timeout or grows past the memory
ceiling, so a hang or a memory blow-up fails its case without harming the machine.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KILL_RSS_KIB = 600 * 1024  # far above the 300 MB budget: the case fails either way, the machine stays safe


def _child(case: dict[str, object]) -> int:
    cwd = Path(str(case["cwd"]))
    os.chdir(cwd)
    fd_in = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd_in, 0)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        f = os.open(cwd / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(f, fd)
    sys.stdout = os.fdopen(1, "w", closefd=False)
    sys.stderr = os.fdopen(2, "w", closefd=False)
    status = 4
    try:
        if case.get("api"):
            from tests.hostile import api_cases

            status = api_cases.run(str(case["api"]), cwd)
        else:
            from envresolve.cli import main

            status = main([str(a) for a in case["argv"]])  # type: ignore[attr-defined]
    except BaseException:  # a traceback here is a failed case: print it so the test shows it
        import traceback

        traceback.print_exc()
        status = 4
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _Running:
    def __init__(self, case: dict[str, object]) -> None:
        self.id = str(case["id"])
        self.timeout = float(case.get("timeout") or 20.0)  # type: ignore[arg-type]
        self.sleeps = bool(case.get("sleeps"))
        self.start = time.monotonic()
        self.killed = ""
        self.pid = os.fork()
        if self.pid == 0:
            code = 4
            try:
                code = _child(case)
            finally:
                os._exit(code)

    def poll(self) -> dict[str, object] | None:
        done, status, usage = os.wait4(self.pid, os.WNOHANG)
        if not done:
            elapsed = time.monotonic() - self.start
            if elapsed > self.timeout:
                self.killed = "timeout"
            elif _rss_kib(self.pid) > KILL_RSS_KIB:
                self.killed = "memory"
            else:
                return None
            os.kill(self.pid, signal.SIGKILL)
            _, status, usage = os.wait4(self.pid, 0)
        return {
            "exit": os.waitstatus_to_exitcode(status),
            "seconds": round(time.monotonic() - self.start, 3),
            "max_rss_kib": usage.ru_maxrss,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "killed": self.killed,
        }


def run_all(cases: list[dict[str, object]], parallel: int) -> dict[str, dict[str, object]]:
    """Run the cases, `parallel` at a time; those marked `sleeps` (they block on a FIFO until their timeout
    today, using no CPU) all start at once beside the others, so they do not hold the queue."""
    results: dict[str, dict[str, object]] = {}
    running: list[_Running] = [_Running(c) for c in cases if c.get("sleeps")]
    sleepers = len(running)
    queue = [c for c in cases if not c.get("sleeps")]
    while queue or running:
        while queue and len(running) - sleepers < parallel:
            running.append(_Running(queue.pop(0)))
        time.sleep(0.005)
        for r in list(running):
            result = r.poll()
            if result is not None:
                results[r.id] = result
                running.remove(r)
                sleepers -= r.sleeps
    return results


def main(argv: list[str]) -> int:
    cases = json.loads(Path(argv[0]).read_text())
    sys.path.insert(0, str(REPO))
    # warm up in the parent: what the commands import, so that a case pays only for its own work (importing
    # starts no native threads; py-rattler's start when it first solves, in a child)
    import envresolve.binary.conda_pkg
    import envresolve.binary.elf
    import envresolve.binary.wheel
    import envresolve.cli
    import envresolve.compat.engine
    import envresolve.diagnostics.render
    import envresolve.lock.io
    import envresolve.node.load
    import envresolve.orchestrate
    import envresolve.preflight.api
    import envresolve.specs.lint  # noqa: F401

    assert len(os.listdir("/proc/self/task")) == 1, "a thread in the parent would not survive fork"

    results = run_all(cases, int(os.environ.get("HOSTILE_PARALLEL", "2")))
    Path(argv[1]).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
