"""The real-world regression corpus: public threads in which a stated environment failed or ran on a stated node.

Each case is one YAML file in `cases/`: the thread (URL, title, date read, the error line), the spec as the thread
states it, the node facts it states (unknown facts are left out, never guessed), the expected verdict, and how the
current code judges it where that differs (`current`, which the tests turn into strict xfails).

Two judgements are asked of each case, both offline:

- `lint`: `envresolve.lint` on the spec file with the node (what CI sees);
- `judge`: `envresolve.evaluate` on the packages the spec pins, with the facts their names and the matrices give
  (what the lock records for those pins when no wheel has been inspected).

A `fails` case is caught when a check returns an error with one of the expected codes; a `runs` case is a false
alarm when a check returns any error at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

import envresolve
from envresolve.compat import Environment, Package
from envresolve.diagnostics import Diagnostic, Severity
from envresolve.matrices.names import decode_index_url
from envresolve.node.facts import NodeFacts
from envresolve.node.infer import fill_inferred
from envresolve.specs.model import EnvSpec, PipRequirement

CASES_DIR = Path(__file__).resolve().parent / "cases"

Check = Literal["lint", "judge"]
CHECKS: tuple[Check, ...] = ("lint", "judge")

#: lint's own codes for findings that the compat rules give under another code (issue 10 gives them one code);
#: a case's expected CP code is met by its lint twin until the judge work lands.
TWINS: dict[str, str] = {"SP202": "CP101", "SP203": "CP180", "SP204": "CP110", "SP211": "CP160"}


@dataclass(frozen=True)
class Case:
    """One thread and what it states."""

    id: str
    url: str
    title: str
    read: str
    quote: str
    stated: str
    spec_name: str
    spec_text: str
    node: dict[str, Any]
    profile: str | None
    verdict: Literal["fails", "runs"]
    codes: tuple[str, ...]
    current: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def xfail_reason(self, check: Check) -> str | None:
        """Why the current code gets this check wrong ('miss: ...' or 'false alarm: ...'), or None."""
        return self.current.get(check)


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    """Every case file, sorted by id."""
    out = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        thread, spec, node, expect = raw["thread"], raw["spec"], raw.get("node") or {}, raw["expect"]
        out.append(
            Case(
                id=path.stem,
                url=thread["url"],
                title=thread["title"],
                read=str(thread["read"]),
                quote=thread["quote"],
                stated=raw["stated"].strip(),
                spec_name=spec["file"],
                spec_text=spec["text"],
                node=dict(node.get("facts") or {}),
                profile=node.get("profile"),
                verdict=expect["verdict"],
                codes=tuple(expect.get("codes") or ()),
                current=dict(raw.get("current") or {}),
                source=str(path),
            )
        )
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def case_node(case: Case) -> NodeFacts:
    """The node the thread states: a bundled profile with the stated facts over it, or the stated facts alone.

    glibc and libstdc++ are inferred from the OS release only where the thread names the release and not them.
    """
    base: dict[str, Any] = {"schema_version": 1}
    if case.profile:
        base = envresolve.load_node(case.profile).model_dump(mode="json", exclude={"provenance", "source"})
    facts = _merge(base, case.node)
    facts.setdefault("name", case.id)
    gpus = facts.get("gpus") or []
    facts["gpus"] = [{"index": i, **g} for i, g in enumerate(gpus)]
    node, _ = fill_inferred(NodeFacts.model_validate(facts))
    return node


def write_spec(case: Case, directory: Path) -> Path:
    """The spec text in a file of the name the case gives (lint sniffs the format from it)."""
    path = directory / case.id / case.spec_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(case.spec_text, encoding="utf-8")
    return path


def lint_findings(case: Case, directory: Path) -> list[Diagnostic]:
    """`envresolve.lint` of the case's spec on its node."""
    return list(envresolve.lint([write_spec(case, directory)], [case_node(case)]))


_PIN = re.compile(r"^===?\s*(?P<v>[0-9][^,;\s*]*)$")
#: conda's `=X.Y` is the match spec `X.Y.*`: the judge takes X.Y as the version
_CONDA_PIN = re.compile(r"^(?:==|=)?\s*(?P<v>[0-9]+(?:\.[0-9]+)+)(?:\.\*)?$")


