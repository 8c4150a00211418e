"""Node facts: the model, and the sources that produce it."""

from __future__ import annotations

from envresolve.node.facts import NodeFacts

__all__ = ["NodeFacts"]
