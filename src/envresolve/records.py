"""Solved-package value types shared by the resolver and the lock: conda virtual packages and conda records.

They live here, below both `solve` and `lock`, so a lock can be read, checked and exported without importing the
resolver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from envresolve._redact import redact_url

if TYPE_CHECKING:
    from rattler import RepoDataRecord

    from envresolve.binary.model import ArtifactReport
    from envresolve.compat.model import Package

__all__ = ["CondaPackage", "VirtualPackage", "common_virtual_packages", "version_key"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


_M = TypeVar("_M", bound=BaseModel)


def _construct(cls: type[_M], values: dict[str, Any]) -> _M:
    """A pydantic model from trusted values that name every field: what `model_construct` does, without its
    per-field default handling (several times faster; used for records converted by the thousand)."""
    obj = object.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _masked(url: str) -> str:
    # most URLs carry nothing to mask; skip the parse for them (this runs once per solved record)
    return redact_url(url) if ("@" in url or "?" in url) else url


class VirtualPackage(_Frozen):
    """A conda virtual package of a node: `__cuda 12.4 0`."""

    name: str
    version: str
    build: str = "0"

    def __str__(self) -> str:
        return f"{self.name}={self.version}={self.build}"


class CondaPackage(_Frozen):
    """One solved conda package, as recorded in a lock (URLs without credentials)."""

    name: str
    version: str
    build: str
    build_number: int = 0
    channel: str = Field(description="channel base URL, credentials removed")
    subdir: str
    file_name: str
    url: str = Field(description="package URL, credentials removed")
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    noarch: str | None = Field(default=None, description="'python' or 'generic' for noarch packages")
    timestamp: int | None = Field(default=None, description="build time from the repodata record (ms since epoch)")
    license: str | None = None

    @classmethod
    def from_record(cls, record: RepoDataRecord) -> CondaPackage:
        """Copy the facts of a py-rattler record (trusted data: built without re-validation).

        Reads the record's native object directly: py-rattler's public properties wrap each field in a new
        Python object, which made this conversion most of envresolve's per-solve overhead over a bare solve.
        `tests/solve/test_conda.py` checks the result against the public properties.
        """
        raw = record._record
        noarch = raw.noarch
        noarch_kind = None if noarch.is_none else ("python" if noarch.is_python else "generic")
        py_version, source = raw.version
        ts = raw.timestamp
        sha256, md5 = raw.sha256, raw.md5
        return _construct(
            cls,
            {
                "name": raw.name.normalized,
                "version": source or py_version.as_str(),
                "build": str(raw.build),
                "build_number": int(raw.build_number),
                "channel": _masked(raw.channel or ""),
                "subdir": raw.subdir,
                "file_name": raw.file_name,
                "url": _masked(raw.url),
                "sha256": sha256.hex() if sha256 else None,
                "md5": md5.hex() if md5 else None,
                "size": raw.size,
                "depends": tuple(raw.depends),
                "constrains": tuple(raw.constrains),
                "noarch": noarch_kind,
                "timestamp": int(ts) if ts else None,  # ms since epoch, exactly as the repodata has it
                "license": raw.license,
            },
        )

    def as_package(self, *, binary: ArtifactReport | None = None, binary_note: str | None = None) -> Package:
        """The package as the compatibility rules see it."""
        from envresolve.compat.model import Package

        return Package(
            name=self.name,
            version=self.version,
            ecosystem="conda",
            build=self.build,
            channel=self.channel,
            subdir=self.subdir,
            url=self.url,
            depends=self.depends,
            binary=binary,
            binary_note=binary_note,
        )

    def to_record(self) -> RepoDataRecord:
        """A py-rattler record with the same facts (for the pixi export)."""
        from datetime import datetime, timezone

        from rattler import BuildString, NoArchType, PackageRecord, RepoDataRecord

        rec = PackageRecord(
            name=self.name,
            version=self.version,
            build=BuildString(self.build),
            build_number=self.build_number,
            subdir=self.subdir,
            noarch=NoArchType("python" if self.noarch == "python" else "generic") if self.noarch else None,
            depends=list(self.depends),
            constrains=list(self.constrains),
            sha256=bytes.fromhex(self.sha256) if self.sha256 else None,
            md5=bytes.fromhex(self.md5) if self.md5 else None,
            size=self.size,
            license=self.license,
        )
        if self.timestamp is not None:
            rec.timestamp = datetime.fromtimestamp(self.timestamp / 1000, tz=timezone.utc)
        return RepoDataRecord(rec, self.file_name, self.url, self.channel)

    @property
    def depends_on_python(self) -> bool:
        """True for packages that install into site-packages (they depend on python, or are noarch: python)."""
        return self.noarch == "python" or any(d.split()[0] == "python" for d in self.depends if d)


def version_key(v: str) -> tuple[Any, ...]:
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(v))
    except InvalidVersion:
        return (1, v)


def common_virtual_packages(per_node: Sequence[Sequence[VirtualPackage]]) -> tuple[VirtualPackage, ...]:
    """The virtual packages every node offers, each at the lowest version among the nodes.

    conda packages only ever ask for virtual packages as lower bounds (`__cuda >=12`, `__glibc >=2.17`), so a
    solution for these weakest facts installs on every node.
    """
    if not per_node:
        return ()
    names = set.intersection(*({vp.name for vp in vps} for vps in per_node))
    out: list[VirtualPackage] = []
    for name in sorted(names):
        cands = [vp for vps in per_node for vp in vps if vp.name == name]
        builds = {vp.build for vp in cands}
        low = min(cands, key=lambda vp: version_key(vp.version))
        if name == "__archspec" and len(builds) > 1:
            low = VirtualPackage(name=name, version="1", build=_common_archspec(builds))
        out.append(low)
    return tuple(out)


def _common_archspec(builds: set[str]) -> str:
    # microarchitecture names differ per node; the generic architecture name runs everywhere
    for generic in ("x86_64", "aarch64", "ppc64le"):
        if any(b == generic or b.startswith(generic) for b in builds):
            return generic
    return sorted(builds)[0]
