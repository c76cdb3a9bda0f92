"""What a metric returns (a Verdict), the checks on a custom metric's return, and safe display."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_FEEDBACK_CHARS = 2000  # longer feedback is cut: it is stored with every record and shown to models
TRUNCATED = " ... (feedback truncated)"
SHOWN_CHARS = 200  # a value quoted in feedback is cut to this


@dataclass(frozen=True, slots=True)
class Verdict:
    """A metric's judgement of one prediction: a score in [0, 1], optionally why, and per-field scores.

    field_scores is set where several outputs are scored apart (a composite metric, or a built-in
    metric over several outputs), so records, reports and diffs can say which field failed.
    """

    score: float
    feedback: str | None = None
    field_scores: dict[str, float] | None = None


Metric = Callable[[dict[str, Any], dict[str, Any]], Verdict]


def show(value: Any) -> str:
    """A value as feedback quotes it: strings as they are, others as repr, cut short; never raises."""
    if isinstance(value, str):
        text = value[: SHOWN_CHARS + 1]
    else:
        try:
            text = repr(value)
        except Exception:  # huge ints, deep nesting, a broken __repr__: say what it is instead
            text = f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def cut_feedback(feedback: str | None) -> str | None:
    """Feedback cut to MAX_FEEDBACK_CHARS; None for none or empty."""
    if feedback and len(feedback) > MAX_FEEDBACK_CHARS:
        return feedback[: MAX_FEEDBACK_CHARS - len(TRUNCATED)] + TRUNCATED
    return feedback or None


def verdict_of(name: str, returned: Any) -> Verdict:
    """A custom metric's return as a Verdict: a number, {"score", "feedback"} or (score, feedback).

    Refused with a ValueError that names the metric: a score that is not a finite number in
    [0, 1] (NaN would poison every mean), feedback that is not a string, a dict with other keys.
    Feedback longer than MAX_FEEDBACK_CHARS is cut.
    """
    shape = 'return a number, {"score": ..., "feedback": "..."} or (score, feedback)'
    if isinstance(returned, dict):
        unknown = sorted(map(str, set(returned) - {"score", "feedback"}))
        if "score" not in returned or unknown:
            what = f"unknown keys {unknown}" if unknown else "no 'score' key"
            raise ValueError(f"metric {name} returned a dict with {what}: {shape}")
        score, feedback = returned["score"], returned.get("feedback")
    elif isinstance(returned, tuple):
        if len(returned) != 2:
            raise ValueError(f"metric {name} returned a tuple of {len(returned)} values: {shape}")
        score, feedback = returned
    else:
        score, feedback = returned, None
    try:
        value = math.nan if isinstance(score, str) else float(score)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f"metric {name} returned {show(score)}; a score must be a finite number (0 to 1): "
            "fix the metric so it never returns NaN, infinity or a non-number"
        )
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"metric {name} returned the score {value}, outside 0 to 1: fix the metric so its scores "
            "lie in [0, 1] (divide by the largest possible score)"
        )
    if feedback is not None and not isinstance(feedback, str):
        raise ValueError(
            f"metric {name} returned feedback of type {type(feedback).__name__}; feedback must be a "
            "string or None"
        )
    return Verdict(value, cut_feedback(feedback))
