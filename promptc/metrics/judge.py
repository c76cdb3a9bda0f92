"""A judge metric: a pinned model scores each reply against a rubric on a whole-number scale.

The judge is a model like the target: called through promptc.lm.model.LM (the same call cache, caps,
retries and counters), at temperature 0, its exact revision checked (a hosted judge's reported
model on every fresh reply, an embedded judge's file hash before any call). Its reply is a reason
and a score, held to that shape by a GBNF grammar on the embedded models and by a response_format
where a hosted provider takes one. The score is normalised to [0, 1] and the reason, cut short,
is the feedback. A reply that cannot be read is a miss with a reason, and is never cached.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptc.errors import RevisionDrift
from promptc.fields.base import gbnf_literal
from promptc.metrics.spec import JudgeSpec
from promptc.metrics.verdict import Verdict, show

if TYPE_CHECKING:
    from promptc.config.load import Target
    from promptc.lm.model import LM
    from promptc.metrics.verdict import Metric

Outputs = dict[str, Any]
JUDGE_KEY = "metric.judge"  # where the config names the judge, for messages
MAX_REASON_CHARS = 500  # the judge's reason kept as feedback
GRAMMAR_REASON_CHARS = 300  # the reason an embedded judge may write (about 75 tokens)
SHOWN_VALUE_CHARS = 4000  # a value shown to the judge is cut to this

SYSTEM = (
    "You grade a program's reply against a rubric. Read the rubric, the program's inputs, the "
    "reference answer if one is given, and the reply. Answer in exactly two lines:\n"
    "reason: <why, in one sentence>\n"
    "score: <a whole number from {low} (worst) to {high} (best)>"
)


class UnreadableReply(Exception):
    """A judge's reply without a score on its scale; never cached."""

    def __init__(self, why: str, text: str) -> None:
        super().__init__(why)
        self.why, self.text = why, text


@dataclass(frozen=True)
class JudgeReply:
    """What the judge said: its score on its own scale (None when unreadable) and why."""

    score: int | None
    reason: str

    def verdict(self, scale: tuple[int, int]) -> Verdict:
        """The score normalised to [0, 1] (an unreadable reply: 0), with the reason as feedback."""
        low, high = scale
        if self.score is None:
            return Verdict(0.0, self.reason)
        feedback = f"judge: {self.score} of {low}-{high}: {self.reason}"
        return Verdict((self.score - low) / (high - low), feedback)


def judge_target(spec: JudgeSpec) -> Target:
    """The judge as a target model: temperature 0, replies held to the score format where possible."""
    from promptc.config.load import Target

    return Target(
        model=spec.model,
        revision=spec.revision,
        temperature=0.0,
        max_tokens=spec.max_tokens,
        concurrency=1,
        api_base=spec.api_base,
        api_key_env=spec.api_key_env,
    )


def score_grammar(scale: tuple[int, int]) -> str:
    """GBNF for the judge's reply: one line of reason, then a score on the scale."""
    scores = " | ".join(gbnf_literal(str(s)) for s in range(scale[1], scale[0] - 1, -1))
    reason = f"[^\\n]{{1,{GRAMMAR_REASON_CHARS}}}"  # bounded, so the score comes before max_tokens
    return f"root ::= {gbnf_literal('reason: ')} {reason} {gbnf_literal(chr(10) + 'score: ')} ({scores})"


def score_schema(scale: tuple[int, int]) -> dict[str, Any]:
    """The judge's reply as a JSON object, for a hosted provider's response_format."""
    return {
        "type": "object",
        "properties": {
            "reason": {"type": "string"},
            "score": {"type": "integer", "enum": list(range(scale[0], scale[1] + 1))},
        },
        "required": ["reason", "score"],
        "additionalProperties": False,
    }


def _shown(values: dict[str, Any] | None) -> str:
    lines = []
    for name, value in (values or {}).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        lines.append(f"{name}: {text[:SHOWN_VALUE_CHARS]}")
    return "\n".join(lines) or "(none)"


