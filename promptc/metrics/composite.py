"""A composite metric: each named output scored by its own metric, combined by weighted mean.

Per-output scores travel in the Verdict (field_scores), and the feedback names each output that
fell short, so records, reports, diffs and gepa can say which field failed and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptc.metrics.base import ValueScorer, joined, score_field
from promptc.metrics.verdict import Metric, Verdict

# Scores one output (gold outputs, predicted outputs, the output's name); feedback without the name.
OutputScorer = Callable[[Mapping[str, Any], Any, str], Verdict]


def builtin_part(scorer: ValueScorer) -> OutputScorer:
    """A built-in metric on one output."""
    return lambda gold, predicted, name: score_field(scorer, name, gold, predicted)


def custom_part(metric: Metric) -> OutputScorer:
    """A custom metric on one output: it sees that output alone ({name: value}) in gold and prediction."""

    def score(gold: Mapping[str, Any], predicted: Any, name: str) -> Verdict:
        answer = {name: predicted[name]} if isinstance(predicted, Mapping) and name in predicted else {}
        return metric({name: gold[name]}, answer)

    return score


def composite(parts: list[tuple[str, OutputScorer, float]]) -> Metric:
    """The weighted mean over the outputs the example has a gold value for."""

    def metric(gold: dict[str, Any], predicted: dict[str, Any]) -> Verdict:
        verdicts: dict[str, Verdict] = {}
        weights: dict[str, float] = {}
        for name, score, weight in parts:
            if isinstance(gold, Mapping) and name in gold:
                verdicts[name], weights[name] = score(gold, predicted, name), weight
        total = sum(weights.values())
        if total <= 0:
            return Verdict(0.0, "the example has no gold value for any output the metric scores", {})
        mean = sum(v.score * weights[name] for name, v in verdicts.items()) / total
        return Verdict(min(1.0, mean), joined(verdicts), {name: v.score for name, v in verdicts.items()})

    return metric