def _wheel_version(url: str) -> str | None:
    try:
        return str(parse_wheel_filename(unquote(urlsplit(url).path.rsplit("/", 1)[-1]))[1])
    except InvalidWheelFilename:
        return None


def _variant(spec: EnvSpec, req: PipRequirement) -> str | None:
    """The local version label (`cu121`) that the spec's one variant index gives a torch-family pin, if any."""
    urls = [req.index] if req.index else [i.display for i in spec.indexes if i.kind != "find-links"]
    labels = set()
    for url in urls:
        facts = decode_index_url(url) if "/whl/" in url else None
        if facts is not None and facts.cuda:
            labels.add("cu" + facts.cuda.replace(".", ""))
    return labels.pop() if len(labels) == 1 else None


_VARIANT_NAMES = frozenset({"torch", "torchvision", "torchaudio"})


def pinned_environment(spec: EnvSpec) -> Environment:
    """The packages the spec pins exactly (pip `==`, direct wheel URLs, conda `=X.Y`), with the CUDA variant a
    variant index gives torch; unpinned names are left out (nothing is guessed)."""
    packages: list[Package] = []
    for req in spec.pip:
        if req.constraint or not req.name:
            continue
        if req.url:
            version = _wheel_version(req.url) if req.url.endswith(".whl") else None
        else:
            m = _PIN.match(req.specifier.strip())
            version = m["v"] if m else None
        if version is None:
            continue
        label = _variant(spec, req) if req.name in _VARIANT_NAMES and not req.url else None
        if label and "+" not in version:
            version = f"{version}+{label}"
        packages.append(Package(name=req.name, version=version, ecosystem="pypi", url=req.url))
    for dep in spec.conda:
        m = _CONDA_PIN.match(dep.spec.removeprefix(dep.name).strip())
        if m is None or dep.name == "python":
            continue
        packages.append(Package(name=dep.name, version=m["v"], ecosystem="conda", channel=dep.channel))
    python = spec.python if spec.python and re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+)?", spec.python) else None
    return Environment(packages=tuple(packages), python=python)


def judgeable(case: Case, directory: Path) -> bool:
    """True when the spec pins something the judge can look at (an unpinned spec is lint's and the lock's)."""
    return any(pinned_environment(s).packages for s in envresolve.load_spec(write_spec(case, directory)))


def judge_findings(case: Case, directory: Path) -> list[Diagnostic]:
    """`envresolve.evaluate` of every environment the spec declares, on the case's node."""
    node = case_node(case)
    out: list[Diagnostic] = []
    for spec in envresolve.load_spec(write_spec(case, directory)):
        env = pinned_environment(spec)
        if env.packages:
            # a spec's container image decides glibc and libstdc++, the node its driver and GPUs (as lint does)
            judged = envresolve.image_on_node(spec.image, node) if spec.image is not None else node
            out.extend(envresolve.evaluate(env, judged))
    return out


def errors(findings: list[Diagnostic]) -> list[Diagnostic]:
    """The findings that are errors."""
    return [d for d in findings if d.severity is Severity.ERROR]


def _as_compat_code(d: Diagnostic) -> str:
    """The compat code a finding stands for. SP204 says two things: 'no kernels for GPU N' (CP110's claim) and
    'torch X has no CUDA Y build' (a claim about which builds exist, which is no kernel finding)."""
    if d.code == "SP204" and "has no kernels for" not in d.message:
        return d.code
    return TWINS.get(d.code, d.code)


def caught(case: Case, findings: list[Diagnostic]) -> bool:
    """True when an error carries one of the case's expected codes (or its lint twin)."""
    return any(_as_compat_code(d) in case.codes or d.code in case.codes for d in errors(findings))


def verdict_holds(case: Case, findings: list[Diagnostic]) -> bool:
    """`fails`: an expected error was found; `runs`: no error at all."""
    return caught(case, findings) if case.verdict == "fails" else not errors(findings)


_FINDINGS: dict[tuple[str, Check], list[Diagnostic]] = {}


def findings_for(case: Case, check: Check, directory: Path) -> list[Diagnostic]:
    """The findings of one check (computed once per process: the tests and the report share them)."""
    key = (case.source or case.id, check)
    if key not in _FINDINGS:
        _FINDINGS[key] = lint_findings(case, directory) if check == "lint" else judge_findings(case, directory)
    return _FINDINGS[key]