def judge_messages(
    spec: JudgeSpec, inputs: dict[str, Any], gold: dict[str, Any] | None, predicted: dict[str, Any]
) -> list[dict[str, str]]:
    """The judge's prompt: the rubric, the inputs, the reference answer (when given), the reply."""
    low, high = spec.scale
    parts = [f"Rubric:\n{spec.rubric.strip()}", f"Inputs:\n{_shown(inputs)}"]
    reference = {k: v for k, v in (gold or {}).items() if v is not None}
    if reference:
        parts.append(f"Reference answer:\n{_shown(reference)}")
    parts.append(f"Reply to grade:\n{_shown(predicted)}")
    return [
        {"role": "system", "content": SYSTEM.format(low=low, high=high)},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
SCORE_LINE = re.compile(r"^\W*score\W*?[:=][*_\s]*(-?\d+(?:\.\d+)?)\s*(?:/\s*\d+)?\W*$", re.I | re.M)
REASON_LINE = re.compile(r"^\W*reason\W*:\s*(.*)$", re.I | re.M)


def read_reply(text: str, scale: tuple[int, int]) -> JudgeReply:
    """The judge's score and reason from its reply (two lines, or the JSON object of score_schema);
    raises UnreadableReply naming what is wrong."""
    body = FENCE.sub("", text.strip())
    if body.startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            raise UnreadableReply("not valid JSON", text) from None
        if not isinstance(data, dict) or "score" not in data:
            raise UnreadableReply("no score", text)
        value: Any = data["score"]
        reason = str(data.get("reason") or "")
    else:
        found = SCORE_LINE.findall(body)
        if not found:
            raise UnreadableReply("no `score:` line", text)
        value = float(found[-1])
        match = REASON_LINE.search(body)
        reason = match.group(1) if match else SCORE_LINE.sub("", body)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise UnreadableReply(f"the score {show(value)} is not a whole number", text)
    score = int(value)
    if not scale[0] <= score <= scale[1]:
        raise UnreadableReply(f"the score {score} is outside the scale {scale[0]}-{scale[1]}", text)
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return JudgeReply(score, reason or "(no reason given)")


@dataclass(frozen=True)
class Judge:
    """The judge metric; lm is the judge's own LM (from bind), sharing the target's cache and counters."""

    spec: JudgeSpec
    lm: LM | None = None

    def bind(self, lm: LM) -> Judge:
        """This judge calling its model beside lm (same cache, caps, counters); its revision checked."""
        judge_lm = lm.for_target(judge_target(self.spec))
        judge_lm.check_revision(JUDGE_KEY)
        return Judge(self.spec, judge_lm)

    def __call__(self, gold: dict[str, Any], predicted: dict[str, Any]) -> Verdict:
        """The judge's verdict without the inputs (evaluate passes them: see judge)."""
        return self.judge({}, gold, predicted)

    def judge(self, inputs: dict[str, Any], gold: Outputs | None, predicted: Outputs) -> Verdict:
        """The judge's verdict on a reply to inputs, against gold where the example has one."""
        return self.ask(inputs, gold, predicted).verdict(self.spec.scale)

    def ask(self, inputs: dict[str, Any], gold: Outputs | None, predicted: Outputs) -> JudgeReply:
        """One judge call (cached): its score on its scale and its reason."""
        if self.lm is None:
            raise RuntimeError("the judge was not given a model to call (Judge.bind)")
        scale = self.spec.scale
        messages = judge_messages(self.spec, inputs, gold, predicted)
        try:
            completion = self.lm.complete(
                messages,
                grammar=score_grammar(scale),
                schema=score_schema(scale),
                check=lambda text: read_reply(text, scale),
            )
        except UnreadableReply as exc:
            return JudgeReply(None, f"the judge's reply could not be read ({exc.why}): {show(exc.text)}")
        except RevisionDrift as exc:  # name the judge's keys, not the target's
            key = f"{JUDGE_KEY}.revision"
            raise RevisionDrift(
                f"{JUDGE_KEY}: {exc.message.replace('target.revision', key)}",
                fix=(exc.fix or "")
                .replace("target.revision", key)
                .replace("target.model", f"{JUDGE_KEY}.model"),
            ) from None
        return read_reply(completion.text, scale)


def bind_judge(metric: Metric, lm: LM) -> Metric:
    """metric, with a judge not yet given a model bound beside lm (see Judge.bind)."""
    return metric.bind(lm) if isinstance(metric, Judge) and metric.lm is None else metric
