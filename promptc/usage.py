"""An LM's counters, a leaf type: outcomes and reports read it without loading the model layer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Usage:
    """Counters for an LM: requests, fresh calls (cache misses), tokens, cost."""

    requests: int = 0
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    lm_seconds: float = 0.0
    wait_seconds: float = 0.0  # time spent waiting between attempts (backoff and Retry-After)
    cap_wait_seconds: float = 0.0  # time workers spent waiting for room under target.rpm / tpm
    label_fallbacks: int = 0  # hosted label scores taken from the parsed answer (no answer token)

    def snapshot(self) -> Usage:
        """A copy of the counters."""
        return Usage(**self.__dict__)

    def __add__(self, other: Usage) -> Usage:
        """The counters of two LMs together."""
        return Usage(**{k: v + getattr(other, k) for k, v in self.__dict__.items()})
