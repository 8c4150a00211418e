"""Render a check `Report`: text (verdict line, fleet table, findings with hints), JSON, SARIF 2.1.0, GitHub.

SARIF and GitHub workflow-command output are written here for `check`; `lint` (SPEC) renders its own, since
its findings point at spec lines while these point at lockfiles, nodes and installed files.
"""

from __future__ import annotations

import json
from typing import Any

from envresolve._version import __version__
from envresolve.check.fleet import render_table, verdict_line
from envresolve.check.report import Report
from envresolve.diagnostics import REGISTRY, Diagnostic, sort_diagnostics
from envresolve.diagnostics.render import render_text as render_diagnostics

__all__ = ["FORMATS", "render", "render_github", "render_sarif", "render_text"]

FORMATS = ("text", "json", "sarif", "github")
_SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def render_text(report: Report, *, color: bool = False) -> str:
    """The one-line verdict, the per-group table when there are several nodes, then each problem with its hint."""
    out = [verdict_line(report)]
    if report.summary.nodes > 1:
        out += ["", render_table(report)]
    diags = sort_diagnostics(report.all_diagnostics())
    if diags:
        out += ["", render_diagnostics(diags, color=color)]
    return "\n".join(out) + "\n"


def _uri(report: Report, d: Diagnostic) -> str:
    if d.location is not None:
        return d.location.file
    return report.subject


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0: one run, a rule per code used, a result per finding (node in `properties`)."""
    diags = sort_diagnostics(report.all_diagnostics())
    codes = sorted({d.code for d in diags})
    rules = []
    for code in codes:
        info = REGISTRY[code]
        rules.append(
            {
                "id": code,
                "name": info.name,
                "shortDescription": {"text": info.summary},
                "fullDescription": {"text": info.explanation},
                "defaultConfiguration": {"level": _LEVEL[info.severity.value]},
                "properties": {"category": info.category.value},
            }
        )
    results: list[dict[str, Any]] = []
    for d in diags:
        region: dict[str, int] = {}
        if d.location is not None and d.location.line:
            region["startLine"] = d.location.line
            if d.location.column:
                region["startColumn"] = d.location.column
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(report, d)}}
        if region:
            physical["region"] = region
        text = f"{d.subject}: {d.message}" if d.subject else d.message
        if d.hint:
            text += f" (hint: {d.hint})"
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": codes.index(d.code),
                "level": _LEVEL[d.severity.value],
                "message": {"text": text},
                "locations": [{"physicalLocation": physical}],
                "properties": {
                    "category": d.category.value,
                    "node": d.node,
                    "evidence": [e.fact for e in d.evidence],
                },
            }
        )
    obj = {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "envresolve", "version": __version__, "rules": rules}},
                "results": results,
                "properties": {"verdict": report.verdict, "subject": report.subject, "kind": report.kind},
            }
        ],
    }
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands (`::error file=...,title=...::message`), then the verdict as a notice."""
    lines = []
    for d in sort_diagnostics(report.all_diagnostics()):
        kind = {"error": "error", "warning": "warning", "info": "notice"}[d.severity.value]
        props = [f"file={_gh_escape(_uri(report, d), prop=True)}"]
        if d.location is not None and d.location.line:
            props.append(f"line={d.location.line}")
        props.append(f"title={_gh_escape(f'{d.code} {d.name}', prop=True)}")
        node = f"[node {d.node}] " if d.node else ""
        subject = f"{d.subject}: " if d.subject else ""
        msg = f"{node}{subject}{d.message}" + (f"\nhint: {d.hint}" if d.hint else "")
        lines.append(f"::{kind} {','.join(props)}::{_gh_escape(msg)}")
    lines.append(f"::notice title=envresolve check::{_gh_escape(verdict_line(report))}")
    return "\n".join(lines) + "\n"


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """Render in one of `FORMATS`."""
    if fmt == "json":
        return report.to_json()
    if fmt == "sarif":
        return render_sarif(report)
    if fmt == "github":
        return render_github(report)
    return render_text(report, color=color)
