"""In-process model providers, found as plugins in the `promptc.providers` entry-point group.

A distribution registers a provider class under a model prefix in its pyproject.toml:

    [project.entry-points."promptc.providers"]
    echo = "my_package.provider:EchoProvider"

and `target.model: echo/<name>` then runs in-process through that class (see `Provider`).
promptc registers its own two this way: `local` (the embedded GGUF models) and `fake` (its
deterministic fake models). Every other prefix is a hosted model for litellm.

This module owns the contract (`Provider`, `TransientProviderError`) and the lookup from a
model string to its provider; promptc.lm calls providers directly and bridges them into litellm.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import metadata
from typing import Any, Protocol

from promptc.errors import BadInput

GROUP = "promptc.providers"
Messages = list[dict[str, str]]
_PREFIX = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class TransientProviderError(Exception):
    """Raised by in-process providers for failures worth retrying."""


class Provider(Protocol):
    """An in-process model provider: called directly, and bridged into litellm as a custom provider."""

    supports_grammar: bool  # honours params["grammar"] (GBNF) to constrain the reply
    supports_label_scores: bool  # implements score_labels

    def complete(self, model: str, messages: Messages, params: dict[str, Any]) -> tuple[str, int, int]:
        """Return (text, prompt_tokens, completion_tokens)."""
        ...

    def score_labels(
        self, model: str, messages: Messages, params: dict[str, Any]
    ) -> tuple[dict[str, float], int]:
        """Log-probability of each of params["score_labels"] as the reply after params["answer_prefix"]."""
        ...

    def revision(self, model: str) -> str:
        """The exact revision of the named model (for GGUF files: sha256 prefix)."""
        ...


@lru_cache(maxsize=1)
def registered() -> dict[str, metadata.EntryPoint]:
    """Model prefix -> entry point, for every installed distribution's providers."""
    found: dict[str, metadata.EntryPoint] = {}
    for point in sorted(metadata.entry_points(group=GROUP), key=lambda p: (p.name, p.value)):
        if not _PREFIX.fullmatch(point.name):
            raise BadInput(
                f"provider plugin {point.value!r} registers the model prefix {point.name!r}",
                fix="a prefix is 1-32 lowercase letters, digits, '-' or '_', starting with a letter; "
                f"fix the {GROUP!r} entry point of the distribution that ships {point.module!r}",
            )
        if point.name in found and found[point.name].value != point.value:
            raise BadInput(
                f"two provider plugins claim the model prefix {point.name!r}: "
                f"{found[point.name].value!r} and {point.value!r}",
                fix="uninstall one of the two distributions",
            )
        found[point.name] = point
    return found


_lock = threading.RLock()
_instances: dict[str, Provider] = {}


def is_provider(prefix: str) -> bool:
    """True when a plugin serves models with this prefix (without importing it)."""
    return prefix in registered()


def is_in_process(model: str) -> bool:
    """Whether a model string names an in-process provider (local GGUF files, fakes, plugins)."""
    return is_provider(model.split("/", 1)[0])


def provider_for(model: str) -> Provider | None:
    """The in-process provider behind a model string; None for a hosted model."""
    prefix = model.split("/", 1)[0]
    return get(prefix) if is_provider(prefix) else None


def get(prefix: str) -> Provider:
    """The one instance of the provider registered for `prefix`, made on first use."""
    with _lock:
        if prefix not in _instances:
            point = registered()[prefix]
            try:
                cls = point.load()
            except Exception as exc:  # a plugin's own import error, whatever its type
                raise BadInput(
                    f"the provider plugin for {prefix}/... ({point.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}",
                    fix="reinstall the distribution that ships it, or remove it",
                ) from exc
            _instances[prefix] = cls()
        return _instances[prefix]
