"""docs/security.md names the tests that hold each promise: every named test and hostile case must exist."""

from __future__ import annotations

import fnmatch
import re

from tests.conftest import REPO
from tests.hostile.make_cases import build
from tests.hostile.xfails import XFAIL

DOC = (REPO / "docs" / "security.md").read_text()
_PREFIXES = ("spec-", "include-", "node-", "wheel-", "conda-", "tarbz2-", "elf-", "prefix-", "lock-", "index-", "*-")


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^def (test_\w+)", path.read_text(), re.MULTILINE))
    return names


def test_every_named_test_exists() -> None:
    defined = _defined_tests()
    for path, name in re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)", DOC):
        assert (REPO / path).is_file(), path
        assert re.search(rf"^def {name}\(", (REPO / path).read_text(), re.MULTILINE), f"{path}::{name}"
    named = set(re.findall(r"`(test_\w+)`", DOC))
    assert named, "the doc names tests"
    assert named <= defined, named - defined


def test_every_named_hostile_case_exists() -> None:
    ids = [c.id for c in build(None, None)]
    patterns = [p for p in re.findall(r"`([a-z0-9*][a-z0-9*_-]*)`", DOC) if p.startswith(_PREFIXES)]
    assert len(patterns) > 20
    for pattern in patterns:
        assert fnmatch.filter(ids, pattern), pattern


def test_pending_promises_have_their_xfails() -> None:
    """While a promise is pending its owner's work, some hostile case is marked xfail for it, and back."""
    for owner in ("files", "net"):
        pending = f"<!-- pending: {owner} -->" in DOC
        marked = any(reason.startswith(f"issue12-{owner}:") for reason in XFAIL.values())
        if owner == "files":
            assert pending == marked, owner
        else:
            assert marked <= pending, owner  # net's promises are also held by its own network-fault suite
