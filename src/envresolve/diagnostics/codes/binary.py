"""BN (objects): ELF shared objects and CUDA fatbinaries."""

from __future__ import annotations

from envresolve.diagnostics.model import Severity
from envresolve.diagnostics.registry import CodeInfo

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = ()
