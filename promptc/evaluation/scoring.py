"""How stored scores were scored (`Scoring`: the test split, the metric and a custom metric's
module files, the decoding settings), and what differs between two such records. Scores are
compared with each other only when nothing does (promptc.release.reference decides what is re-evaluated)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The flat names compared (as the config names each setting), in the order messages list them.
TEST_SPLIT, METRIC, METRIC_FINGERPRINT = "data.test (sha256)", "metric", "metric fingerprint"
HASHES = (TEST_SPLIT, METRIC_FINGERPRINT)


@dataclass(frozen=True)
class Scoring:
    """What stored scores depend on besides the candidate and the model revision: the test split,
    the metric (and its custom modules' files) and the decoding settings. Scores are compared
    with each other only when all of it matches (promptc.release.reference)."""

    test_split: str  # the test split's content hash
    metric: str
    metric_fingerprint: str  # promptc.metrics.metric_fingerprint: its text and custom modules' files
    decoding: dict[str, Any]  # temperature, max_tokens, constrained, logprobs

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored in artifacts."""
        return {
            "test_split": self.test_split,
            "metric": self.metric,
            "metric_fingerprint": self.metric_fingerprint,
            "decoding": self.decoding,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scoring:
        """Inverse of to_dict."""
        return cls(
            test_split=data["test_split"],
            metric=data["metric"],
            metric_fingerprint=data["metric_fingerprint"],
            decoding=data["decoding"],
        )


def scoring_fields(scoring: Scoring) -> dict[str, Any]:
    """A Scoring as flat settings, named as the config names them."""
    return {
        TEST_SPLIT: scoring.test_split,
        METRIC: scoring.metric,
        METRIC_FINGERPRINT: scoring.metric_fingerprint,
        **{f"target.{key}": value for key, value in scoring.decoding.items()},
    }


def scoring_differences(stored: dict[str, Any], current: dict[str, Any]) -> dict[str, str]:
    """Setting -> how it differs between stored scores and the scores they would be compared with."""
    out = {}
    for key in [*current, *(k for k in stored if k not in current)]:
        if key not in stored:
            out[key] = f"{key}: not recorded (stored by an older promptc)"
        elif key not in current:
            out[key] = f"{key}: {_shown(key, stored[key])} stored, not set now"
        elif stored[key] != current[key]:
            out[key] = f"{key}: {_shown(key, stored[key])} stored, {_shown(key, current[key])} now"
    return out


def _shown(key: str, value: Any) -> str:
    return value[:12] if key in HASHES and isinstance(value, str) else repr(value)
