"""The node fuzz harness runs (bounded) as part of the suite; the CI fuzz pass runs it longer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import REPO


def _load():  # type: ignore[no-untyped-def]
    path = Path(REPO) / "fuzz" / "fuzz_node.py"
    spec = importlib.util.spec_from_file_location("fuzz_node", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzz_node_bounded() -> None:
    assert _load().fuzz(max_examples=60) == 5


def test_regression_unhashable_kind() -> None:
    # found by the fuzzer: {"kind": []} crashed the Kubernetes sniffing with TypeError
    import pytest

    from envresolve.errors import EnvresolveError
    from envresolve.node.load import parse_node_text

    for text in ('{"kind": [], "apiVersion": "v1"}', '{"kind": {"a": 1}}', "kind: [1]\napiVersion: v1\n"):
        with pytest.raises(EnvresolveError):
            parse_node_text(text, origin="x")
