"""Render a check `Report`: text (verdict line, fleet table, findings with hints), JSON, SARIF 2.1.0, GitHub.

JSON is one shape for one report or several (`render_json`, `CheckOutput`).

SARIF and GitHub workflow commands come from SPEC's renderers (`envresolve.specs.sarif`, written for `lint`);
this module only points location-less findings at the checked target and adds the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from envresolve.diagnostics import Diagnostic, Location, sort_diagnostics
from envresolve.diagnostics.render import render_text as render_diagnostics
from envresolve.preflight.fleet import render_table, verdict_line
from envresolve.preflight.report import CheckOutput, Report

__all__ = ["FORMATS", "render", "render_github", "render_json", "render_sarif", "render_text"]

FORMATS = ("text", "json", "sarif", "github")


def render_text(report: Report, *, color: bool = False, verbose: bool = False) -> str:
    """The one-line verdict, the per-group table when there are several nodes, then each problem with its hint
    (printed once for all the nodes it concerns); evidence lines only with `verbose`."""
    out = [verdict_line(report)]
    if report.summary.nodes > 1:
        out += ["", render_table(report)]
    diags = sort_diagnostics(report.all_diagnostics())
    if diags:
        out += ["", render_diagnostics(diags, color=color, evidence=verbose, merge_nodes=True)]
    return "\n".join(out) + "\n"


def _located(report: Report) -> list[Diagnostic]:
    """Every finding, sorted; those without a location point at the checked lockfile, spec or prefix."""
    out = []
    for d in sort_diagnostics(report.all_diagnostics()):
        out.append(d if d.location is not None else d.model_copy(update={"location": Location(file=report.subject)}))
    return out


def render_json(reports: Sequence[Report]) -> str:
    """`check --format json`: `{"version", "tool", "verdict", "reports": [...]}` for one report or several."""
    return CheckOutput.of(reports).to_json()


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0 through `envresolve.specs.sarif` (one run, a rule per code), with the verdict in the run's
    `properties`. Prefix findings point at paths relative to the prefix."""
    from envresolve.specs.sarif import render_sarif as sarif

    obj = json.loads(sarif(_located(report)))
    obj["runs"][0]["properties"] = {"verdict": report.verdict, "subject": report.subject, "kind": report.kind}
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands through `envresolve.specs.sarif`, then the verdict line as a notice."""
    from envresolve.specs.sarif import render_github as github

    lines = [line for line in github(_located(report)).splitlines() if line]
    lines.append(f"::notice title=envresolve check::{_gh_escape(verdict_line(report))}")
    return "\n".join(lines) + "\n"


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render(report: Report, fmt: str, *, color: bool = False, verbose: bool = False) -> str:
    """Render in one of `FORMATS`."""
    if fmt == "json":
        return render_json([report])
    if fmt == "sarif":
        return render_sarif(report)
    if fmt == "github":
        return render_github(report)
    return render_text(report, color=color, verbose=verbose)
