"""Run a program over examples: predictions, scores, per-slice summaries with confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptc.adapter import ParseError, label_field, parse_reply, render_messages
from promptc.calibration import choose, label_probs
from promptc.data import Example
from promptc.errors import PromptcError, RuntimeFailure
from promptc.fields import vote_outputs
from promptc.grammar import answer_grammar, reply_schema
from promptc.lm import LM
from promptc.metrics import Judge, Metric, Verdict, bind_judge
from promptc.program import Candidate, Program
from promptc.stats import mean, mean_interval

OVERALL = "(overall)"  # the key of the whole test split among the per-slice summaries


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


CHUNK = 1000  # examples evaluated per lm.map call, at least


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


def predict(
    program: Program, candidate: Candidate, lm: LM, inputs: dict[str, Any], sample: int = 0
) -> Prediction:
    """Answer one set of inputs with a candidate; a parse failure is kept, never retried silently."""
    if candidate.members:
        return combine(
            program, candidate, [predict(program, m, lm, inputs, sample) for m in candidate.members]
        )
    if candidate.decision == "logprob":
        return _predict_label(program, candidate, lm, inputs)
    grammar = answer_grammar(program)
    messages = render_messages(program, candidate, inputs)
    completion = lm.complete(messages, sample=sample, grammar=grammar, schema=reply_schema(program))
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


def _predict_label(program: Program, candidate: Candidate, lm: LM, inputs: dict[str, Any]) -> Prediction:
    f = label_field(program)
    if f is None:
        raise RuntimeFailure(
            f"the candidate decides by label log-probabilities, but {program.name}'s outputs are not "
            "one enum field",
            fix="compile the program again",
        )
    scores = lm.label_logprobs(render_messages(program, candidate, inputs), f"{f.name}:", list(f.labels))
    return decide(program, candidate, scores.logprobs, scores.prompt_tokens, scores.cached, scores.latency_s)


def decide(
    program: Program,
    candidate: Candidate,
    logprobs: dict[str, float],
    prompt_tokens: int = 0,
    cached: bool = True,
    latency_s: float = 0.0,
) -> Prediction:
    """The prediction a logprob candidate makes from the model's label log-probabilities."""
    f = label_field(program)
    assert f is not None
    label = choose(list(f.labels), label_probs(logprobs, candidate.calibration))
    return Prediction(
        outputs={f.name: label},
        reasoning=None,
        raw=f"{f.name}: {label}",
        error=None,
        prompt_tokens=prompt_tokens,
        completion_tokens=0,
        cached=cached,
        latency_s=latency_s,
        label_logprobs=dict(logprobs),
    )


def combine(program: Program, ensemble: Candidate, answers: list[Prediction]) -> Prediction:
    """An ensemble's answer: the average of the members' calibrated label distributions when every
    member gives one, else a vote field by field (promptc.fields.vote_outputs; ties: the earlier member's)."""
    f = label_field(program)
    scored = [(m, p) for m, p in zip(ensemble.members, answers, strict=True) if p.label_logprobs is not None]
    if f is not None and answers and len(scored) == len(answers):
        dists = [label_probs(p.label_logprobs or {}, m.calibration) for m, p in scored]
        average = {label: sum(d[label] for d in dists) / len(dists) for label in f.labels}
        outputs: dict[str, Any] | None = {f.name: choose(list(f.labels), average)}
    else:
        parsed = [p.outputs for p in answers if p.outputs is not None]
        outputs = vote_outputs(program.signature.outputs, parsed)  # field by field (promptc.fields)
    raw = "\n".join(f"{k}: {v}" for k, v in outputs.items()) if outputs else answers[0].raw
    return Prediction(
        outputs=outputs,
        reasoning=None,
        raw=raw,
        error=None if outputs is not None else "no member's reply could be parsed",
        prompt_tokens=sum(p.prompt_tokens for p in answers),
        completion_tokens=sum(p.completion_tokens for p in answers),
        cached=all(p.cached for p in answers),
        latency_s=sum(p.latency_s for p in answers),
    )


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
    """n, mean and a confidence interval for the mean (promptc.stats.mean_interval)."""

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


def score_prediction(metric: Metric, example: Example, prediction: Prediction) -> float:
    """The metric's score; a failed parse scores 0."""
    return judge_prediction(metric, example, prediction).score


def judge_prediction(metric: Metric, example: Example, prediction: Prediction) -> Verdict:
    """The metric's score and feedback; a failed parse scores 0, with feedback on what was wrong."""
    if prediction.outputs is None:
        raw = prediction.raw if len(prediction.raw) <= 300 else prediction.raw[:300] + "..."
        why = prediction.error or "the reply could not be parsed"
        return Verdict(0.0, f"{why}; the reply was: {raw!r}")
    try:
        if isinstance(metric, Judge):  # a judge reads the inputs too
            return metric.judge(example.inputs, example.outputs, prediction.outputs)
        return metric(example.outputs, prediction.outputs)
    except PromptcError:  # a judge's provider failure, drift or budget: as from the target's calls
        raise
    except Exception as exc:  # a user metric's bug must name the example, not crash blindly
        raise RuntimeFailure(
            f"the metric raised {type(exc).__name__} on example {example.id}: {exc}",
            fix="fix the metric function",
        ) from exc


def _prompt_order(program: Program, candidate: Candidate, example: Example) -> list[tuple[str, str]]:
    """A sort key that puts prompts with long common prefixes next to each other."""
    return [(m["role"], m["content"]) for m in render_messages(program, candidate, example.inputs)]


def evaluate(
    program: Program,
    candidate: Candidate,
    examples: tuple[Example, ...] | list[Example],
    metric: Metric,
    lm: LM,
    *,
    on_done: Callable[[], None] | None = None,
) -> Evaluation:
    """Run the candidate over examples and score each one.

    An ensemble is run one member at a time over all the examples, so each member's shared
    prompt stays in the model's key-value cache; the progress callback follows the last member.
    A judge metric not yet given a model calls its own beside lm (the same cache and counters).
    """
    metric = bind_judge(metric, lm)

    def run(member: Candidate, done: Callable[[], None] | None) -> list[Prediction]:
        # In prompt order, neighbours share the longest prefixes (the same nearest demos first),
        # which llama.cpp does not decode again; the answers are put back in example order.
        order = list(range(len(examples)))
        if lm.reuses_prompt_prefix:
            order.sort(key=lambda i: _prompt_order(program, member, examples[i]))
        # lm.map holds a future per item until it returns: a chunk at a time keeps that bounded
        # on large holdouts. A chunk is many rounds of the pool, so waiting for the slowest
        # call at its end costs little.
        step = max(CHUNK, 100 * lm.target.concurrency)
        answers: list[Prediction] = []
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            answers += lm.map(lambda i: predict(program, member, lm, examples[i].inputs), chunk, done)
        out: list[Prediction] = [answers[0]] * len(examples) if answers else []
        for i, answer in zip(order, answers, strict=True):
            out[i] = answer
        return out

    if candidate.members:
        last = len(candidate.members) - 1
        answers = [run(m, on_done if i == last else None) for i, m in enumerate(candidate.members)]
        predictions = [combine(program, candidate, list(column)) for column in zip(*answers, strict=True)]
    else:
        predictions = run(candidate, on_done)
    verdicts = [judge_prediction(metric, e, p) for e, p in zip(examples, predictions, strict=True)]
    records = tuple(
        Record(e.id, e.slice, p, v.score, v.feedback, v.field_scores)
        for e, p, v in zip(examples, predictions, verdicts, strict=True)
    )
    return Evaluation(records=records, summaries=summarise_records(records))
