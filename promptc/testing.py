"""Deterministic fake models, served through litellm like any other provider.

For tests (ours and users'): `target.model: fake/<name>` with any revision
starting with ``fake``. Models:

- ``fake/learner``: answers like the most similar demonstration in the prompt
  (word overlap), so it genuinely learns from demos; with no demos it answers
  with the first allowed label.
- ``fake/ignorer``: always the zero-shot answer; demos never help.
- ``fake/echo``: replies with the last user message.
- ``fake/flaky``: like learner, but the first attempt of every distinct prompt fails
  with a transient error (exercises retries).
- ``fake/down``: every call fails with a transient error.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

from promptc.lm import TransientProviderError

REVISION = "fake0000000000000000"
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _output_names(system: str) -> list[str]:
    fmt = system.split("Reply in exactly this format:", 1)[-1]
    return [m.group(1) for m in re.finditer(r"^(\w+): <", fmt, re.MULTILINE) if m.group(1) != "reasoning"]


def _first_label(system: str) -> str:
    m = re.search(r"\(one of: ([^,)]+)", system)
    return m.group(1).strip() if m else "unknown"


class FakeProvider:
    """The provider behind ``fake/...`` models."""

    def __init__(self) -> None:
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def revision(self, model: str) -> str:
        """Every fake model has the same fixed revision."""
        return REVISION

    def complete(
        self, model: str, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> tuple[str, int, int]:
        """A deterministic reply; token counts are word counts."""
        if model == "down":
            raise TransientProviderError("fake/down is unavailable")
        if model == "flaky":
            key = hashlib.sha256(repr(messages).encode()).hexdigest()
            with self._lock:
                self._attempts[key] = self._attempts.get(key, 0) + 1
                first = self._attempts[key] == 1
            if first:
                raise TransientProviderError("fake/flaky failed its first attempt")
        if model == "echo":
            text = messages[-1]["content"]
        elif model in ("learner", "flaky"):
            text = self._nearest_demo(messages) or self._zero_shot(messages)
        elif model == "ignorer":
            text = self._zero_shot(messages)
        else:
            raise ValueError(f"unknown fake model {model!r} (learner, ignorer, echo, flaky, down)")
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return text, prompt_tokens, len(text.split())

    @staticmethod
    def _zero_shot(messages: list[dict[str, str]]) -> str:
        system = messages[0]["content"] if messages[0]["role"] == "system" else ""
        names = _output_names(system) or ["answer"]
        return "\n".join(f"{name}: {_first_label(system)}" for name in names)

    @staticmethod
    def _nearest_demo(messages: list[dict[str, str]]) -> str | None:
        turns = [m for m in messages if m["role"] != "system"]
        query = _words(turns[-1]["content"])
        best: tuple[float, int] | None = None
        answer = None
        for i in range(0, len(turns) - 1, 2):
            if turns[i]["role"] != "user" or turns[i + 1]["role"] != "assistant":
                continue
            demo = _words(turns[i]["content"])
            score = len(query & demo) / (len(query | demo) or 1)
            if best is None or (score, -i) > best:
                best, answer = (score, -i), turns[i + 1]["content"]
        return answer
