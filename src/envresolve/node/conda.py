"""conda's view of a node: virtual packages, conda-lock style virtual-package files, CONDA_OVERRIDE_*.

Versions and build strings follow CEP 30 (virtual packages) and CEP 46 (`__cuda_arch`):

- `__linux`: the mainline kernel version (distribution suffixes dropped), build `0`;
- `__glibc`: `major.minor`, build `0`;
- `__cuda`: the driver's CUDA level `major.minor`, build `0`; absent without a CUDA driver;
- `__cuda_arch`: the LOWEST compute capability of the node's GPUs, build `0`; absent without `__cuda` or GPUs;
- `__archspec`: version `1`, build the archspec microarchitecture (`x86_64_v3`), or version `0` and the bare
  arch when the microarchitecture is unknown;
- `__unix`: version `0`, build `0`.

Overrides keep conda's meaning: a non-empty `CONDA_OVERRIDE_CUDA` / `_GLIBC` / `_CUDA_ARCH` sets the value,
an empty one removes the package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from envresolve.diagnostics import Diagnostic, make
from envresolve.errors import InputError
from envresolve.limits import MAX_VERSION_DIGITS
from envresolve.node.facts import CpuFacts, DriverFacts, NodeFacts, OsFacts, Provenance
from envresolve.node.microarch import level_name

__all__ = [
    "OVERRIDE_VARS",
    "apply_conda_overrides",
    "is_virtual_packages_obj",
    "linux_version",
    "nodes_from_virtual_packages",
    "virtual_packages",
]

OVERRIDE_VARS = ("CONDA_OVERRIDE_CUDA", "CONDA_OVERRIDE_GLIBC", "CONDA_OVERRIDE_CUDA_ARCH")

_LINUX = re.compile(r"^([0-9]+\.[0-9]+(?:\.[0-9]+)?(?:\.[0-9]+)?)")
_CC = re.compile(r"^[0-9]+\.[0-9]+$")
_SUBDIR_ARCH = {"linux-64": "x86_64", "linux-aarch64": "aarch64", "linux-ppc64le": "ppc64le"}
_ARCHSPEC_LEVEL = {"x86_64": 1, "x86_64_v2": 2, "x86_64_v3": 3, "x86_64_v4": 4}


def linux_version(kernel: str | None) -> str | None:
    """The mainline part of a kernel release: '6.8.0-45-generic' -> '6.8.0'."""
    m = _LINUX.match(kernel or "")
    return m.group(1) if m else None


def _major_minor(v: str) -> str:
    parts = v.split(".")
    return ".".join([*parts, "0"][:2])


def virtual_packages(node: NodeFacts) -> list[tuple[str, str, str]]:
    """conda virtual packages `(name, version, build)` for a node, sorted by name."""
    out: list[tuple[str, str, str]] = []
    cpu = node.cpu
    name = level_name(cpu.arch, cpu.microarch_level)
    known = cpu.arch != "x86_64" or cpu.microarch_level is not None
    out.append(("__archspec", "1" if known else "0", name))
    if node.driver is not None and node.driver.cuda:
        out.append(("__cuda", _major_minor(node.driver.cuda), "0"))
        cc = node.min_compute_capability
        if cc is not None:
            out.append(("__cuda_arch", cc, "0"))
    if node.glibc:
        out.append(("__glibc", _major_minor(node.glibc), "0"))
    out.append(("__linux", linux_version(node.os.kernel) or "0", "0"))
    out.append(("__unix", "0", "0"))
    return sorted(out)


def _is_version(v: str) -> bool:
    if any(len(run) > MAX_VERSION_DIGITS for run in re.findall(r"[0-9]+", v)):
        return False  # before `Version` calls int() on thousands of digits (a ValueError)
    try:
        Version(v)
    except InvalidVersion:
        return False
    return True


def apply_conda_overrides(node: NodeFacts, env: Mapping[str, str]) -> tuple[NodeFacts, list[Diagnostic]]:
    """Apply `CONDA_OVERRIDE_CUDA`, `CONDA_OVERRIDE_GLIBC` and `CONDA_OVERRIDE_CUDA_ARCH` from `env`.

    Pure: the caller passes the environment (usually `os.environ`). Unset variables change nothing; an
    empty value removes the fact (no CUDA means no driver and no GPUs); an invalid value is ignored with
    an ND209 warning. Every applied override is an ND210 finding and marks the fact `declared`.
    """
    diags: list[Diagnostic] = []
    update: dict[str, Any] = {}
    prov = dict(node.provenance)

    def applied(var: str, what: str) -> None:
        diags.append(make("ND210", f"{var}={env[var]!r}: {what}", subject=var))

    def invalid(var: str, expected: str) -> None:
        diags.append(make("ND209", f"{var}={env[var]!r} is not {expected}; ignored", subject=var))

    if "CONDA_OVERRIDE_CUDA" in env:
        raw = env["CONDA_OVERRIDE_CUDA"].strip()
        if raw == "":
            update.update(driver=None, gpus=(), cuda_arch=None)
            prov.update(driver=Provenance.DECLARED, gpus=Provenance.DECLARED)
            applied("CONDA_OVERRIDE_CUDA", "CUDA removed: no driver and no GPUs")
        elif _is_version(raw):
            version = node.driver.version if node.driver else None
            update["driver"] = DriverFacts(version=version, cuda=raw)
            prov["cuda"] = Provenance.DECLARED
            applied("CONDA_OVERRIDE_CUDA", f"the driver's CUDA level is {raw}")
        else:
            invalid("CONDA_OVERRIDE_CUDA", "a version")
    if "CONDA_OVERRIDE_GLIBC" in env:
        raw = env["CONDA_OVERRIDE_GLIBC"].strip()
        if raw == "":
            update["glibc"] = None
            prov["glibc"] = Provenance.DECLARED
            applied("CONDA_OVERRIDE_GLIBC", "glibc removed")
        elif _is_version(raw):
            update["glibc"] = raw
            prov["glibc"] = Provenance.DECLARED
            applied("CONDA_OVERRIDE_GLIBC", f"glibc is {raw}")
        else:
            invalid("CONDA_OVERRIDE_GLIBC", "a version")
    if "CONDA_OVERRIDE_CUDA_ARCH" in env:
        raw = env["CONDA_OVERRIDE_CUDA_ARCH"].strip()
        if raw == "":
            update.update(gpus=(), cuda_arch=None)
            prov["gpus"] = Provenance.DECLARED
            applied("CONDA_OVERRIDE_CUDA_ARCH", "no CUDA devices: GPUs removed")
        elif _CC.match(raw):
            update["cuda_arch"] = raw
            prov["cuda_arch"] = Provenance.DECLARED
            applied("CONDA_OVERRIDE_CUDA_ARCH", f"the lowest compute capability is {raw}")
        else:
            invalid("CONDA_OVERRIDE_CUDA_ARCH", "a compute capability such as 8.0")
    if not update:
        return node, diags
    update["provenance"] = prov
    return NodeFacts.model_validate({**node.model_dump(), **_dump(update)}), diags


def _dump(update: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in update.items():
        if hasattr(v, "model_dump"):
            out[k] = v.model_dump()
        elif isinstance(v, tuple):
            out[k] = [g.model_dump() if hasattr(g, "model_dump") else g for g in v]
        else:
            out[k] = v
    return out


def is_virtual_packages_obj(obj: Any) -> bool:
    """True for a conda-lock style virtual-packages mapping (`subdirs: {...}`)."""
    return isinstance(obj, dict) and "subdirs" in obj


def _pkg_version(value: Any, name: str, origin: str) -> str:
    if isinstance(value, dict):
        value = value.get("version")
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise InputError(make("ND202", f"{origin}: {name} needs a version string"))
    if isinstance(value, float):
        raise InputError(make("ND202", f"{origin}: quote the version of {name} (YAML read {value!r} as a number)"))
    return str(value).strip()


def nodes_from_virtual_packages(obj: Any, *, origin: str) -> list[tuple[NodeFacts, list[Diagnostic]]]:
    """One node per `linux-*` subdir of a conda-lock virtual-packages file (`subdirs.<subdir>.packages`)."""
    subdirs = obj.get("subdirs") if isinstance(obj, dict) else None
    if not isinstance(subdirs, dict) or not subdirs:
        raise InputError(make("ND202", f"{origin}: `subdirs` must map subdirs to their packages"))
    out: list[tuple[NodeFacts, list[Diagnostic]]] = []
    for subdir, body in subdirs.items():
        if not isinstance(subdir, str) or not subdir.startswith("linux-"):
            continue
        arch = _SUBDIR_ARCH.get(subdir)
        if arch is None:
            raise InputError(make("ND202", f"{origin}: subdir {subdir!r} is not supported"))
        packages = body.get("packages") if isinstance(body, dict) else None
        if packages is None:
            packages = {}
        if not isinstance(packages, dict):
            raise InputError(make("ND202", f"{origin}: subdirs.{subdir}.packages is not a mapping"))
        out.append((_node_from_packages(packages, arch, f"{origin}#{subdir}"), []))
    if not out:
        raise InputError(make("ND202", f"{origin}: no linux-* subdir in `subdirs`"))
    return out


def _node_from_packages(packages: dict[Any, Any], arch: str, origin: str) -> NodeFacts:
    prov: dict[str, Provenance] = {"cpu": Provenance.DECLARED}
    fields: dict[str, Any] = {}
    level: int | None = None
    for name, value in packages.items():
        if name in {"__unix", "__linux", "__glibc", "__cuda", "__cuda_arch", "__archspec"}:
            version = _pkg_version(value, name, origin)
        else:
            raise InputError(make("ND202", f"{origin}: {name!r} is not a Linux virtual package"))
        if name == "__glibc":
            if not _is_version(version):
                raise InputError(make("ND202", f"{origin}: __glibc {version!r} is not a version"))
            fields["glibc"], prov["glibc"] = version, Provenance.DECLARED
        elif name == "__cuda":
            if not _is_version(version):
                raise InputError(make("ND202", f"{origin}: __cuda {version!r} is not a version"))
            fields["driver"], prov["cuda"] = {"cuda": version}, Provenance.DECLARED
        elif name == "__cuda_arch":
            if not _CC.match(version):
                raise InputError(make("ND202", f"{origin}: __cuda_arch {version!r} is not like 8.0"))
            fields["cuda_arch"], prov["cuda_arch"] = version, Provenance.DECLARED
        elif name == "__linux":
            fields["kernel"], prov["kernel"] = version, Provenance.DECLARED
        elif name == "__archspec":
            build = value.get("build_string") or value.get("build") if isinstance(value, dict) else None
            level = _ARCHSPEC_LEVEL.get(str(build)) if build else None
    return NodeFacts(
        name=origin,
        source=origin,
        os=OsFacts(kernel=fields.pop("kernel", None)),
        cpu=CpuFacts(arch=arch, microarch_level=level if arch == "x86_64" else None),
        glibc=fields.get("glibc"),
        driver=DriverFacts(**fields["driver"]) if "driver" in fields else None,
        cuda_arch=fields.get("cuda_arch"),
        provenance=prov,
    )
