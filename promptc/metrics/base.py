"""The protocol every built-in metric follows, and how one is applied to a program's outputs.

A built-in metric scores one output value against its gold value (`ValueScorer`); `Builtin`
says how to build that scorer from its settings and which outputs it fits. Over several outputs
a metric scores each apart and combines them (a mean, or all-or-nothing for exact_match).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptc.metrics.verdict import Metric, Verdict, cut_feedback, show

NO_SETTINGS: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


class ValueScorer(Protocol):
    """Scores one predicted value against its gold value; feedback says why when below 1."""

    def __call__(self, gold: Any, predicted: Any) -> Verdict: ...


@dataclass(frozen=True)
class Builtin:
    """A built-in metric: its scorer built from settings, the output types it fits, its settings schema."""

    build: Callable[[Mapping[str, Any]], ValueScorer]
    description: str
    types: frozenset[str] | None = None  # output field types it can score; None: any
    settings_schema: dict[str, Any] = field(default_factory=lambda: dict(NO_SETTINGS))
    all_or_nothing: bool = False  # over several outputs: 1 only when every output scores 1


def score_field(scorer: ValueScorer, name: str, gold: Mapping[str, Any], predicted: Any) -> Verdict:
    """One output scored: a missing value, a scorer that fails or a bad score is a miss with a reason."""
    if not isinstance(predicted, Mapping) or name not in predicted:
        return Verdict(0.0, f"expected {show(gold[name])}, got no value")
    try:
        verdict = scorer(gold[name], predicted[name])
        score = float(verdict.score)
    except Exception as exc:  # built-ins never raise on values; this keeps that promise for junk
        return Verdict(0.0, f"could not be scored ({type(exc).__name__}); got {show(predicted[name])}")
    if not math.isfinite(score):
        return Verdict(0.0, f"could not be scored (score {score}); got {show(predicted[name])}")
    return Verdict(min(1.0, max(0.0, score)), verdict.feedback)


def joined(verdicts: Mapping[str, Verdict]) -> str | None:
    """Each output's feedback, prefixed with its name ("slots: missing ...; intent: expected X, got Y")."""
    return cut_feedback("; ".join(f"{name}: {v.feedback}" for name, v in verdicts.items() if v.feedback))


def over_outputs(builtin: Builtin, scorer: ValueScorer) -> Metric:
    """A built-in metric over every gold output: the mean of their scores, or all-or-nothing."""

    def metric(gold: dict[str, Any], predicted: dict[str, Any]) -> Verdict:
        if not isinstance(gold, Mapping) or not gold:
            return Verdict(1.0 if builtin.all_or_nothing else 0.0, None)
        verdicts = {name: score_field(scorer, name, gold, predicted) for name in gold}
        scores = [v.score for v in verdicts.values()]
        score = min(scores) if builtin.all_or_nothing else sum(scores) / len(scores)
        fields = {name: v.score for name, v in verdicts.items()} if len(verdicts) > 1 else None
        return Verdict(score, joined(verdicts), fields)

    return metric
