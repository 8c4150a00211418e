"""Run the CLI in-process under a wall-clock guard, so a reader that blocks (a FIFO) fails instead of hanging."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from envresolve.cli import main


class Hung(Exception):
    """The guarded call ran past its time."""


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Raise `Hung` in the main thread after `seconds` (SIGALRM interrupts a blocking open or read)."""

    def fire(_signum: int, _frame: object) -> None:
        raise Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def cli(args: list[str], capsys: pytest.CaptureFixture[str], *, seconds: int = 20) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `envresolve ARGS`, run in this process under `within(seconds)`."""
    with within(seconds):
        rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err
