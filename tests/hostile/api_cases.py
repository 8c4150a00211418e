"""The library-API side of the hostile suite: each function calls the public API on a case's input.

`run(name, case_dir)` prints the diagnostic codes as the CLI renders them (`[CODE ...]`) and returns 0 when the
call returned, the error's exit status when it raised an `EnvresolveError`; any other exception escapes (the
runner turns it into exit 4 with its traceback, a failed case).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import envresolve
from envresolve.diagnostics.model import Diagnostic
from envresolve.errors import EnvresolveError


def _print(diags: Iterable[Diagnostic]) -> None:
    for d in diags:
        print(f"[{d.code} api] {d.severity.value}")


def _first(d: Path, *names: str) -> Path:
    for n in names:
        if (d / n).exists() or (d / n).is_symlink():
            return d / n
    raise FileNotFoundError(names)


def _load_spec(d: Path) -> None:
    envresolve.load_spec(_first(d, "environment.yml"))


def _load_node(d: Path) -> None:
    envresolve.load_node(str(_first(d, "node.json")))


def _inspect(d: Path) -> None:
    r = envresolve.inspect(_first(d, "demo-1.0-cp311-cp311-manylinux2014_x86_64.whl", "libx.so"), cache=False)
    _print(r.diagnostics)


def _lint(d: Path) -> None:
    _print(envresolve.lint([str(_first(d, "environment.yml"))], []))


def _check(d: Path) -> None:
    verdict = envresolve.check(_first(d, "env.lock"), envresolve.load_node("h100-driver580"))
    _print(verdict.diagnostics)


CALLS: dict[str, Callable[[Path], None]] = {
    "load_spec": _load_spec,
    "load_node": _load_node,
    "inspect": _inspect,
    "lint": _lint,
    "check": _check,
}


def run(name: str, case_dir: Path) -> int:
    try:
        CALLS[name](case_dir)
    except EnvresolveError as exc:
        _print(exc.diagnostics)
        return exc.exit_status
    return 0
