"""BN (archives): wheels, conda packages, directories, URLs and the report cache."""

from __future__ import annotations

from envresolve.diagnostics.model import Severity
from envresolve.diagnostics.registry import CodeInfo

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = ()
