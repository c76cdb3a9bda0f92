"""The one masking boundary: text that may carry provider output loses every secret before it is
printed, logged, cached or written.

Three kinds of secret are masked: the keys promptc itself read from the environment (registered
by the code that reads them), the values of environment variables whose names say they hold a
secret, and anything shaped like a credential (`Bearer ...`, `api_key=...`, `"Authorization":
"..."`, `sk-...`), because a provider or proxy may echo a key promptc never saw.
"""

from __future__ import annotations

import os
import re
import threading

MASK = "[key]"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

_registered: set[str] = set()
_lock = threading.Lock()

_SECRET_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(?:_|$)", re.IGNORECASE
)
_CREDENTIAL_SHAPES = (
    # Authorization: Bearer <token> / Basic <token>
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{4,}"),
    # api_key=..., "api-key": "...", x-api-key: ..., authorization: ..., token=..., secret: ...
    re.compile(
        r"(?i)([\"']?\b(?:x-)?(?:api[_-]?key|authorization|(?:access[_-]?|auth[_-]?)?token|"
        r"secret|password)[\"']?\s*[:=]\s*[\"']?)(?!\[key\])[^\s\"',;}]{4,}"
    ),
    # OpenAI/Anthropic-style key prefixes anywhere in the text
    re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}"),
)


def register_secret(value: str | None) -> None:
    """Mask value in every later redact() call (a key promptc read for a call)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _registered.add(value)


def _environment_secrets() -> list[str]:
    return [
        value
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    ]


def redact(text: str, *secrets: str | None) -> str:
    """text with every secret masked: the given ones, the registered ones, secret-named
    environment variables' values and credential-shaped substrings."""
    with _lock:
        known = set(_registered)
    known.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
    known.update(_environment_secrets())
    for secret in sorted(known, key=len, reverse=True):  # longest first: a key inside a key
        text = text.replace(secret, MASK)
    text = _CREDENTIAL_SHAPES[0].sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _CREDENTIAL_SHAPES[1].sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _CREDENTIAL_SHAPES[2].sub(MASK, text)
