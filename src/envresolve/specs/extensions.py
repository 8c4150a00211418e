"""lint's view of extensions built against torch: the spec's pins and direct wheel URLs as the packages the
compatibility rule `envresolve.compat.check_extensions` judges (CP200-CP202), from names alone, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from envresolve.compat.extensions import check_extensions
from envresolve.compat.model import Environment, Package
from envresolve.matrices.names import decode_index_url

if TYPE_CHECKING:
    from envresolve.diagnostics import Diagnostic
    from envresolve.node.facts import NodeFacts
    from envresolve.specs.model import EnvSpec, PipRequirement

__all__ = ["extension_findings"]


def _pinned(req: PipRequirement) -> str | None:
    spec = req.specifier.strip()
    if spec.startswith("==") and "," not in spec and "*" not in spec:
        return spec.lstrip("=").strip() or None
    return None


def _wheel_version(url: str) -> str | None:
    try:
        return str(parse_wheel_filename(unquote(urlsplit(url).path.rsplit("/", 1)[-1]))[1])
    except InvalidWheelFilename:
        return None


def _torch_package(spec: EnvSpec, req: PipRequirement) -> Package | None:
    """torch as pip will install it: the pin, with the variant of a variant index (`/whl/cu121`) when the spec
    names one; unknown (None) when an index the names cannot decode could serve it."""
    if req.url:
        version = _wheel_version(req.url) if req.url.endswith(".whl") else None
        return Package(name="torch", version=version, ecosystem="pypi", url=req.url) if version else None
    pinned = _pinned(req)
    if pinned is None:
        return None
    if "+" in pinned:
        return Package(name="torch", version=pinned, ecosystem="pypi")
    indexes = [req.index] if req.index else [i.display for i in spec.indexes if i.kind != "find-links"]
    labels = set()
    for url in indexes:
        if "/whl/" not in url:
            continue
        facts = decode_index_url(url)
        if facts is None or facts.cuda is None:
            return None  # a wheel index of an unknown variant (or CPU/ROCm): torch's build is not known
        labels.add("cu" + facts.cuda.replace(".", ""))
    if len(labels) > 1:
        return None
    version = f"{pinned}+{labels.pop()}" if labels else pinned
    return Package(name="torch", version=version, ecosystem="pypi")


def extension_findings(spec: EnvSpec, node: NodeFacts | None) -> list[Diagnostic]:
    """CP200-CP202 for the spec's pinned or URL-given extensions next to its pinned torch, with their locations."""
    torch_req = next((r for r in spec.pip if r.name == "torch" and not r.constraint), None)
    torch = _torch_package(spec, torch_req) if torch_req is not None else None
    if torch is None:
        return []
    packages = [torch]
    where = {}
    for req in spec.pip:
        if req is torch_req or req.constraint or not req.name:
            continue
        version = _wheel_version(req.url) if req.url and req.url.endswith(".whl") else _pinned(req)
        if version is None:
            continue
        packages.append(Package(name=req.name, version=version, ecosystem="pypi", url=req.url))
        where[req.name] = req.location
    findings = check_extensions(Environment(packages=tuple(packages)), node)
    return [d.model_copy(update={"location": where.get(d.subject or "")}) for d in findings]
