"""Failed attempts worth retrying, how long to wait before the next, and safe error text."""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

from promptc.redact import redact

MAX_RETRY_AFTER_S = 60.0  # a provider's Retry-After is honoured up to this long per attempt


class Transient(Exception):
    """A failed attempt worth retrying: the exception's kind, a short description, and how long
    the provider asked us to wait (its Retry-After), if it did."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(kind, detail)
        self.kind, self.detail, self.retry_after = kind, detail, retry_after


def wait_before(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number attempt: the provider's Retry-After (bounded), else
    exponential backoff from 0.5 s up to 8 s."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_S)
    return min(0.5 * 2.0 ** (attempt - 1), 8.0)


def retry_after(exc: Exception) -> float | None:
    """Seconds a provider's reply asked us to wait (retry-after-ms, or Retry-After in seconds)."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:  # an HTTP date
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def short(exc: Exception, *secrets: str, limit: int = 300) -> str:
    """The first lines of an exception's message, every secret masked (promptc.redact)."""
    text = " ".join(str(exc).split("Traceback (most recent call last)", 1)[0].split())
    text = redact(text, *secrets)  # before cutting: a cut must never leave half a key
    return text[:limit] + ("..." if len(text) > limit else "")
