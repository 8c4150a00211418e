"""SARIF 2.1.0 and GitHub workflow-command renderers for lint findings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envresolve._redact import redact_text
from envresolve._version import __version__
from envresolve.diagnostics import REGISTRY, Diagnostic

__all__ = ["SARIF_SCHEMA_URI", "render_github", "render_sarif"]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_INFO_URI = "https://github.com/envresolve/envresolve/blob/main/docs/diagnostics.md#"


def _uri(file: str) -> str:
    p = Path(file)
    if p.is_absolute():
        try:
            return p.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def _message(d: Diagnostic) -> str:
    node = f"[node {d.node}] " if d.node else ""
    subject = f"{d.subject}: " if d.subject else ""
    text = f"{node}{subject}{d.message}"
    if d.hint:
        text += f" (hint: {d.hint})"
    return redact_text(text)


def render_sarif(diags: Sequence[Diagnostic]) -> str:
    """One SARIF 2.1.0 log with one run; rules are the codes that occur, results point at file/line/column."""
    codes = sorted({d.code for d in diags})
    rules: list[dict[str, Any]] = []
    for code in codes:
        info = REGISTRY[code]
        rules.append(
            {
                "id": code,
                "name": info.name,
                "shortDescription": {"text": info.summary},
                "fullDescription": {"text": info.explanation},
                "helpUri": _INFO_URI + code.lower(),
                "defaultConfiguration": {"level": _LEVEL[info.severity.value]},
                "properties": {"category": info.category.value},
            }
        )
    index = {code: i for i, code in enumerate(codes)}
    results: list[dict[str, Any]] = []
    for d in diags:
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _LEVEL[d.severity.value],
            "message": {"text": _message(d)},
            "properties": {"category": d.category.value, "name": d.name},
        }
        if d.node:
            result["properties"]["node"] = d.node
        if d.location is not None:
            region: dict[str, int] = {}
            if d.location.line:
                region["startLine"] = d.location.line
                if d.location.column:
                    region["startColumn"] = d.location.column
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(d.location.file)}}
            if region:
                physical["region"] = region
            result["locations"] = [{"physicalLocation": physical}]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "envresolve",
                        "version": __version__,
                        "informationUri": "https://github.com/envresolve/envresolve",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True, ensure_ascii=False)


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diags: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=CODE::message`."""
    kinds = {"error": "error", "warning": "warning", "info": "notice"}
    out: list[str] = []
    for d in diags:
        props: list[str] = []
        if d.location is not None:
            props.append(f"file={_escape(_uri(d.location.file), prop=True)}")
            if d.location.line:
                props.append(f"line={d.location.line}")
                if d.location.column:
                    props.append(f"col={d.location.column}")
        props.append(f"title={_escape(f'{d.code} {d.name}', prop=True)}")
        out.append(f"::{kinds[d.severity.value]} {','.join(props)}::{_escape(_message(d))}")
    return "\n".join(out)
