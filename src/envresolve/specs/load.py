"""Format sniffing and the one entry point that turns a file into `EnvSpec`s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envresolve.diagnostics import Diagnostic, Location, Severity, make
from envresolve.errors import InputError
from envresolve.specs._text import read_spec_text
from envresolve.specs._yaml import YNode, compose_documents
from envresolve.specs.dataset import is_dataset_stream, load_dataset_manifest
from envresolve.specs.dockerfile import is_containerfile_name, load_containerfile
from envresolve.specs.environment_yml import load_environment_yml
from envresolve.specs.imagespec import is_imagespec_keys, load_imagespec_python, load_imagespec_yaml
from envresolve.specs.model import EnvSpec
from envresolve.specs.pixi import load_pixi
from envresolve.specs.readers import reader_for
from envresolve.specs.requirements import RequirementsParser

__all__ = ["SPEC_SUFFIXES", "LoadResult", "load_file", "load_spec", "sniff_yaml"]

#: file suffixes a directory walk picks up
SPEC_SUFFIXES = (".yaml", ".yml", ".txt", ".in", ".toml", ".py")


@dataclass
class LoadResult:
    """Specs found in one file, plus findings that belong to the file rather than to one spec."""

    path: str
    format: str | None = None
    specs: list[EnvSpec] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def sniff_yaml(docs: list[YNode | None]) -> str | None:
    """'dataset', 'environment-yml', 'imagespec', 'conda-lock-virtual-packages' or None for a parsed YAML stream."""
    if is_dataset_stream(docs):
        return "dataset"
    first = next((d for d in docs if d is not None), None)
    if first is None or not first.is_map:
        return None
    keys = {k.value for k, _ in first.pairs if k.is_scalar}
    if is_imagespec_keys(keys):
        return "imagespec"
    if "subdirs" in keys and not keys & {"dependencies", "channels"}:
        return "conda-lock-virtual-packages"
    if keys & {"dependencies", "channels"} or keys == {"name"}:
        return "environment-yml"
    return None


def load_file(
    path: str | Path, *, env: Mapping[str, str] | None = None, allow_outside_includes: bool = False
) -> LoadResult:
    """Load one file in whichever format it is. Unreadable files raise `InputError` (GN101, GN106); malformed
    content (SP1xx) is returned as diagnostics so that lint can report every file.

    `-r`/`-c` includes outside the file's directory are refused (SP160) unless `allow_outside_includes`.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(make("GN101", f"{p} does not exist", subject=str(p)))
    if p.is_dir():
        raise InputError(make("GN101", f"{p} is a directory, not a spec file", subject=str(p)))
    result = LoadResult(path=str(p))
    try:
        text = read_spec_text(p)
        _dispatch(p, text, env, result, allow_outside_includes)
    except InputError as exc:
        if any(d.code in ("GN101", "GN106") for d in exc.diagnostics):
            raise
        result.diagnostics.extend(exc.diagnostics)
    return result


