"""Evaluation results as plain data: predictions, records, summaries and the overall scope.

A leaf module: stored data (artifacts, store, registry, sidecars) and the gates read these
types without loading the model layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from promptc.errors import ArtifactError
from promptc.evaluation.stats import mean, mean_interval

OVERALL = "(overall)"  # the key of the whole test split among the per-slice summaries


RESERVED_SLICES = frozenset({"overall", OVERALL})  # what a slice may not be named


def reserved_slice(name: str) -> bool:
    """True for a slice label that reads as the overall row (any case, surrounding spaces ignored)."""
    return name.strip().casefold() in RESERVED_SLICES


def scope_name(scope: str) -> str:
    """How a summary key is shown: `overall` for OVERALL, else the slice's own name."""
    return "overall" if scope == OVERALL else scope


def score_problem(value: Any) -> str | None:
    """Why a score read from a file is not one promptc writes (a finite number in [0, 1]), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a number"
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return f"{value!r} is not a number in [0, 1] (a metric scores every example from 0 to 1)"
    return None


def json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Plain data that is valid JSON: a float that is not finite becomes null, and `not_finite` names it."""
    out = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}
    infinite = {k: str(v) for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)}
    if infinite:
        out["not_finite"] = infinite
    return out


@dataclass(frozen=True, slots=True)
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
    label_logprobs: dict[str, float] | None = None  # the model's own, before calibration (logprob decisions)


@dataclass(frozen=True, slots=True)
class Record:
    """One evaluated example."""

    id: str
    slice: str | None
    prediction: Prediction
    score: float
    feedback: str | None = None  # the metric's, or why the reply could not be scored
    field_scores: dict[str, float] | None = None  # per output, where the metric scores outputs apart

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
        if self.feedback is not None:
            out["feedback"] = self.feedback
        if self.field_scores is not None:
            out["field_scores"] = self.field_scores
        if timing:
            out["latency_s"] = round(p.latency_s, 4)
            out["cached"] = p.cached
        return out


@dataclass(frozen=True)
class Summary:
    """n, mean and a confidence interval for the mean (promptc.evaluation.stats.mean_interval)."""

    n: int
    mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data; an unbounded side (no examples) is null."""
        return json_safe({"n": self.n, "mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """Inverse of to_dict."""
        low, high = data["ci_low"], data["ci_high"]
        return cls(
            n=data["n"],
            mean=data["mean"],
            ci_low=-math.inf if low is None else low,
            ci_high=math.inf if high is None else high,
        )


@dataclass(frozen=True)
class Evaluation:
    """Per-example records and per-slice summaries (OVERALL included)."""

    records: tuple[Record, ...]
    summaries: dict[str, Summary]

    @property
    def overall(self) -> Summary:
        """The summary over every example."""
        return self.summaries[OVERALL]

    def to_dict(self, *, timing: bool = False, records: bool = True) -> dict[str, Any]:
        """Plain data, as in JSON reports; artifacts store the summaries and keep records apart."""
        out: dict[str, Any] = {"summaries": {k: v.to_dict() for k, v in self.summaries.items()}}
        if records:
            out["records"] = [r.to_dict(timing=timing) for r in self.records]
        return out


def summarise(scores: list[float], *, confidence: float = 0.95) -> Summary:
    """n, mean and the gates' interval for the mean (stats.mean_interval)."""
    low, high = mean_interval(scores, confidence)
    return Summary(n=len(scores), mean=round(mean(scores), 6), ci_low=round(low, 6), ci_high=round(high, 6))


def summarise_records(records: tuple[Record, ...], *, confidence: float = 0.95) -> dict[str, Summary]:
    """Summaries overall and for each slice, slices sorted by name."""
    by_slice: dict[str, list[float]] = {}
    for r in records:
        if r.slice is not None:
            by_slice.setdefault(r.slice, []).append(r.score)
    out = {OVERALL: summarise([r.score for r in records], confidence=confidence)}
    for name in sorted(by_slice):
        out[name] = summarise(by_slice[name], confidence=confidence)
    return out


@dataclass(frozen=True)
class ScoreSet:
    """Per-example scores of one evaluation: id -> score, id -> slice."""

    scores: dict[str, float]
    slices: dict[str, str | None]

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], source: str = "stored records") -> ScoreSet:
        """From evaluation records (dicts with id, slice and score), read in one pass; a score that is
        not a number in [0, 1], or a slice named like the overall row, is refused (ArtifactError)."""
        scores: dict[str, float] = {}
        slices: dict[str, str | None] = {}
        fix = "re-run promptc eval (or compile) to write the artifact again"
        for row, r in enumerate(records, 1):
            problem = score_problem(r["score"])
            if problem is not None:
                raise ArtifactError(f"{source}: record {row} (id {r['id']!r}): score {problem}", fix=fix)
            name = r.get("slice")
            if name is not None and reserved_slice(name):
                raise ArtifactError(
                    f"{source}: record {row} (id {r['id']!r}): slice {name!r} is the overall row's name",
                    fix=fix,
                )
            scores[r["id"]] = float(r["score"])
            slices[r["id"]] = name
        return cls(scores=scores, slices=slices)

    def groups(self) -> dict[str, list[str]]:
        """Example ids overall and per slice (slices sorted by name)."""
        by_slice: dict[str, list[str]] = {}
        for example_id, name in self.slices.items():
            if name is not None:
                by_slice.setdefault(name, []).append(example_id)
        return {OVERALL: list(self.scores), **{k: by_slice[k] for k in sorted(by_slice)}}
