"""Exceptions: they mean "cannot continue". Findings are diagnostics, never exceptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from envresolve.diagnostics import Diagnostic

__all__ = ["EnvresolveError", "InputError", "InternalError", "ProbeError"]


class EnvresolveError(Exception):
    """Root of every exception envresolve raises on purpose.

    It carries the diagnostics that explain why work stopped, so callers (and the CLI)
    render both channels the same way. Any other exception escaping a public function is a bug.
    """

    exit_status = 2

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]) -> None:
        from envresolve.diagnostics import Diagnostic

        if isinstance(diagnostics, Diagnostic):
            diagnostics = (diagnostics,)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(f"{first.code}: {first.message}" if first else "envresolve error")

    @property
    def code(self) -> str | None:
        """The code of the first diagnostic, the one that stopped the work."""
        return self.diagnostics[0].code if self.diagnostics else None


class InputError(EnvresolveError):
    """A file, spec, profile name or argument that cannot be read or understood (exit status 2)."""

    exit_status = 2


class ProbeError(EnvresolveError):
    """The live node could not be probed at all (exit status 3)."""

    exit_status = 3


class InternalError(EnvresolveError):
    """A bug: something that should not happen did (exit status 4)."""

    exit_status = 4
