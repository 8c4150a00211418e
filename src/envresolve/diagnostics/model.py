"""The `Diagnostic` value type and its parts."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict

__all__ = ["Category", "Diagnostic", "Evidence", "Location", "Severity"]


class Severity(str, Enum):
    """How bad a finding is. `error` makes commands exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for errors, 1 for warnings, 2 for info: sorts worst first."""
        return {"error": 0, "warning": 1, "info": 2}[self.value]


class Category(str, Enum):
    """The fixed vocabulary users filter findings on."""

    SPEC = "spec"
    NODE = "node"
    DRIVER = "driver"
    COMPUTE_CAPABILITY = "compute-capability"
    GLIBC = "glibc"
    LIBSTDCXX = "libstdcxx"
    CXX_ABI = "cxx-abi"
    MISSING_LIBRARY = "missing-library"
    PYTHON = "python"
    COMPANION = "companion"
    CUDNN = "cudnn"
    NCCL = "nccl"
    RESOLUTION = "resolution"
    LOCKFILE = "lockfile"
    SECURITY = "security"
    # Unreadable or malformed binary artefacts (ELF, fatbin, archives). Not a compatibility verdict.
    BINARY = "binary"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Location(_Frozen):
    """A place in a source file; `line` and `column` are 1-based."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class Evidence(_Frozen):
    """One fact a finding rests on, and where that fact comes from.

    `source` names a document (for a matrix row: title, table, date read), a file, or a probe.
    `unsure` is true when the fact comes from a matrix row marked unsure.
    """

    fact: str
    source: str | None = None
    unsure: bool = False


class Diagnostic(_Frozen):
    """One finding, with a stable code from the registry."""

    code: str
    name: str
    severity: Severity
    category: Category
    message: str
    subject: str | None = None
    node: str | None = None
    location: Location | None = None
    evidence: tuple[Evidence, ...] = ()
    hint: str | None = None

    def with_node(self, node: str | None) -> Diagnostic:
        """The same finding, attributed to a named node."""
        return self.model_copy(update={"node": node})
