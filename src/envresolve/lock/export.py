"""Exports of a lock to what existing installers read, each checked by that format's own reader.

- `pylock.toml` (PEP 751), validated with `packaging.pylock.Pylock`;
- a pixi-compatible lock through py-rattler's `LockFile`, read back with `LockFile.from_path`;
- a conda explicit file (`@EXPLICIT`, `url#md5` or `url#sha256:...`), read back with py-rattler;
- `requirements.txt` with `--hash` lines.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from envresolve._atomic import atomic_write_bytes, atomic_write_text
from envresolve._redact import redact_url
from envresolve.diagnostics import Diagnostic, make
from envresolve.errors import InternalError
from envresolve.lock import _toml
from envresolve.lock.io import canonical
from envresolve.lock.model import Lock

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = [
    "EXPORT_FILE_NAMES",
    "ExportFormat",
    "export",
    "to_explicit",
    "to_pixi",
    "to_pylock",
    "to_requirements",
    "write_export",
]

ExportFormat = Literal["pylock", "pixi", "explicit", "requirements"]

#: default file name of each export, written next to the lock
EXPORT_FILE_NAMES: dict[str, str] = {
    "pylock": "pylock.toml",
    "pixi": "pixi.lock",
    "explicit": "conda-explicit.txt",
    # not "requirements.txt": that is what many specs are called, and an export must never replace its input
    "requirements": "requirements.lock.txt",
}

_ENV_MARKERS = {
    "linux-64": 'sys_platform == "linux" and platform_machine == "x86_64"',
    "linux-aarch64": 'sys_platform == "linux" and platform_machine == "aarch64"',
    "linux-ppc64le": 'sys_platform == "linux" and platform_machine == "ppc64le"',
}


def _lossy(fmt: str, what: str) -> Diagnostic:
    return make("LK106", f"{fmt} export leaves out {what}", subject=fmt)


# ------------------------------------------------------------------------------------------- pylock


def pylock_dict(lock: Lock) -> dict[str, Any]:
    """The pylock.toml document as a mapping (PEP 751 keys)."""
    lock = canonical(lock)
    doc: dict[str, Any] = {"lock-version": "1.0"}
    marker = _ENV_MARKERS.get(lock.platform)
    if marker:
        doc["environments"] = [marker]
    if lock.python:
        major_minor = ".".join(lock.python.split(".")[:2])
        doc["requires-python"] = f"=={major_minor}.*"
    doc["created-by"] = "envresolve"
    packages: list[dict[str, Any]] = []
    for p in lock.pip:
        entry: dict[str, Any] = {"name": p.name, "version": p.version}
        if p.index and "://" in p.index and not p.index.startswith("file://"):
            entry["index"] = p.index
        if p.requires_python:
            entry["requires-python"] = p.requires_python
        artefact: dict[str, Any] = {"name": p.filename, "url": p.url}
        if p.size is not None:
            artefact["size"] = p.size
        artefact["hashes"] = {"sha256": p.sha256} if p.sha256 else {}
        if p.filename.endswith(".whl"):
            entry["wheels"] = [artefact]
        else:
            entry["sdist"] = artefact
        packages.append(entry)
    doc["packages"] = packages
    doc["tool"] = {
        "envresolve": {
            "spec-digest": lock.spec.digest,
            "nodes": [n.name for n in lock.nodes],
            "conda-packages": len(lock.conda),
        }
    }
    return doc


def to_pylock(lock: Lock) -> tuple[str, list[Diagnostic]]:
    """pylock.toml text, validated with `packaging.pylock`. Raises `InternalError` (LK103) if it does not validate."""
    from packaging.pylock import Pylock, PylockValidationError

    diags: list[Diagnostic] = []
    missing = [p.name for p in lock.pip if not p.sha256]
    if missing:
        raise InternalError(
            make("LK103", f"pylock.toml needs a hash for every artefact; none for: {', '.join(sorted(missing))}")
        )
    text = _toml.dumps(pylock_dict(lock))
    try:
        Pylock.from_dict(tomllib.loads(text)).validate()
    except (PylockValidationError, tomllib.TOMLDecodeError) as exc:
        raise InternalError(make("LK103", f"pylock.toml does not validate: {exc}")) from None
    if lock.conda:
        diags.append(_lossy("pylock.toml", f"the {len(lock.conda)} conda packages (use --export pixi or explicit)"))
    return text, diags


# --------------------------------------------------------------------------------------------- pixi


def to_pixi(lock: Lock) -> tuple[bytes, list[Diagnostic]]:
    """A pixi-compatible lock (rattler-lock format) holding the conda and pip packages, read back to check it."""
    from rattler import LockChannel, LockFile, LockPlatform

    lock = canonical(lock)
    vps = sorted({str(vp) for vp in _common_vps(lock)})
    platform = LockPlatform(lock.platform, virtual_packages=vps)
    lf = LockFile([platform])
    lf.set_channels("default", [LockChannel(c) for c in lock.channels])
    for p in lock.conda:
        lf.add_conda_package("default", platform, p.to_record())
    for q in lock.pip:
        lf.add_pypi_package("default", platform, q.name, q.version, q.url)
    with tempfile.TemporaryDirectory(prefix="envresolve-pixi-") as tmp:
        path = Path(tmp) / "pixi.lock"
        lf.to_path(path)
        try:
            back = LockFile.from_path(path)
            env = back.default_environment()
            plats = back.platforms()
            records = env.conda_repodata_records_for_platform(plats[0]) if env and plats else None
            pypi = env.pypi_packages_for_platform(plats[0]) if env and plats else None
            # an environment without packages of one kind reads back as None for that kind
            got, got_pypi = len(records or ()), len(pypi or ())
        except Exception as exc:
            raise InternalError(make("LK103", f"pixi lock does not read back: {exc}")) from None
        if (got, got_pypi) != (len(lock.conda), len(lock.pip)):
            raise InternalError(
                make(
                    "LK103",
                    f"pixi lock reads back {got} conda and {got_pypi} pypi packages, "
                    f"wrote {len(lock.conda)} and {len(lock.pip)}",
                )
            )
        return path.read_bytes(), []


def _common_vps(lock: Lock) -> list[Any]:
    from envresolve.records import common_virtual_packages

    return list(common_virtual_packages([n.virtual_packages for n in lock.nodes]))


# ----------------------------------------------------------------------------------------- explicit


def to_explicit(lock: Lock) -> tuple[str, list[Diagnostic]]:
    """A conda explicit file in install order (dependencies first), each URL with its hash."""
    from rattler import RepoDataRecord
    from rattler.explicit_environment import ExplicitEnvironmentSpec

    lock = canonical(lock)
    records = RepoDataRecord.sort_topologically([p.to_record() for p in lock.conda]) if lock.conda else []
    by_key = {(p.name, p.version, p.build): p for p in lock.conda}
    lines = [
        f"# conda explicit file generated by {lock.created_by} from {lock.spec.source}",
        f"# nodes: {', '.join(n.name for n in lock.nodes)}",
        f"# platform: {lock.platform}",
        "@EXPLICIT",
    ]
    for rec in records:
        p = by_key[(rec.name.normalized, str(rec.version), str(rec.build))]
        suffix = f"#{p.md5}" if p.md5 else (f"#sha256:{p.sha256}" if p.sha256 else "")
        lines.append(redact_url(p.url) + suffix)
    text = "\n".join(lines) + "\n"
    try:
        back = ExplicitEnvironmentSpec.from_str(text)
    except Exception as exc:
        raise InternalError(make("LK103", f"explicit file does not read back: {exc}")) from None
    if len(back.packages) != len(lock.conda):
        raise InternalError(make("LK103", "explicit file reads back a different number of packages"))
    diags = [_lossy("conda explicit file", f"the {len(lock.pip)} pip packages")] if lock.pip else []
    return text, diags


# ------------------------------------------------------------------------------------- requirements


def to_requirements(lock: Lock) -> tuple[str, list[Diagnostic]]:
    """requirements.txt pinning every pip package with `--hash`, installable with `pip install --require-hashes`."""
    lock = canonical(lock)
    lines = [
        f"# generated by {lock.created_by} from {lock.spec.source} for: {', '.join(n.name for n in lock.nodes)}",
        f"# python {lock.python or 'unknown'}; conda packages are in the lock, not here",
    ]
    diags: list[Diagnostic] = []
    primary = True
    for loc in sorted({p.index for p in lock.pip if p.index}):
        if _is_wheel_dir(loc):
            lines.append(f"--find-links {redact_url(loc)}")
        else:
            lines.append(f"{'--index-url' if primary else '--extra-index-url'} {redact_url(loc)}")
            primary = False
    for p in lock.pip:
        if p.sha256:
            lines.append(f"{p.name}=={p.version} \\\n    --hash=sha256:{p.sha256}")
        else:
            lines.append(f"{p.name}=={p.version}")
            diags.append(make("LK106", f"requirements.txt has no hash for: {p.name}", subject=p.name))
    if lock.conda:
        diags.append(_lossy("requirements.txt", f"the {len(lock.conda)} conda packages"))
    return "\n".join(lines) + "\n", diags


def _is_wheel_dir(location: str) -> bool:
    """True for a find-links location (a local directory holding distribution files), not a PEP 503 index."""
    from urllib.parse import unquote, urlsplit

    if "://" in location and not location.startswith("file://"):
        return False
    path = Path(unquote(urlsplit(location).path)) if location.startswith("file://") else Path(location)
    return path.is_dir() and any(path.glob("*.whl"))


# ------------------------------------------------------------------------------------------- common

_EXPORTERS: dict[str, Callable[[Lock], tuple[str | bytes, list[Diagnostic]]]] = {
    "pylock": to_pylock,
    "pixi": to_pixi,
    "explicit": to_explicit,
    "requirements": to_requirements,
}


def export(lock: Lock, fmt: str) -> tuple[str | bytes, list[Diagnostic]]:
    """Render one export format."""
    try:
        fn = _EXPORTERS[fmt]
    except KeyError:
        from envresolve.errors import InputError

        raise InputError(
            make("GN104", f"unknown export format: {fmt}", hint=f"one of: {', '.join(sorted(_EXPORTERS))}")
        ) from None
    return fn(lock)


def write_export(lock: Lock, fmt: str, path: str | os.PathLike[str]) -> list[Diagnostic]:
    """Render and write one export atomically; returns the export's diagnostics."""
    data, diags = export(lock, fmt)
    if isinstance(data, bytes):
        atomic_write_bytes(path, data)
    else:
        atomic_write_text(path, data)
    return diags
