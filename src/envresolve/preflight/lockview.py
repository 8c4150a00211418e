"""The lock as the rules see it: an `Environment` rebuilt from a lockfile, with the binary facts it recorded.

This is the one place that knows the lock model's field names (`envresolve.lock.model.Lock`): a package's
`binary` (an `ArtifactReport`, when the lock recorded one) and its `verdict` (why it has none).
"""

from __future__ import annotations

from typing import Any

from envresolve.binary.model import ArtifactReport
from envresolve.compat.model import Environment, Package
from envresolve.diagnostics import Diagnostic, make

__all__ = ["environment_from_lock", "is_pure"]


def is_pure(pkg: Any) -> bool:
    """True for artifacts that carry no compiled code: `noarch` conda packages and `none-any` wheels."""
    filename = str(getattr(pkg, "filename", "") or "")
    return bool(getattr(pkg, "noarch", None)) or filename.endswith("-none-any.whl")


def _binary(pkg: Any) -> ArtifactReport | None:
    value = getattr(pkg, "binary", None)
    return value if isinstance(value, ArtifactReport) else None


def _note(pkg: Any) -> str | None:
    verdict = getattr(pkg, "verdict", None)
    reason = getattr(verdict, "reason", None)
    return str(reason) if reason else None


def environment_from_lock(lock: Any) -> tuple[Environment, list[Diagnostic]]:
    """The locked environment, and one CK109 note naming the compiled packages the lock recorded no binary facts for."""
    packages: list[Package] = []
    notes: list[Diagnostic] = []
    for p in getattr(lock, "conda", ()):
        packages.append(
            Package(
                name=p.name,
                version=p.version,
                ecosystem="conda",
                build=p.build,
                channel=p.channel,
                subdir=p.subdir,
                url=p.url,
                depends=tuple(p.depends),
                binary=_binary(p),
                binary_note=None if _binary(p) else _note(p),
            )
        )
    for p in getattr(lock, "pip", ()):
        packages.append(
            Package(
                name=p.name,
                version=p.version,
                ecosystem="pypi",
                url=p.url,
                channel=getattr(p, "index", None),
                depends=tuple(getattr(p, "requires_dist", ())),
                binary=_binary(p),
                binary_note=None if _binary(p) else _note(p),
            )
        )
    bare = [
        pkg
        for raw, pkg in zip((*getattr(lock, "conda", ()), *getattr(lock, "pip", ())), packages, strict=True)
        if pkg.binary is None and not is_pure(raw)
    ]
    if bare:
        names = ", ".join(p.name for p in bare[:12]) + (f" and {len(bare) - 12} more" if len(bare) > 12 else "")
        notes.append(
            make(
                "CK109",
                f"{len(bare)} compiled package(s) carry no recorded binary facts, only their metadata was "
                f"re-verified: {names}",
                evidence=[
                    f"{p.ecosystem} {p.name} {p.version}: {p.binary_note or 'the lock recorded no binary facts'}"
                    for p in bare[:20]
                ],
                hint="lock again with binary inspection on, or check the installed prefix with --prefix",
            )
        )
    return Environment(packages=tuple(packages), python=getattr(lock, "python", None)), notes
