"""BaizeAI `Dataset` manifests (`dataset.baizeai.io/v1alpha1`): CRD checks for every source type, and the
environment a CONDA Dataset really builds.

Facts taken from BaizeAI/dataset (CRD `config/crd/bases/dataset.baizeai.io_datasets.yaml`, the controller and
the conda loader, read 2026-11-23):

- the CRD's source type enum, uri forms and per-type option keys (in its field descriptions), `mountOptions.mode`
  pattern `^[0-7]{3,4}$`, options typed as a map of strings, `dataSyncRound` rule `self > 0`;
- the controller refuses `volumeClaimRef` together with `volumeClaimTemplate`, and a `subPath` that starts with
  '/' or contains '..'; it mounts the `condaEnvironmentYml` and `pipRequirementsTxt` option *texts* into the
  loader job and maps `gpuType` (nvidia-gpu, nvidia-vgpu, metax-gpu) to a GPU resource request;
- the conda loader requires `options.name`; it drops dependencies starting with `python=`, `pip=`, `ipykernel=`
  and `nb_conda_kernels=`, appends `python=<pythonVersion>`, `pip`, `ipykernel`, `nb_conda_kernels` and
  `notebook`, defaults `channels` to `[defaults, conda-forge]` when the key is absent, creates the environment
  with mamba, and only then runs `pip install -r requirements.txt` with `pipIndexUrl` / one `pipExtraIndexUrl`
  (every index host also becomes a `--trusted-host`). There is no joint conda + pip resolution.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from packaging.version import InvalidVersion, Version
from pydantic import SecretStr

from envresolve._redact import has_credentials, redact_url
from envresolve.diagnostics import Diagnostic, Location, Severity, make
from envresolve.errors import InputError
from envresolve.specs._locate import EmbeddedLocator
from envresolve.specs._yaml import YNode, compose_documents
from envresolve.specs.conda import parse_conda_dependency
from envresolve.specs.environment_yml import CondaEnvParts, parse_environment_text
from envresolve.specs.model import Channel, CondaDependency, EnvSpec, IndexUrl, PipRequirement
from envresolve.specs.requirements import RequirementsParser

__all__ = [
    "DATASET_API_GROUP",
    "GPU_TYPES",
    "LOADER",
    "SOURCE_TYPES",
    "is_dataset_stream",
    "load_dataset_manifest",
]

DATASET_API_GROUP = "dataset.baizeai.io"
LOADER = "BaizeAI conda loader"
SOURCE_TYPES = (
    "GIT",
    "S3",
    "HTTP",
    "PVC",
    "NFS",
    "CONDA",
    "REFERENCE",
    "HUGGING_FACE",
    "MODEL_SCOPE",
    "DATABASE",
    "HADOOP",
    "MANUAL",
)
GPU_TYPES = ("nvidia-gpu", "nvidia-vgpu", "metax-gpu")

# option keys per type: the CRD's description of `source.options`, plus the keys the controller and the
# loaders really read (CONDA's are the loader's JSON tags; `packageManager` is the form shown in the project's talk)
_OPTION_KEYS: dict[str, frozenset[str] | None] = {
    "GIT": frozenset({"branch", "commit", "depth", "submodules"}),
    "S3": frozenset({"region", "endpoint", "provider", "syncMode"}),
    "HTTP": None,  # every option is passed on as an HTTP header
    "PVC": frozenset(),
    "NFS": frozenset(),
    "CONDA": frozenset(
        {
            "name",
            "pythonVersion",
            "pipIndexUrl",
            "pipExtraIndexUrl",
            "condaEnvironmentYml",
            "pipRequirementsTxt",
            "condaEnvironmentYmlPath",
            "pipRequirementsTxtPath",
            "condaPrefixDir",
            "gpuType",
            "packageManager",
            "requirements.txt",
            "environment.yaml",
        }
    ),
    "REFERENCE": frozenset(),
    "HUGGING_FACE": frozenset({"repo", "repoType", "endpoint", "include", "exclude", "revision"}),
    "MODEL_SCOPE": frozenset({"repo", "repoType", "include", "exclude", "revision"}),
    "DATABASE": frozenset({"type", "host", "port", "dbName", "tables", "exportFormat"}),
    "HADOOP": frozenset({"coreSiteXml", "hdfsSiteXml", "sourcePath", "username", "hdfsConfigName"}),
    "MANUAL": frozenset(),
}
# option values the CRD's description of `source.options` constrains: (key, full-match regex, what it says)
_OPTION_VALUES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "GIT": (("depth", r"[0-9]+", "depth is a number of commits"),),
    "DATABASE": (
        ("type", r"(?i)mysql", "the CRD supports only MySQL"),
        ("exportFormat", r"(?i)csv", "the CRD supports only csv"),
        ("port", r"[0-9]{1,5}", "port is a number"),
    ),
    "HUGGING_FACE": (("repoType", r"model|dataset|space", "repoType is model, dataset or space"),),
    "MODEL_SCOPE": (("repoType", r"model|dataset", "repoType is model or dataset"),),
}
_SPEC_KEYS = frozenset(
    {
        "dataSyncRound",
        "mountOptions",
        "resources",
        "secretRef",
        "share",
        "shareToNamespaceSelector",
        "source",
        "volumeClaimRef",
        "volumeClaimTemplate",
    }
)
_MODE = re.compile(r"^[0-7]{3,4}$")
_REPLACED_PREFIXES = ("python=", "pip=", "ipykernel=", "nb_conda_kernels=")
_ADDED = ("pip", "ipykernel", "nb_conda_kernels", "notebook")
_DEFAULT_CHANNELS = ("defaults", "conda-forge")


def is_dataset_stream(docs: list[YNode | None]) -> bool:
    """True when a YAML stream holds Kubernetes objects (apiVersion + kind), a Dataset or a List among them."""
    for doc in docs:
        if doc is not None and doc.is_map:
            api, kind = doc.get("apiVersion"), doc.get("kind")
            if api is not None and kind is not None and api.is_scalar and kind.is_scalar:
                return True
    return False


class _DatasetReader:
    def __init__(self, path: Path, text: str, env: Mapping[str, str] | None) -> None:
        self.path = path
        self.file = str(path)
        self.lines = text.splitlines()
        self.env = env
        self.diags: list[Diagnostic] = []
        self.specs: list[EnvSpec] = []

    def at(self, node: YNode | None) -> Location:
        if node is None:
            return Location(file=self.file)
        return Location(file=self.file, line=node.line + 1, column=node.column + 1)

    def add(self, code: str, message: str, node: YNode | None, **kw: object) -> None:
        self.diags.append(make(code, message, location=self.at(node), **kw))  # type: ignore[arg-type]

    # -- objects -------------------------------------------------------------------------------------------
    def read_object(self, obj: YNode, where: str) -> None:
        if not obj.is_map:
            self.add("SP110", f"{where} is not a mapping", obj)
            return
        api, kind = obj.get("apiVersion"), obj.get("kind")
        api_s = api.value if api is not None and api.is_scalar else ""
        kind_s = kind.value if kind is not None and kind.is_scalar else ""
        if kind_s.endswith("List") and obj.get("items") is not None:
            items = obj.get("items")
            assert items is not None
            if not items.is_seq:
                self.add("SP110", "`items` of a List must be a list", items)
                return
            for i, item in enumerate(items.items):
                self.read_object(item, f"{where} item {i}")
            return
        if kind_s != "Dataset" or not api_s.startswith(DATASET_API_GROUP + "/"):
            self.add(
                "SP130",
                f"{where} is {kind_s or 'an object without kind'} ({api_s or 'no apiVersion'}), not a Dataset; skipped",
                obj,
                subject=kind_s or None,
            )
            return
        if api_s != f"{DATASET_API_GROUP}/v1alpha1":
            self.add(
                "SP130", f"unknown Dataset API version {api_s!r}; checked as v1alpha1", api, severity=Severity.INFO
            )
        self.read_dataset(obj)

    def read_dataset(self, obj: YNode) -> None:
        meta = obj.get("metadata")
        name = ns = None
        if meta is not None and meta.is_map:
            n, s = meta.get("name"), meta.get("namespace")
            name = n.value.strip() if n is not None and n.is_scalar else None
            ns = s.value.strip() if s is not None and s.is_scalar else None
        if not name and (meta is None or meta.get("generateName") is None):
            self.add("SP131", "Dataset has no metadata.name", meta or obj, subject="metadata.name")
        label = f"Dataset {ns + '/' if ns else ''}{name or '?'}"
        spec = obj.get("spec")
        if spec is None or not spec.is_map:
            self.add("SP131", f"{label} has no spec", spec or obj, subject="spec")
            return
        for key, _v in spec.pairs:
            if key.is_scalar and key.value not in _SPEC_KEYS:
                hint = "the field is `share`" if key.value == "shared" else None
                self.add("SP111", f"unknown Dataset spec field {key.value!r}", key, subject=key.value, hint=hint)
        self.check_sync_round(spec)
        self.check_mount_options(spec)
        self.check_volume_claims(spec)
        share = spec.get("share")
        if share is not None and not (share.is_scalar and share.tag.endswith(":bool")):
            self.add("SP110", "`share` must be true or false", share, subject="share")
        source = spec.get("source")
        if source is None or not source.is_map:
            self.add("SP131", f"{label} has no spec.source", source or spec, subject="spec.source")
            return
        typ_node, uri_node = source.get("type"), source.get("uri")
        if typ_node is None or not typ_node.is_scalar:
            self.add("SP131", f"{label} has no spec.source.type", source, subject="spec.source.type")
            return
        typ = typ_node.value
        if typ not in SOURCE_TYPES:
            close = [t for t in SOURCE_TYPES if t == typ.upper().replace("-", "_")]
            self.add(
                "SP132",
                f"source type {typ!r} is not one of the CRD's types",
                typ_node,
                subject=typ,
                hint=f"did you mean {close[0]}?" if close else "types: " + ", ".join(SOURCE_TYPES),
            )
            return
        uri = None
        if uri_node is None or not uri_node.is_scalar or not uri_node.value:
            self.add("SP131", f"{label} has no spec.source.uri", uri_node or source, subject="spec.source.uri")
        else:
            uri = uri_node.value
            self.check_uri(typ, uri, uri_node)
        options = self.check_options(typ, source.get("options"))
        if typ == "CONDA":
            self.read_conda(label, name, source, uri, uri_node, options, obj)

    # -- CRD checks ----------------------------------------------------------------------------------------
    def check_sync_round(self, spec: YNode) -> None:
        node = spec.get("dataSyncRound")
        if node is None:
            return
        value = node.py() if node.is_scalar else None
        if isinstance(value, bool) or not isinstance(value, int) or not (0 < value < 2**31):
            self.add(
                "SP139",
                f"dataSyncRound must be a positive integer, got {node.value if node.is_scalar else node.kind!r}",
                node,
                subject="dataSyncRound",
            )

    def check_mount_options(self, spec: YNode) -> None:
        mo = spec.get("mountOptions")
        if mo is None:
            return
        if not mo.is_map:
            self.add("SP110", "mountOptions must be a mapping", mo, subject="mountOptions")
            return
        mode = mo.get("mode")
        if mode is not None:
            if not mode.is_scalar or mode.tag != "tag:yaml.org,2002:str":
                shown = mode.value if mode.is_scalar else mode.kind
                self.add(
                    "SP137",
                    f'mountOptions.mode must be a quoted string such as "0774"; YAML reads {shown} as {mode.py()!r}'
                    if mode.is_scalar
                    else "mountOptions.mode must be a string",
                    mode,
                    subject="mountOptions.mode",
                )
            elif not _MODE.match(mode.value):
                self.add(
                    "SP137",
                    f"mountOptions.mode {mode.value!r} does not match the CRD pattern ^[0-7]{{3,4}}$",
                    mode,
                    subject="mountOptions.mode",
                )
        for key in ("uid", "gid"):
            node = mo.get(key)
            if node is not None:
                v = node.py() if node.is_scalar else None
                if isinstance(v, bool) or not isinstance(v, int):
                    self.add("SP137", f"mountOptions.{key} must be an integer", node, subject=f"mountOptions.{key}")
        path = mo.get("path")
        if path is not None and not (path.is_scalar and path.tag.endswith(":str")):
            self.add("SP137", "mountOptions.path must be a string", path, subject="mountOptions.path")

    def check_volume_claims(self, spec: YNode) -> None:
        ref, tmpl = spec.get("volumeClaimRef"), spec.get("volumeClaimTemplate")
        if ref is not None and tmpl is not None and not (tmpl.is_map and not tmpl.pairs):
            self.add(
                "SP138",
                "volumeClaimRef and volumeClaimTemplate cannot be both set (the controller refuses the Dataset)",
                ref,
                subject="volumeClaimRef",
            )
        if ref is None:
            return
        if not ref.is_map:
            self.add("SP138", "volumeClaimRef must be a mapping with `name`", ref, subject="volumeClaimRef")
            return
        name = ref.get("name")
        if name is None or not name.is_scalar or not name.value:
            self.add("SP138", "volumeClaimRef.name is required", ref, subject="volumeClaimRef.name")
        sub = ref.get("subPath")
        if sub is not None and sub.is_scalar and sub.value:
            if sub.value.startswith("/"):
                self.add("SP138", f"subPath should not start with '/': {sub.value!r}", sub, subject="subPath")
            if ".." in sub.value:
                self.add("SP138", f"subPath should not contain '..': {sub.value!r}", sub, subject="subPath")

    def check_uri(self, typ: str, uri: str, node: YNode) -> None:
        def bad(form: str) -> None:
            self.add(
                "SP133",
                f"uri {redact_url(uri)!r} does not match the {typ} form {form}",
                node,
                subject=redact_url(uri),
            )

        if has_credentials(uri):
            self.add(
                "SP220",
                f"source uri carries credentials: {redact_url(uri)}",
                node,
                subject=redact_url(uri),
                hint="put credentials in the Secret named by spec.secretRef",
            )
        try:
            parts = urlsplit(uri)
        except ValueError:
            bad("(not a URI)")
            return
        scheme, host, path = parts.scheme, parts.netloc, parts.path
        if typ == "MANUAL":
            if uri != "manual://":
                self.add("SP134", f"a MANUAL Dataset's uri must be exactly manual://, got {uri!r}", node, subject=uri)
            return
        forms = {
            "GIT": (
                "http[s]://<host>/<owner>/<repo>[.git] or git://<host>/<owner>/<repo>[.git]",
                ("http", "https", "git"),
            ),
            "S3": ("s3://<bucket>/<path/to/directory>", ("s3",)),
            "HTTP": ("http[s]://<host>/<path/to/directory>?<query>", ("http", "https")),
            "PVC": ("pvc://<name>/<path/to/directory>", ("pvc",)),
            "NFS": ("nfs://<host>/<path/to/directory>", ("nfs",)),
            "CONDA": ("conda://<name>?[python=<python_version>]", ("conda",)),
            "REFERENCE": ("dataset://<namespace>/<dataset>", ("dataset",)),
            "HUGGING_FACE": ("huggingface://<repoName>?[repoType=<repoType>]", ("huggingface",)),
            "MODEL_SCOPE": ("modelscope://<namespace>/<model>", ("modelscope",)),
            "DATABASE": ("database://<ip>:<port>", ("database",)),
            "HADOOP": ("hdfs://<ip>:<port>", ("hdfs",)),
        }
        form, schemes = forms[typ]
        if scheme not in schemes or not host:
            bad(form)
            return
        segments = len([p for p in path.split("/") if p])
        if (typ in ("REFERENCE", "MODEL_SCOPE") and segments != 1) or (typ == "GIT" and segments < 2):
            bad(form)
        elif typ in ("DATABASE", "HADOOP"):
            try:
                port = parts.port
            except ValueError:
                port = None
            if port is None:
                bad(form)

    def check_options(self, typ: str, node: YNode | None) -> dict[str, YNode]:
        out: dict[str, YNode] = {}
        if node is None:
            return out
        if not node.is_map:
            self.add("SP110", "source.options must be a mapping of strings", node, subject="options")
            return out
        allowed = _OPTION_KEYS.get(typ)
        for key, value in node.pairs:
            if not key.is_scalar:
                self.add("SP110", "option keys must be strings", key)
                continue
            out[key.value] = value
            if allowed is not None and key.value not in allowed:
                listed = ", ".join(sorted(allowed)) if allowed else "none"
                self.add(
                    "SP135",
                    f"option {key.value!r} is not a {typ} option (the CRD lists: {listed}); the loader ignores it",
                    key,
                    subject=key.value,
                )
            if not value.is_scalar or value.tag != "tag:yaml.org,2002:str":
                shown = repr(value.py()) if value.is_scalar else f"a {value.kind}"
                hint = None
                if value.is_scalar and value.tag.endswith(":float"):
                    hint = f'quote it: "{value.value}" (YAML reads {value.value} as the number {value.py()!r})'
                elif value.is_scalar:
                    hint = f'quote it: "{value.value}"'
                self.add(
                    "SP136",
                    f"option {key.value!r} must be a string, got {shown}",
                    value,
                    subject=key.value,
                    hint=hint,
                )
        if typ == "S3" and "syncMode" in out and out["syncMode"].is_scalar:
            mode = out["syncMode"].value
            if mode not in ("sync", "copy"):
                self.add(
                    "SP135", f"syncMode must be 'sync' or 'copy', got {mode!r}", out["syncMode"], subject="syncMode"
                )
        # values the CRD description constrains
        for opt_key, allowed_values, why in _OPTION_VALUES.get(typ, ()):
            node_v = out.get(opt_key)
            if node_v is None or not node_v.is_scalar:
                continue
            if not re.fullmatch(allowed_values, node_v.value):
                self.add(
                    "SP135",
                    f"{typ} option {opt_key}={node_v.value!r}: {why}",
                    node_v,
                    subject=opt_key,
                )
        return out

    # -- CONDA ---------------------------------------------------------------------------------------------
    def _text(self, node: YNode | None) -> str | None:
        if node is None or not node.is_scalar:
            return None
        return node.value

    def read_conda(
        self,
        label: str,
        name: str | None,
        source: YNode,
        uri: str | None,
        uri_node: YNode | None,
        options: dict[str, YNode],
        obj: YNode,
    ) -> None:
        env_name = self._text(options.get("name"))
        if not env_name:
            self.add(
                "SP140",
                f"{label}: the conda loader needs options.name (the environment name)",
                options.get("name") or source.get("options") or source,
                subject="options.name",
                hint=f"add `name: {name or 'my-env'}` under spec.source.options",
            )
        # Python
        py_node = options.get("pythonVersion")
        python = self._python_version(label, py_node, source)
        if uri and uri_node is not None:
            q = parse_qs(urlsplit(uri).query)
            if q and "python" not in q:
                self.add(
                    "SP133",
                    f"conda uri query {urlsplit(uri).query!r} is not the CRD form ?python=<python_version>",
                    uri_node,
                    subject=uri,
                    severity=Severity.WARNING,
                )
            uri_py = q.get("python", [""])[0]
            if uri_py and python and uri_py != python:
                self.add(
                    "SP145",
                    f"the uri says python={uri_py} but pythonVersion is {python}; the loader installs {python}",
                    uri_node,
                    subject="python",
                    severity=Severity.WARNING,
                )
        gpu = options.get("gpuType")
        gpu_type = self._text(gpu)
        if gpu is not None and gpu_type not in GPU_TYPES:
            self.add(
                "SP142",
                f"gpuType {gpu_type!r} is not one of {', '.join(GPU_TYPES)}; the loader job would get no GPU",
                gpu,
                subject="gpuType",
            )
            gpu_type = None
        # indexes from options
        indexes: list[IndexUrl] = []
        pairs: tuple[tuple[str, Literal["index-url", "extra-index-url"]], ...] = (
            ("pipIndexUrl", "index-url"),
            ("pipExtraIndexUrl", "extra-index-url"),
        )
        for key, kind in pairs:
            node = options.get(key)
            value = self._text(node)
            if node is None or not value:
                continue
            if kind == "extra-index-url" and (len(value.split()) > 1 or "," in value):
                self.add(
                    "SP144",
                    "pipExtraIndexUrl holds more than one URL; the loader passes it as one --extra-index-url",
                    node,
                    subject=key,
                    hint="keep one extra index here and put others into pipRequirementsTxt as --extra-index-url lines",
                )
            elif not re.match(r"^https?://[^/\s]+", value):
                self.add("SP144", f"{key} is not an http(s) URL: {redact_url(value)!r}", node, subject=key)
            creds = has_credentials(value)
            if creds:
                self.add(
                    "SP220",
                    f"{key} carries credentials: {redact_url(value)}",
                    node,
                    subject=key,
                    hint="anyone who can read the Dataset can read it; use a credential-free mirror URL",
                )
            if value.startswith("http://"):
                self.add(
                    "SP221",
                    f"{key} is plain http: {redact_url(value)} (the loader also marks its host --trusted-host)",
                    node,
                    subject=key,
                )
            indexes.append(
                IndexUrl(
                    kind=kind,
                    display=redact_url(value),
                    url=SecretStr(value),
                    has_credentials=creds,
                    location=self.at(node),
                )
            )
        # embedded files
        parts = CondaEnvParts()
        yml_node = options.get("condaEnvironmentYml") or options.get("environment.yaml")
        if yml_node is not None and yml_node.is_scalar and yml_node.value.strip():
            locator = EmbeddedLocator(yml_node, self.lines, self.file)
            try:
                parts = parse_environment_text(
                    yml_node.value, file=self.file, base_dir=None, locate=locator, embedded=True, env=self.env
                )
            except InputError as exc:
                self.diags.extend(exc.diagnostics)
                return
        pip_reqs: list[PipRequirement] = list(parts.pip)
        pip_indexes: list[IndexUrl] = list(parts.indexes)
        no_index = parts.no_index
        req_node = options.get("pipRequirementsTxt") or options.get("requirements.txt")
        if req_node is not None and req_node.is_scalar and req_node.value.strip():
            locator = EmbeddedLocator(req_node, self.lines, self.file)
            res = RequirementsParser(env=self.env, embedded=True).parse_text(
                req_node.value, file=self.file, base_dir=None, locate=locator
            )
            pip_reqs += res.pip
            pip_indexes += res.indexes
            no_index = no_index or res.no_index
            self.diags.extend(res.diagnostics)
        self.diags.extend(parts.diagnostics)
        conda = self._rewrite_conda(parts, python, py_node or source, label)
        channels = list(parts.channels)
        if not parts.has_channels:
            where = self.at(yml_node or source)
            channels = [Channel(name=c, location=where) for c in _DEFAULT_CHANNELS]
        if not conda and not pip_reqs:
            self.add("SP112", f"{label} installs no packages besides the loader's own", source)
        self.specs.append(
            EnvSpec(
                name=env_name,
                source=self.file,
                format="dataset",
                channels=tuple(channels),
                conda=tuple(conda),
                pip=tuple(pip_reqs),
                indexes=tuple(indexes + pip_indexes),
                no_index=no_index,
                python=python,
                pip_after_conda=True,
                origin=label,
                gpu_type=gpu_type,
                location=self.at(obj),
            )
        )

    def _python_version(self, label: str, node: YNode | None, source: YNode) -> str | None:
        if node is None:
            self.add(
                "SP141",
                f"{label}: no options.pythonVersion; the loader would add the invalid spec `python=`",
                source.get("options") or source,
                subject="pythonVersion",
                hint='add pythonVersion: "3.11" under spec.source.options',
            )
            return None
        if not node.is_scalar or not node.value:
            self.add("SP141", "pythonVersion is empty", node, subject="pythonVersion")
            return None
        value = node.value
        if node.tag.endswith(":float"):
            shown = repr(node.py())
            if str(node.py()) != value:
                self.add(
                    "SP141",
                    f"pythonVersion {value} is read by YAML as the number {shown}: "
                    f"Python {node.py()} would be asked for",
                    node,
                    subject="pythonVersion",
                    hint=f'quote it: pythonVersion: "{value}"',
                )
                return str(node.py())
        from rattler import Version as CondaVersion

        try:
            Version(value)
            CondaVersion(value)
        except (InvalidVersion, Exception):  # rattler raises its own exception types
            self.add("SP141", f"pythonVersion {value!r} is not a version", node, subject="pythonVersion")
            return None
        return value

    def _rewrite_conda(
        self, parts: CondaEnvParts, python: str | None, py_node: YNode, label: str
    ) -> list[CondaDependency]:
        from rattler import Version as CondaVersion
        from rattler import VersionSpec

        removed_raw = {raw for raw, _loc in parts.raw_deps if raw.startswith(_REPLACED_PREFIXES)}
        kept: list[CondaDependency] = []
        for dep in parts.conda:
            if dep.raw in removed_raw:
                if dep.name == "python" and python:
                    try:
                        same = VersionSpec(dep.spec.split(maxsplit=1)[1].split()[0]).matches(CondaVersion(python))
                    except (IndexError, Exception):
                        same = False
                    if same:
                        continue
                    msg = f"{dep.raw!r} is dropped by the {LOADER}; pythonVersion {python} is installed instead"
                else:
                    msg = f"{dep.raw!r} is dropped by the {LOADER}, which installs {dep.name} unpinned"
                self.diags.append(
                    make(
                        "SP143",
                        msg,
                        subject=dep.name,
                        location=dep.location,
                        hint="remove the pin, or set pythonVersion",
                    )
                )
                continue
            if dep.name == "python" and python:
                try:
                    ver_spec = dep.spec.split(maxsplit=1)[1].split()[0]
                    ok = VersionSpec(ver_spec).matches(CondaVersion(python))
                except (IndexError, Exception):
                    ok = True
                if not ok:
                    self.diags.append(
                        make(
                            "SP145",
                            f"{dep.raw!r} is kept by the {LOADER} and contradicts pythonVersion {python}: "
                            "the environment cannot be solved",
                            subject="python",
                            location=dep.location,
                        )
                    )
            kept.append(dep)
        where = self.at(py_node)
        added: list[CondaDependency] = []
        for text in ([f"python={python}"] if python else []) + list(_ADDED):
            extra, _ = parse_conda_dependency(text, where, added_by=LOADER)
            if extra is not None:
                added.append(extra)
        return kept + added


def load_dataset_manifest(
    path: Path, text: str, *, env: Mapping[str, str] | None = None, docs: list[YNode | None] | None = None
) -> tuple[list[EnvSpec], list[Diagnostic]]:
    """Every CONDA Dataset in a manifest file as an `EnvSpec`, and the findings for every document."""
    file = str(path)
    warnings: list[Diagnostic] = []
    if docs is None:
        docs, warnings = compose_documents(text, file)
    reader = _DatasetReader(path, text, env)
    reader.diags.extend(warnings)
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        reader.read_object(doc, f"document {i + 1}" if len(docs) > 1 else "the document")
    return reader.specs, reader.diags
