"""The hostile cases that fail today because of work owned by other branches of issue 12 (the one list).

Each mark is strict: when that work lands the case passes, the test turns XPASS and fails, and the integrator
removes its line here (and adjusts the case's expected codes if the new work chose other ones).
`issue12-files`: local input handling (merged: no case left); `issue12-net`: the network side.
"""

from __future__ import annotations

XFAIL: dict[str, str] = {}