def _dispatch(
    p: Path, text: str, env: Mapping[str, str] | None, result: LoadResult, allow_outside_includes: bool
) -> None:
    reader = reader_for(p, text)
    if reader is not None:
        got = reader.read(p, text, env)
        result.format = got.format
        result.specs = list(got.specs)
        result.diagnostics.extend(got.diagnostics)
        return
    name, suffix = p.name.lower(), p.suffix.lower()
    file = str(p)
    if is_containerfile_name(p.name):
        result.format = "dockerfile"
        result.specs, diags = load_containerfile(p, text, env=env)
        result.diagnostics += diags
        return
    if suffix == ".py":
        result.format = "imagespec"
        result.specs, diags = load_imagespec_python(p, text, env=env)
        result.diagnostics += diags
        return
    if suffix == ".toml":
        result.format = "pixi"
        if name == "pyproject.toml" and "[tool.pixi" not in text:
            result.diagnostics.append(
                make(
                    "SP107",
                    "no [tool.pixi] table; nothing to lint",
                    severity=Severity.INFO,
                    subject=file,
                    location=Location(file=file),
                )
            )
            return
        result.specs = load_pixi(p, text, env=env)
        return
    if suffix in (".txt", ".in") or (
        suffix not in (".yaml", ".yml", ".json") and ("requirements" in name or "constraints" in name)
    ):
        result.format = "requirements-txt"
        res = RequirementsParser(env=env, allow_outside_includes=allow_outside_includes).parse_file(p)
        diags = list(res.diagnostics)
        if not res.pip:
            diags.append(
                make(
                    "SP112",
                    "the requirements file declares no packages",
                    subject=file,
                    location=Location(file=file, line=1, column=1),
                )
            )
        result.specs = [
            EnvSpec(
                name=None,
                source=file,
                format="requirements-txt",
                pip=tuple(res.pip),
                indexes=tuple(res.indexes),
                no_index=res.no_index,
                diagnostics=tuple(diags),
                location=Location(file=file, line=1, column=1),
            )
        ]
        return
    if name in ("pixi.lock", "conda-lock.yml", "conda-lock.yaml") or name.endswith((".conda-lock.yml", "__pixi.lock")):
        result.format = "lock"
        result.diagnostics.append(
            make(
                "SP107",
                "a lock file, not a spec; lint checks the spec it was made from",
                severity=Severity.INFO,
                subject=file,
                location=Location(file=file, line=1, column=1),
            )
        )
        return
    if suffix in (".yaml", ".yml", ".json"):
        docs, warnings = compose_documents(text, file)
        kind = sniff_yaml(docs)
        result.format = kind
        if kind == "dataset":
            result.specs, diags = load_dataset_manifest(p, text, env=env, docs=docs)
            result.diagnostics += warnings + diags
            return
        if kind == "imagespec":
            result.specs, diags = load_imagespec_yaml(p, text, docs, env=env)
            result.diagnostics += warnings + diags
            return
        if kind == "environment-yml":
            result.specs = load_environment_yml(p, text, env=env, allow_outside_includes=allow_outside_includes)
            return
        if kind == "conda-lock-virtual-packages":
            result.diagnostics.append(
                make(
                    "SP107",
                    "a conda-lock virtual-package file: node facts, not an environment",
                    severity=Severity.INFO,
                    subject=file,
                    location=Location(file=file, line=1, column=1),
                    hint=f"pass it as a node: envresolve lint SPEC --node {file}",
                )
            )
            return
        # valid YAML, but no spec: a warning, so that hooks over many YAML files do not fail on unrelated ones
        result.diagnostics.append(
            make(
                "SP107",
                "YAML, but not a Dataset manifest, environment.yml or conda-lock virtual-package file; skipped",
                severity=Severity.WARNING,
                subject=file,
                location=Location(file=file, line=1, column=1),
            )
        )
        return
    raise InputError(
        make(
            "SP107",
            "not a Dataset manifest, environment.yml, requirements file, pixi manifest, Dockerfile or Flyte ImageSpec",
            subject=file,
            location=Location(file=file, line=1, column=1),
        )
    )


def load_spec(
    path: str | Path, *, env: Mapping[str, str] | None = None, allow_outside_includes: bool = False
) -> list[EnvSpec]:
    """Every environment a spec file declares, as it will really be built.

    A Dataset manifest can hold several CONDA Datasets (multi-document YAML, `List` objects); a pixi manifest
    gives one spec per environment (and per Linux platform where they differ). Non-fatal findings are in each
    `EnvSpec.diagnostics`. Raises `InputError` when the file cannot be read or parsed at all (GN101, SP1xx).
    `-r`/`-c` includes outside the file's directory are refused (SP160) unless `allow_outside_includes`.
    """
    res = load_file(path, env=env, allow_outside_includes=allow_outside_includes)
    errors = [d for d in res.diagnostics if d.severity is Severity.ERROR]
    if errors and not res.specs:
        raise InputError(errors)
    if res.format is None and not res.specs:  # a file that is no spec at all
        raise InputError([d.model_copy(update={"severity": Severity.ERROR}) for d in res.diagnostics])
    if res.diagnostics and res.specs:
        first = res.specs[0]
        res.specs[0] = first.model_copy(update={"diagnostics": (*res.diagnostics, *first.diagnostics)})
    return res.specs
