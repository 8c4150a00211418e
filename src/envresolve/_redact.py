"""Keep credentials out of logs, locks and reports."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "has_credentials", "redact_text", "redact_url"]

MASK = "****"
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:token|access_token|api_key|apikey|password|secret|sig)=)[^&#\s]+")


def has_credentials(url: str) -> bool:
    """True when a URL carries a user, a password, or a secret-looking query parameter."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.username or parts.password) or bool(_SECRET_QUERY.search(url))


def redact_url(url: str) -> str:
    """The URL with user info and secret query values replaced by `****`.

    >>> redact_url("https://alice:s3cret@pypi.example/simple")
    'https://****@pypi.example/simple'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    out = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, out)


def redact_text(text: str) -> str:
    """Redact every URL found in free text."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
