"""`lint(paths, nodes)`: load every spec, collect structural findings, run the static checks per node."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envresolve._input import open_fd
from envresolve.diagnostics import Diagnostic, make, sort_diagnostics, unique_diagnostics
from envresolve.errors import InputError
from envresolve.specs.dockerfile import is_containerfile_name
from envresolve.specs.load import SPEC_SUFFIXES, load_file

if TYPE_CHECKING:
    from envresolve.node.facts import NodeFacts
    from envresolve.node.images import ImageFacts
    from envresolve.specs.judged import WheelFactsLookup

__all__ = ["iter_spec_files", "lint"]


def iter_spec_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The files to lint: files as given, directories walked (sorted) for spec-looking files.

    Raises `InputError` (GN101) for a path that does not exist.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and _looks_like_spec(child) and not _hidden(child, p):
                    yield child
        elif p.exists():
            yield p
        else:
            raise InputError(make("GN101", f"{p} does not exist", subject=str(p)))


def _looks_like_spec(path: Path) -> bool:
    """Directory walks take YAML files (sniffed later), pixi manifests and pyproject.toml, and text files named
    like requirements or constraints: not every `.txt` (a LICENSE.txt is no requirements file)."""
    name, suffix = path.name.lower(), path.suffix.lower()
    if is_containerfile_name(path.name):
        return True
    if suffix == ".py":
        return _mentions_imagespec(path)
    if suffix not in SPEC_SUFFIXES:
        return False
    if suffix == ".toml":
        return name.endswith("pixi.toml") or name == "pyproject.toml"
    if suffix in (".txt", ".in"):
        return "requirements" in name or "constraints" in name or name.endswith(".in")
    return True


def _mentions_imagespec(path: Path) -> bool:
    """Directory walks take a Python file only when it mentions ImageSpec (read capped at the spec size limit)."""
    try:
        fd, _st = open_fd(path)  # a FIFO or a device named *.py is no spec: not read, not waited on
    except OSError:
        return False
    with os.fdopen(fd, "rb") as fh:
        return b"ImageSpec" in fh.read(4 * 1024 * 1024)


def _hidden(child: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in child.relative_to(root).parts)


def lint(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    nodes: Sequence[NodeFacts] = (),
    *,
    env: Mapping[str, str] | None = None,
    image: ImageFacts | None = None,
    allow_outside_includes: bool = False,
    wheel_facts: WheelFactsLookup | None = None,
) -> list[Diagnostic]:
    """Lint spec files against zero or more target nodes; findings sorted worst first.

    Structural findings are reported once per file. The checks run once without a node, or, with nodes,
    once per node, and each finding then names its node (`Diagnostic.node`). `env` is the mapping used to
    expand `${VAR}` in requirements files (pip's rule). `image` is the container image the environments run in
    when a spec does not name its own (a Dockerfile's FROM, an ImageSpec's base image): it decides glibc and
    libstdc++, each node its driver and GPUs. `-r`/`-c` includes outside a spec's directory are refused (SP160)
    unless `allow_outside_includes`. `wheel_facts` reads the binary facts of wheels named by URL
    (`envresolve.binary.budgeted`); without it they are judged by name and metadata only.
    Raises `InputError` (GN101) for a missing path.
    """
    from envresolve.specs.checks import check_spec

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = list(iter_spec_files(paths))
    out: list[Diagnostic] = []
    for file in files:
        res = load_file(file, env=env, allow_outside_includes=allow_outside_includes)
        out.extend(res.diagnostics)
        for spec in res.specs:
            out.extend(spec.diagnostics)
            if image is not None and spec.image is None:
                spec = spec.model_copy(update={"image": image})
            if nodes:
                for node in nodes:
                    label = f"{spec.image.ref} on {node.label}" if spec.image is not None else node.label
                    out.extend(d.with_node(label) for d in check_spec(spec, node, wheel_facts=wheel_facts))
            else:
                out.extend(check_spec(spec, None, wheel_facts=wheel_facts))
    return sort_diagnostics(unique_diagnostics(out))
