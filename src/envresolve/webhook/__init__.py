"""`envresolve webhook`: a Kubernetes validating admission webhook for BaizeAI `Dataset` objects.

`review` decides (pure), `nodes` loads the fleet (a file, or the API server), `server` serves HTTPS (aiohttp,
the `webhook` extra). Only `review` is imported here: it needs no extra.
"""

from __future__ import annotations

from envresolve.webhook.review import Decision, Fleet, Policy, decide, fleet_of, parse_review, response_for

__all__ = ["Decision", "Fleet", "Policy", "decide", "fleet_of", "parse_review", "response_for"]
