"""Facts encoded in names: local version labels, index paths, extension wheel names, bundled CUDA runtimes.

The conventions are data (`matrices/names.yaml`); this module only applies them. Every decoded fact carries the
provenance `encoded in a name` and the citation of the rule that decoded it. A name no rule matches decodes to
nothing: unknown, never a guess.

>>> decode_local_label("flash-attn", "cu12torch2.6cxx11abiFALSE").torch
'2.6'
>>> decode_wheel_filename("torch_scatter-2.1.2+pt21cu121-cp311-cp311-linux_x86_64.whl").cuda
'12.1'
>>> decode_bundled_runtime("torch/lib/libcudart-80664282.so.10.2").cuda
'10.2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Literal
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envresolve.diagnostics import Evidence
from envresolve.matrices.access import Sourced, names_matrix
from envresolve.matrices.models import NameRule, TorchBindingRow

__all__ = [
    "PROVENANCE",
    "NameFacts",
    "decode_bundled_runtime",
    "decode_index_url",
    "decode_local_label",
    "decode_wheel_filename",
    "torch_binding",
]

#: The provenance layer of every fact this module returns.
PROVENANCE = "encoded in a name"

Kind = Literal["local-label", "index-path", "bundled-runtime"]


@dataclass(frozen=True)
class NameFacts:
    """What one name says about a build; None where the name says nothing."""

    name: str
    rule: Sourced[NameRule] = field(repr=False, compare=False)
    cuda: str | None = None  # major.minor
    cuda_major: int | None = None
    torch: str | None = None  # major.minor
    rocm: str | None = None
    cpu: bool = False
    cxx11_abi: bool | None = None
    provenance: str = PROVENANCE

    def evidence(self, fact: str) -> Evidence:
        """Evidence for a diagnostic resting on this name: the fact, the name, the rule's source."""
        return self.rule.evidence(f"{fact} ({PROVENANCE}: {self.name})")


def _compact_cuda(text: str) -> str:
    """'118' -> '11.8', '92' -> '9.2', '10.2' -> '10.2' (the last digit is the minor)."""
    return text if "." in text else f"{text[:-1]}.{text[-1]}"


def _compact_torch(text: str) -> str:
    """'21' -> '2.1', '113' -> '1.13', '2.3' -> '2.3' (the first digit is the major)."""
    return text if "." in text else f"{text[0]}.{text[1:]}"


def _facts(name: str, rule: Sourced[NameRule], groups: dict[str, str | None]) -> NameFacts:
    """NameFacts from a rule's match groups."""
    cuda_text, torch_text = groups.get("cuda"), groups.get("torch")
    cuda = _compact_cuda(cuda_text) if cuda_text else None
    major = groups.get("cuda_major")
    abi = groups.get("cxx11abi")
    return NameFacts(
        name=name,
        rule=rule,
        cuda=cuda,
        cuda_major=int(major) if major else (int(cuda.split(".")[0]) if cuda else None),
        torch=_compact_torch(torch_text) if torch_text else None,
        rocm=groups.get("rocm") or None,
        cpu=bool(groups.get("cpu")),
        cxx11_abi=None if abi is None else abi.upper() == "TRUE",
    )


@cache
def _rules(kind: Kind) -> tuple[tuple[re.Pattern[str], frozenset[str], Sourced[NameRule]], ...]:
    matrix = names_matrix()
    return tuple(
        (re.compile(r.pattern), frozenset(canonicalize_name(p) for p in r.packages), Sourced(r, matrix))
        for r in matrix.rows
        if r.kind == kind
    )


def _match(kind: Kind, text: str, package: str | None, *, search: bool = False) -> NameFacts | None:
    pkg = canonicalize_name(package) if package else None
    for pattern, packages, rule in _rules(kind):
        if packages and pkg not in packages:
            continue
        m = pattern.search(text) if search else pattern.fullmatch(text)
        if m:
            return _facts(text if not search else m.group(0), rule, m.groupdict())
    return None


def decode_local_label(package: str, label: str) -> NameFacts | None:
    """Facts in the local version label (`cu121` of `2.4.0+cu121`) of a release of `package`."""
    return _match("local-label", label, package)


def decode_wheel_filename(filename: str) -> NameFacts | None:
    """Facts in a wheel file name's local version label (`flash_attn-2.6.3+cu123torch2.4cxx11abiTRUE-...whl`)."""
    try:
        name, version, _build, _tags = parse_wheel_filename(unquote(filename.rsplit("/", 1)[-1]))
    except InvalidWheelFilename:
        return None
    return decode_local_label(name, version.local) if version.local else None


def torch_binding(package: str) -> Sourced[TorchBindingRow] | None:
    """The row saying `package`'s compiled code binds to the torch minor it was built for, if any."""
    matrix = names_matrix()
    want = canonicalize_name(package)
    row = next((b for b in matrix.bindings if canonicalize_name(b.package) == want), None)
    return Sourced(row, matrix) if row else None


def decode_index_url(url: str) -> NameFacts | None:
    """Facts in the path of an index or find-links URL (`/whl/cu121`, PyG's `/whl/torch-2.1.0+cu121.html`)."""
    path = unquote(urlsplit(url).path if "://" in url else url).rstrip("/")
    for pattern, _packages, rule in _rules("index-path"):
        matches = list(pattern.finditer(path))
        m = matches[-1] if matches else None  # the last match: the most specific segment
        if m is not None and (m.end() == len(path) or path[m.end()] == "/"):
            return _facts(m.group(0), rule, m.groupdict())
    return None


def decode_bundled_runtime(path: str) -> NameFacts | None:
    """The CUDA version of a runtime bundled under a hashed name (`torch/lib/libcudart-80664282.so.10.2`)."""
    return _match("bundled-runtime", path.rsplit("/", 1)[-1], None)
