"""numeric: the answer is a number within a tolerance of the gold number (or of one of several)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptc.metrics.base import Builtin, ValueScorer
from promptc.metrics.values import alternatives, as_number
from promptc.metrics.verdict import Verdict, show

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "abs_tol": {"type": "number", "minimum": 0, "default": 0.0},
        "rel_tol": {"type": "number", "minimum": 0, "default": 1e-9},
    },
}


def build(settings: Mapping[str, Any]) -> ValueScorer:
    """A scorer accepting |answer - gold| <= max(abs_tol, rel_tol * |gold|), as math.isclose."""
    abs_tol, rel_tol = float(settings["abs_tol"]), float(settings["rel_tol"])

    def numeric(gold: Any, predicted: Any) -> Verdict:
        answer = as_number(predicted)
        if answer is None:
            return Verdict(0.0, f"expected a number, got {show(predicted)}")
        best: tuple[float, float, Any] | None = None  # (distance beyond tolerance, tolerance, gold)
        for option in alternatives(gold):
            expected = as_number(option)
            if expected is None:
                continue
            tolerance = max(abs_tol, rel_tol * abs(expected))
            off = abs(answer - expected)
            if best is None or off - tolerance < best[0]:
                best = (off - tolerance, tolerance, option)
        if best is None:
            return Verdict(0.0, f"the gold value {show(gold)} is not a finite number")
        if best[0] <= 0:
            return Verdict(1.0)
        return Verdict(0.0, f"expected {show(best[2])}, got {show(predicted)} (tolerance {best[1]:g})")

    return numeric


BUILTIN = Builtin(
    build, "1 when the number is within abs_tol or rel_tol of the gold number", settings_schema=SETTINGS
)
