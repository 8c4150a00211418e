"""Text output for people: a finding identical on many nodes is printed once with its count; evidence on demand."""

from __future__ import annotations

from envresolve.diagnostics import Evidence, make
from envresolve.diagnostics.render import render_text


def test_identical_finding_on_many_nodes_prints_once_with_the_count() -> None:
    base = make("CP110", "torch 2.8.0 has no kernel for GPU 0", subject="torch", evidence=[Evidence(fact="SASS 7.0+")])
    diags = [base.with_node("p100-a"), base.with_node("p100-b"), base.with_node("p100-c")]
    text = render_text(diags, evidence=False, merge_nodes=True)
    assert text.count("CP110") == 1 and "[3 nodes: p100-a, p100-b, p100-c]" in text
    assert "evidence:" not in text
    full = render_text(diags)
    assert full.count("CP110") == 3 and full.count("evidence: SASS 7.0+") == 3
