"""The `envresolve` command line. Each subcommand lives in its own module with
`configure_parser(subparsers)` and `run(args) -> int`; heavy imports happen inside `run`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

from envresolve._version import __version__

__all__ = [
    "EXIT_CANNOT_PROBE",
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_outside_includes_argument",
    "add_timeout_argument",
    "console_main",
    "main",
]

EXIT_OK = 0  # no errors
EXIT_FINDINGS = 1  # errors were found (lint, lock, check)
EXIT_USAGE = 2  # usage or input error
EXIT_CANNOT_PROBE = 3  # the node could not be probed
EXIT_INTERNAL = 4  # a bug

#: subcommand name -> module under envresolve.cli; a module that is absent is simply not offered
SUBCOMMANDS = ("probe", "inspect", "lint", "lock", "check", "explain", "webhook")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        from envresolve.diagnostics import make
        from envresolve.diagnostics.render import render_text

        self.print_usage(sys.stderr)
        print(render_text([make("GN104", message)]), file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = _Parser(
        prog="envresolve",
        description="Resolve and check conda + pip ML environments against a target GPU node.",
    )
    parser.add_argument("--version", action="version", version=f"envresolve {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"envresolve.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"envresolve.cli.{name}":
                continue
            raise
        module.configure_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status instead of exiting, so tests can call it in-process."""
    from envresolve.errors import EnvresolveError  # light: the diagnostics (and pydantic) load only when needed

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    timeout = getattr(args, "timeout", None)
    try:
        with _deadline(timeout):
            return int(args.run(args))
    except _CommandDeadline:
        from envresolve.diagnostics import make
        from envresolve.diagnostics.render import render_text

        diag = make(
            "RS410",
            f"the command's deadline of {timeout:g} s passed",
            hint="raise --timeout, or use a faster index, mirror or channel",
        )
        print(render_text([diag], color=_color(sys.stderr)), file=sys.stderr)
        return EXIT_USAGE
    except EnvresolveError as exc:
        from envresolve.diagnostics.render import render_text

        print(render_text(exc.diagnostics, color=_color(sys.stderr)), file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the contract: no tracebacks for users
        if os.environ.get("ENVRESOLVE_DEBUG"):
            raise
        from envresolve.diagnostics import make
        from envresolve.diagnostics.render import render_text

        diag = make("GN103", f"unexpected {type(exc).__name__}: {exc}", hint="set ENVRESOLVE_DEBUG=1 for a traceback")
        print(render_text([diag]), file=sys.stderr)
        return EXIT_INTERNAL


def console_main() -> NoReturn:
    """Entry point of the `envresolve` script and `python -m envresolve`: run `main`, flush, and exit
    without tearing the interpreter down.

    py-rattler keeps native (tokio) threads alive; interpreter finalization under them has aborted at exit
    (`PyGILState_Release` during finalization) after a successful run. Every file envresolve writes is
    complete (written atomically) before `main` returns, so skipping finalization loses nothing.
    """
    status = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


class _CommandDeadline(BaseException):
    """Raised in the main thread when `--timeout` has passed (a BaseException: no `except Exception` hides it)."""


#: the HTTP client's own deadline fires first with the URL it was fetching; this backstop catches the rest
_GRACE_S = 1.0


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """`--timeout`: every HTTP request of the command shares the deadline, and a timer ends whatever else runs."""
    if seconds is None:
        yield
        return
    import signal
    import threading

    from envresolve.net import command_deadline

    command_deadline(seconds)
    armed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    previous = None
    if armed:

        def fire(_signum: int, _frame: object) -> None:
            raise _CommandDeadline

        previous = signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, seconds + _GRACE_S)
    try:
        yield
    finally:
        command_deadline(None)
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _positive_seconds(text: str) -> float:
    """argparse type of `--timeout`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"--timeout wants a positive number of seconds, got {text!r}")
    return value


def add_timeout_argument(parser: argparse.ArgumentParser) -> None:
    """`--timeout SECONDS` for a command that may touch the network."""
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=None,
        help="deadline for the whole command, network included (RS410 past it; default: none, "
        "each request still ends within 600 s)",
    )


def _budget(text: str) -> int:
    from envresolve.binary.budgeted import parse_budget

    try:
        return parse_budget(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r} (e.g. 8M, 512k, 0)") from None


def add_inspect_budget_argument(parser: argparse.ArgumentParser) -> None:
    """`--inspect-budget BYTES`: how much of each candidate wheel (or conda package) the single pass reads."""
    parser.add_argument(
        "--inspect-budget",
        metavar="BYTES",
        type=_budget,
        default=None,
        help="compressed bytes read per wheel with compiled code to learn its binary facts, and the largest "
        "conda package read (whole) for them (default 8M; e.g. 64M reads device code of larger wheels, 0 reads "
        "none)",
    )


def add_outside_includes_argument(parser: argparse.ArgumentParser) -> None:
    """`--allow-outside-includes` for a command that reads specs."""
    parser.add_argument(
        "--allow-outside-includes",
        action="store_true",
        help="read -r/-c includes of requirements files outside the spec's directory (refused by default: SP160)",
    )


def _color(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ
