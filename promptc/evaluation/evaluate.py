"""Run a program over examples: predictions, scores, per-slice summaries with confidence intervals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptc.data.load import Example
from promptc.errors import PromptcError, RuntimeFailure
from promptc.fields import vote_outputs
from promptc.lm.model import LM
from promptc.metrics import Judge, Metric, Verdict, bind_judge
from promptc.prompting.adapter import ParseError, label_field, parse_reply, render_messages
from promptc.prompting.calibration import choose, label_probs
from promptc.prompting.grammar import answer_grammar, reply_schema
from promptc.prompting.program import Candidate, Program
from promptc.results import Evaluation, Prediction, Record, summarise_records

CHUNK = 1000  # examples evaluated per lm.map call, at least


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
