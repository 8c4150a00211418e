"""Helpers for the spec tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SPEC_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "specs"


@pytest.fixture
def spec_fixtures() -> Path:
    return SPEC_FIXTURES
