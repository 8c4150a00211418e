"""Flyte `ImageSpec` as a spec: `ImageSpec(...)` calls in a Python file, read with `ast` (never executed), and the
YAML form flytekit accepts (a mapping of ImageSpec fields, `ImageSpec(**yaml.safe_load(f))`).

Field meanings follow flytekit's builders (flytekit/image_spec/default_builder.py and the envd plugin):

- default builder: base image `base_image` or debian:bookworm-slim; micromamba creates the environment from
  conda-forge plus `conda_channels` with `python=<python_version>` (the running interpreter's version when unset)
  and `conda_packages`; then uv installs `requirements` lines and `packages` into it, with `pip_index` as
  `--index-url` and each `pip_extra_index_url` as `--extra-index-url`. `cuda`/`cudnn` make it raise.
- envd builder: with `cuda` set, `base_image` is replaced by ubuntu20.04, `python_version` is required, and the
  CUDA toolkit `cuda` (with cuDNN `cudnn`) is installed into the image.
- with `builder` unset flytekit takes the registered builder of highest priority: envd when its plugin is
  installed, else the default one. Only envd accepts `cuda`, so a spec with `cuda` is read as envd builds it.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from envresolve.diagnostics import Diagnostic, Evidence, Location, Severity, make
from envresolve.node.images import ImageFacts, image_facts
from envresolve.specs._yaml import YNode
from envresolve.specs.conda import parse_conda_dependency
from envresolve.specs.model import Channel, CondaDependency, EnvSpec, IndexUrl, PipRequirement
from envresolve.specs.requirements import RequirementsParser

__all__ = [
    "IMAGESPEC_FIELDS",
    "is_imagespec_keys",
    "is_imagespec_python",
    "load_imagespec_python",
    "load_imagespec_yaml",
]

#: ImageSpec's dataclass fields (flytekit/image_spec/image_spec.py)
IMAGESPEC_FIELDS = frozenset(
    {
        "name", "python_version", "builder", "source_root", "env", "registry", "packages", "conda_packages",
        "conda_channels", "requirements", "apt_packages", "cuda", "cudnn", "base_image", "platform", "pip_index",
        "pip_extra_index_url", "pip_secret_mounts", "pip_extra_args", "registry_config", "entrypoint", "commands",
        "tag_format", "source_copy_mode", "copy", "python_exec", "runtime_packages", "builder_options",
        "builder_config",
    }
)  # fmt: skip
_TELLING = frozenset(
    {"packages", "conda_packages", "base_image", "python_version", "cuda", "cudnn", "requirements", "apt_packages"}
)
_SOURCE = "flytekit (flyteorg/flytekit e96c720, read 2026-12-06): image_spec/default_builder.py, plugins/flytekit-envd"
_DEFAULT_BASE = "debian:bookworm-slim"
_ENVD_CUDA_BASE = "ubuntu:20.04"
_MAX_CALLS = 256


def is_imagespec_keys(keys: set[str]) -> bool:
    """True for a YAML mapping that is an ImageSpec: only ImageSpec fields, at least one that says so."""
    return bool(keys) and keys <= IMAGESPEC_FIELDS and bool(keys & (_TELLING | {"builder", "registry"}))


def is_imagespec_python(text: str) -> bool:
    """A cheap test for directory walks: the file mentions ImageSpec."""
    return "ImageSpec" in text


@dataclass
class _Value:
    """One field as written: a scalar, or a list of (item, location); `None` items were not literal."""

    location: Location
    scalar: str | None = None
    items: list[tuple[str, Location]] = field(default_factory=list)
    is_list: bool = False


_Fields = dict[str, _Value]


# -- Python --------------------------------------------------------------------------------------------------
class _PyReader:
    def __init__(self, file: str, tree: ast.Module) -> None:
        self.file = file
        self.diags: list[Diagnostic] = []
        self.constants: dict[str, ast.expr] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.constants[stmt.targets[0].id] = stmt.value

    def at(self, node: ast.AST) -> Location:
        return Location(file=self.file, line=getattr(node, "lineno", 1), column=getattr(node, "col_offset", 0) + 1)

    def _resolve(self, node: ast.expr, depth: int = 0) -> ast.expr:
        if isinstance(node, ast.Name) and node.id in self.constants and depth < 8:
            return self._resolve(self.constants[node.id], depth + 1)
        return node

    def _str(self, node: ast.expr, what: str) -> str | None:
        node = self._resolve(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and what == "python_version":
            return str(node.value)
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        self.diags.append(
            make("SP300", f"ImageSpec {what}= is not a literal; lint does not evaluate it", subject=what,
                 location=self.at(node))
        )  # fmt: skip
        return None

    def fields(self, call: ast.Call) -> _Fields:
        out: _Fields = {}
        for kw in call.keywords:
            if kw.arg is None:
                self.diags.append(make("SP300", "ImageSpec(**...) is not read", location=self.at(kw.value)))
                continue
            if kw.arg not in IMAGESPEC_FIELDS:
                continue
            value = self._resolve(kw.value)
            loc = self.at(kw.value)
            if kw.arg == "base_image" and isinstance(value, ast.Call):
                out[kw.arg] = _Value(loc, scalar=None)
                self.diags.append(
                    make("SP300", "base_image is another ImageSpec; its own packages are linted where it is declared",
                         subject="base_image", location=loc)
                )  # fmt: skip
                continue
            if isinstance(value, (ast.List, ast.Tuple)):
                items: list[tuple[str, Location]] = []
                for elt in value.elts:
                    text = self._str(elt, kw.arg)
                    if text is not None:
                        items.append((text, self.at(elt)))
                out[kw.arg] = _Value(loc, items=items, is_list=True)
            elif isinstance(value, ast.Dict):
                out[kw.arg] = _Value(loc)
            else:
                out[kw.arg] = _Value(loc, scalar=self._str(value, kw.arg))
        return out


def _imagespec_calls(tree: ast.Module) -> list[tuple[ast.Call, list[ast.Call]]]:
    """Each `ImageSpec(...)` call with the `.with_packages(...)` calls chained on it."""
    chained: dict[int, list[ast.Call]] = {}
    calls: list[ast.Call] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name == "ImageSpec":
            calls.append(node)
        elif isinstance(func, ast.Attribute) and func.attr == "with_packages" and isinstance(func.value, ast.Call):
            chained.setdefault(id(func.value), []).append(node)
    calls.sort(key=lambda c: (c.lineno, c.col_offset))
    return [(c, chained.get(id(c), [])) for c in calls]


def load_imagespec_python(
    path: Path, text: str, *, env: Mapping[str, str] | None = None
) -> tuple[list[EnvSpec], list[Diagnostic]]:
    """One spec per `ImageSpec(...)` call of a Python file, read with `ast` (the file is never executed)."""
    file = str(path)
    try:
        tree = ast.parse(text, filename=file)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None) or 1
        return [], [
            make("SP301", f"not valid Python: {type(exc).__name__}: {getattr(exc, 'msg', exc)}", subject=file,
                 location=Location(file=file, line=line, column=getattr(exc, "offset", None) or 1))
        ]  # fmt: skip
    reader = _PyReader(file, tree)
    calls = _imagespec_calls(tree)
    if not calls:
        return [], [
            make("SP107", "a Python file without ImageSpec(...) calls; nothing to lint", severity=Severity.INFO,
                 subject=file, location=Location(file=file, line=1, column=1))
        ]  # fmt: skip
    specs: list[EnvSpec] = []
    for call, extra in calls[:_MAX_CALLS]:
        fields = reader.fields(call)
        for more in extra:
            if more.args:
                value = reader._resolve(more.args[0])
                items = fields.setdefault("packages", _Value(reader.at(more), is_list=True)).items
                if isinstance(value, (ast.List, ast.Tuple)):
                    items += [(t, reader.at(e)) for e in value.elts if (t := reader._str(e, "packages")) is not None]
                elif (t := reader._str(value, "packages")) is not None:
                    items.append((t, reader.at(value)))
        name = fields.get("name")
        origin = f"ImageSpec {name.scalar!r}" if name and name.scalar else f"ImageSpec at line {call.lineno}"
        spec, diags = _build(path, fields, reader.at(call), origin, env)
        specs.append(spec.model_copy(update={"diagnostics": (*diags, *spec.diagnostics)}))
    return specs, reader.diags


# -- YAML ----------------------------------------------------------------------------------------------------
def load_imagespec_yaml(
    path: Path, text: str, docs: list[YNode | None], *, env: Mapping[str, str] | None = None
) -> tuple[list[EnvSpec], list[Diagnostic]]:
    """The YAML image-spec form: one mapping of ImageSpec fields."""
    file = str(path)
    root = next(d for d in docs if d is not None)

    def at(node: YNode) -> Location:
        return Location(file=file, line=node.line + 1, column=node.column + 1)

    fields: _Fields = {}
    diags: list[Diagnostic] = []
    for key, value in root.pairs:
        if not key.is_scalar or key.value not in IMAGESPEC_FIELDS:
            continue
        if value.is_scalar:
            fields[key.value] = _Value(at(value), scalar=value.value if value.value not in ("", "null", "~") else None)
        elif value.is_seq:
            items = [(v.value, at(v)) for v in value.items if v.is_scalar]
            fields[key.value] = _Value(at(value), items=items, is_list=True)
        else:
            fields[key.value] = _Value(at(value))
    name = fields.get("name")
    spec, more = _build(path, fields, at(root), f"ImageSpec {name.scalar!r}" if name and name.scalar else None, env)
    return [spec.model_copy(update={"diagnostics": (*diags, *more, *spec.diagnostics)})], []


# -- fields -> EnvSpec ---------------------------------------------------------------------------------------
def _build(
    path: Path, f: _Fields, where: Location, origin: str | None, env: Mapping[str, str] | None
) -> tuple[EnvSpec, list[Diagnostic]]:
    file = str(path)
    diags: list[Diagnostic] = []

    def scalar(key: str) -> str | None:
        v = f.get(key)
        return v.scalar if v is not None else None

    def loc(key: str) -> Location:
        v = f.get(key)
        return v.location if v is not None else where

    builder, cuda, cudnn = scalar("builder"), scalar("cuda"), scalar("cudnn")
    python, base = scalar("python_version"), scalar("base_image")
    cuda_version = cuda if cuda is not None and _is_version(cuda) else None
    if cuda is not None and cuda_version is None:
        diags.append(make("SP300", f"cuda={cuda!r} is not a version; the image's CUDA toolkit is unknown",
                          subject="cuda", location=loc("cuda")))  # fmt: skip
    envd = builder == "envd" or (builder is None and (cuda is not None or cudnn is not None))
    cite = Evidence(fact="flytekit's builders", source=_SOURCE)
    if (cuda is not None or cudnn is not None) and builder in (None, "default"):
        field_name = "cuda" if cuda is not None else "cudnn"
        diags.append(
            make(
                "SP310",
                f"flytekit's default builder refuses {field_name}= (it raises 'cuda and cudnn do not need to be "
                "specified'); "
                + (
                    "builder='default' never builds this image" if builder else "only the envd builder plugin builds it"
                ),
                severity=None if builder else Severity.WARNING,
                subject=field_name,
                location=loc(field_name),
                evidence=[cite],
                hint="install CUDA from PyPI wheels or conda packages, or use a CUDA base_image",
            )
        )
    if envd and cuda is not None and python is None:
        diags.append(
            make(
                "SP310",
                "the envd builder raises 'python_version is required when cuda and cudnn are specified'",
                severity=None if builder == "envd" else Severity.WARNING,
                subject="python_version",
                location=loc("cuda"),
                evidence=[cite],
            )
        )
    if scalar("python_exec") is not None and (f.get("conda_packages") or f.get("conda_channels")):
        diags.append(
            make("SP310", "flytekit's default builder raises: conda_packages/conda_channels are not supported with "
                 "python_exec", severity=None if builder == "default" else Severity.WARNING, subject="python_exec",
                 location=loc("python_exec"), evidence=[cite])
        )  # fmt: skip
    if builder == "noop":
        return _noop(path, base, scalar("name"), where, loc("base_image"), origin, diags, cite)
    if builder not in (None, "default", "envd"):
        diags.append(
            make(
                "SP311",
                f"builder {builder!r} is not one of flytekit's own (default, envd, noop); its fields are read as "
                "flytekit's default builder defines them",
                subject="builder",
                location=loc("builder"),
                evidence=[cite],
            )
        )
    image: ImageFacts | None = None
    if envd and cuda is not None:
        if base is not None:
            diags.append(
                make("SP311", f"the envd builder replaces base_image {base!r} with ubuntu20.04 when cuda is set",
                     subject="base_image", location=loc("base_image"), evidence=[cite])
            )  # fmt: skip
        image, image_diags = image_facts(_ENVD_CUDA_BASE)
        image = image.model_copy(
            update={
                "ref": f"envd ubuntu20.04 + CUDA {cuda}",
                "cuda": cuda_version,
                "cudnn": cudnn,
                "evidence": (
                    *image.evidence,
                    Evidence(
                        fact=f"envd installs the CUDA {cuda} toolkit (install.cuda) on ubuntu20.04", source=_SOURCE
                    ),
                ),
            }
        )
        diags += [d.model_copy(update={"location": loc("cuda")}) for d in image_diags]
    elif base is not None or not envd:
        image, image_diags = image_facts(base or _DEFAULT_BASE)
        diags += [d.model_copy(update={"location": loc("base_image")}) for d in image_diags]
    if python is None and not envd:
        diags.append(
            make("SP311", "python_version is not set: flytekit's default builder installs the Python of the machine "
                 "that runs flytekit, unknown to lint", subject="python_version", location=where, evidence=[cite])
        )  # fmt: skip
    channels: list[Channel] = []
    conda: list[CondaDependency] = []
    if not envd:
        channels.append(Channel(name="conda-forge", location=where))
    channels += [Channel(name=c, location=lc) for c, lc in (f["conda_channels"].items if "conda_channels" in f else [])]
    if python is not None and not envd:
        dep, more = parse_conda_dependency(f"python={python}", loc("python_version"))
        diags += more
        if dep is not None:
            conda.append(dep.model_copy(update={"added_by": "flytekit default builder (python_version)"}))
    for text, lc in f["conda_packages"].items if "conda_packages" in f else []:
        dep, more = parse_conda_dependency(text, lc)
        diags += more
        if dep is not None:
            conda.append(dep)
    parser = RequirementsParser(env=env)
    parser.root = path.parent.resolve()  # includes stay inside the ImageSpec's directory (SP160)
    pip: list[PipRequirement] = []
    indexes: list[IndexUrl] = []
    for key, opt in (("pip_index", "--index-url"), ("pip_extra_index_url", "--extra-index-url")):
        value = f.get(key)
        for url, lc in (
            value.items
            if value and value.is_list
            else ([(value.scalar, value.location)] if value and value.scalar else [])
        ):
            res = parser.parse_line(f"{opt} {url}", lc, base_dir=path.parent, file=file)
            indexes += res.indexes
            diags += res.diagnostics
    requirements = scalar("requirements")
    if requirements is not None:
        name = Path(requirements).name
        context = path.parent.resolve()
        req_path = (context / requirements).resolve()
        if not req_path.is_relative_to(context):  # flytekit reads it from the working directory; lint stays inside
            req_path = context / "(outside the ImageSpec's directory)"
        if name in ("uv.lock", "poetry.lock"):
            diags.append(make("SP300", f"requirements={requirements!r} is a lock file; lint does not read it",
                              subject=requirements, location=loc("requirements")))  # fmt: skip
            if f.get("packages") and f["packages"].items:
                diags.append(make("SP310", f"flytekit raises: {name} and packages are mutually exclusive",
                                  subject="packages", location=loc("packages"), evidence=[cite]))  # fmt: skip
        elif req_path.is_file():
            res = parser.parse_file(req_path)
            pip += res.pip
            indexes += res.indexes
            diags += res.diagnostics
        else:
            diags.append(
                make("SP302", f"requirements file {requirements!r} is not next to the ImageSpec ({req_path}); its "
                     "packages are unknown", subject=requirements, location=loc("requirements"))
            )  # fmt: skip
    for text, lc in f["packages"].items if "packages" in f else []:
        res = parser.parse_line(text, lc, base_dir=path.parent, file=file)
        pip += res.pip
        indexes += res.indexes
        diags += res.diagnostics
    if scalar("pip_extra_args"):
        diags.append(make("SP300", "pip_extra_args is passed to uv verbatim; lint does not read it",
                          subject="pip_extra_args", location=loc("pip_extra_args")))  # fmt: skip
    spec = EnvSpec(
        name=scalar("name"),
        source=file,
        format="imagespec",
        channels=tuple(channels),
        conda=tuple(conda),
        pip=tuple(pip),
        indexes=tuple(indexes),
        python=python,
        image=image,
        origin=origin,
        location=where,
    )
    return spec, diags


def _noop(
    path: Path,
    base: str | None,
    name: str | None,
    where: Location,
    base_loc: Location,
    origin: str | None,
    diags: list[Diagnostic],
    cite: Evidence,
) -> tuple[EnvSpec, list[Diagnostic]]:
    """flytekit's noop builder builds nothing: the task runs in `base_image` as it is."""
    image = None
    if base is None:
        diags.append(
            make("SP310", "the noop builder raises 'base_image must be a string to use the noop image builder'",
                 subject="base_image", location=where, evidence=[cite])
        )  # fmt: skip
    else:
        image, image_diags = image_facts(base)
        diags += [d.model_copy(update={"location": base_loc}) for d in image_diags]
        diags.append(
            make("SP311", f"the noop builder installs nothing: the environment is {base!r} as it is, and its "
                 "packages are unknown to lint", subject="builder", location=where, evidence=[cite])
        )  # fmt: skip
    spec = EnvSpec(name=name, source=str(path), format="imagespec", image=image, origin=origin, location=where)
    return spec, diags


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True
