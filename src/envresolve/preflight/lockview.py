"""The lock as the rules see it: an `Environment` rebuilt from a lockfile, with the binary facts it recorded.

Each locked package carries its `binary` facts (an `ArtifactReport`, when the lock recorded one) and its
`verdict` (why it has none); `as_package()` turns it into what the rules read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envresolve.compat.model import Environment
from envresolve.diagnostics import Diagnostic, make

if TYPE_CHECKING:
    from envresolve.lock.model import Lock, LockedCondaPackage, LockedPipPackage

__all__ = ["environment_from_lock", "is_pure"]


def is_pure(pkg: Any) -> bool:
    """True for artifacts that carry no compiled code: `noarch` conda packages and `none-any` wheels."""
    filename = str(getattr(pkg, "filename", "") or "")
    return bool(getattr(pkg, "noarch", None)) or filename.endswith("-none-any.whl")


def environment_from_lock(lock: Lock) -> tuple[Environment, list[Diagnostic]]:
    """The locked environment, and one CK109 note naming the compiled packages the lock recorded no binary facts for."""
    notes: list[Diagnostic] = []
    locked: tuple[LockedCondaPackage | LockedPipPackage, ...] = (*lock.conda, *lock.pip)
    packages = [p.as_package() for p in locked]
    bare = [pkg for raw, pkg in zip(locked, packages, strict=True) if pkg.binary is None and not is_pure(raw)]
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
    return Environment(packages=tuple(packages), python=lock.python), notes
