"""Run a program over examples: predictions, scores, per-slice summaries with confidence intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptc.adapter import ParseError, answer_grammar, parse_reply, render_messages
from promptc.data import Example
from promptc.errors import RuntimeFailure
from promptc.lm import LM
from promptc.metrics import Metric
from promptc.program import Candidate, Program
from promptc.stats import mean_interval

OVERALL = "(overall)"


@dataclass(frozen=True)
class Prediction:
    """One program run: parsed outputs (None on a parse failure), the raw reply and accounting."""

    outputs: dict[str, Any] | None
    reasoning: str | None
    raw: str
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    latency_s: float


def predict(
    program: Program, candidate: Candidate, lm: LM, inputs: dict[str, Any], sample: int = 0
) -> Prediction:
    """One model call for one set of inputs; a parse failure is kept, never retried silently."""
    grammar = answer_grammar(program)
    completion = lm.complete(render_messages(program, candidate, inputs), sample=sample, grammar=grammar)
    try:
        outputs, reasoning = parse_reply(program, completion.text, grammar is not None and lm.constrains)
        error = None
    except ParseError as exc:
        outputs, reasoning, error = None, None, f"parse: {exc}"
    return Prediction(
        outputs=outputs,
        reasoning=reasoning,
        raw=completion.text,
        error=error,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached=completion.cached,
        latency_s=completion.latency_s,
    )


@dataclass(frozen=True)
class Record:
    """One evaluated example."""

    id: str
    slice: str | None
    prediction: Prediction
    score: float

    def to_dict(self, *, timing: bool = False) -> dict[str, Any]:
        """Plain data; timing fields (latency, cache hits) only when asked, as they vary run to run."""
        p = self.prediction
        out: dict[str, Any] = {
            "id": self.id,
            "slice": self.slice,
            "prediction": p.outputs,
            "raw": p.raw,
            "score": self.score,
            "error": p.error,
            "tokens": p.prompt_tokens + p.completion_tokens,
        }
        if timing:
            out["latency_s"] = round(p.latency_s, 4)
            out["cached"] = p.cached
        return out


@dataclass(frozen=True)
class Summary:
    """n, mean and a confidence interval for the mean (promptc.stats.mean_interval)."""

    n: int
    mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"n": self.n, "mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """Inverse of to_dict."""
        return cls(n=data["n"], mean=data["mean"], ci_low=data["ci_low"], ci_high=data["ci_high"])


@dataclass(frozen=True)
class Evaluation:
    """Per-example records and per-slice summaries (OVERALL included)."""

    records: tuple[Record, ...]
    summaries: dict[str, Summary]

    @property
    def overall(self) -> Summary:
        """The summary over every example."""
        return self.summaries[OVERALL]

    def to_dict(self, *, timing: bool = False) -> dict[str, Any]:
        """Plain data, as stored in artifacts and JSON reports."""
        return {
            "summaries": {k: v.to_dict() for k, v in self.summaries.items()},
            "records": [r.to_dict(timing=timing) for r in self.records],
        }


def summarise(scores: list[float], *, seed: int, confidence: float = 0.95) -> Summary:
    """n, mean and the gates' interval for the mean (stats.mean_interval; seed is unused)."""
    low, high = mean_interval(scores, confidence)
    mean = sum(scores) / len(scores) if scores else 0.0
    return Summary(n=len(scores), mean=round(mean, 6), ci_low=round(low, 6), ci_high=round(high, 6))


def summarise_records(
    records: tuple[Record, ...], *, seed: int, confidence: float = 0.95
) -> dict[str, Summary]:
    """Summaries overall and for each slice, slices sorted by name."""
    by_slice: dict[str, list[float]] = {}
    for r in records:
        if r.slice is not None:
            by_slice.setdefault(r.slice, []).append(r.score)
    out = {OVERALL: summarise([r.score for r in records], seed=seed, confidence=confidence)}
    for name in sorted(by_slice):
        out[name] = summarise(by_slice[name], seed=seed, confidence=confidence)
    return out


def score_prediction(metric: Metric, example: Example, prediction: Prediction) -> float:
    """The metric's score; a failed parse scores 0."""
    if prediction.outputs is None:
        return 0.0
    try:
        return float(metric(example.outputs, prediction.outputs))
    except Exception as exc:  # a user metric's bug must name the example, not crash blindly
        raise RuntimeFailure(
            f"the metric raised {type(exc).__name__} on example {example.id}: {exc}",
            fix="fix the metric function",
        ) from exc


def evaluate(
    program: Program,
    candidate: Candidate,
    examples: tuple[Example, ...] | list[Example],
    metric: Metric,
    lm: LM,
    *,
    seed: int = 0,
    on_done: Callable[[], None] | None = None,
) -> Evaluation:
    """Run the candidate over examples and score each one."""

    def one(example: Example) -> Record:
        prediction = predict(program, candidate, lm, example.inputs)
        return Record(example.id, example.slice, prediction, score_prediction(metric, example, prediction))

    records = tuple(lm.map(one, examples, on_done))
    return Evaluation(records=records, summaries=summarise_records(records, seed=seed))
