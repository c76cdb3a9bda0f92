"""Label log-probabilities in a reply: read from a hosted reply's token log-probabilities, from
its text when no answer token carries them, and from the JSON an in-process provider returns."""

from __future__ import annotations

import json
import math
from typing import Any

from promptc.errors import ProviderError
from promptc.fields.enum_field import find_label

HOSTED_TOP_LOGPROBS = 20  # the most alternatives OpenAI-compatible APIs return per token
FALLBACK_KEY = "(parsed answer)"  # marks cached label scores taken from the reply's text
FALLBACK_FLOOR = -30.0  # the log-probability given to the labels the reply did not answer

Tokens = list[tuple[str, list[tuple[str, float]]]]


class NoAnswerToken(ProviderError):
    """A hosted reply with log-probabilities that never reached the answer after the prefix."""


def _field(obj: Any, name: str) -> Any:
    """A field of a response part, whether litellm gives it as an object or a dict."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def token_logprobs(response: Any) -> Tokens:
    """(token, [(alternative, logprob), ...]) for each reply token, from a chat response's logprobs."""
    content = _field(_field(response.choices[0], "logprobs") or {}, "content")
    if not content:
        raise ProviderError(
            "the provider returned no token log-probabilities",
            fix="set target.logprobs: false for this model (its enum outputs are then decided by the reply)",
        )
    return [
        (
            str(_field(item, "token") or ""),
            [
                (str(_field(t, "token")), float(_field(t, "logprob")))
                for t in _field(item, "top_logprobs") or []
            ],
        )
        for item in content
    ]


def label_scores_from_tokens(tokens: Tokens, prefix: str, labels: list[str]) -> dict[str, float]:
    """Each label's log-probability, read at the reply token where the answer after prefix starts.

    A hosted API cannot be made to continue after the prefix, so the reply is read as sampled:
    the token where the text after ``prefix`` (e.g. ``category:``) begins carries the top
    alternatives. A label scores the best alternative that starts it (its first token, as
    llama.cpp's scores begin); a label with none among them scores the least likely
    alternative shown, an upper bound on its log-probability. Labels sharing a first token
    share a score, so the first token decides among the others only.
    """
    text = ""
    goal = prefix.strip().lower()
    for token, alternatives in tokens:
        before = text
        text += token
        if goal in before.lower() and before.lower().split(goal, 1)[1].strip() == "" and token.strip():
            if not alternatives:
                raise ProviderError(
                    "the provider returned no alternative tokens (top_logprobs) for the answer",
                    fix="set target.logprobs: false for this model",
                )
            floor = min(lp for _, lp in alternatives)
            scores = {}
            for label in labels:
                fits = [
                    lp
                    for alt, lp in alternatives
                    if alt.strip() and label.lower().startswith(alt.strip().lower())
                ]
                scores[label] = max(fits, default=floor)
            return scores
    raise NoAnswerToken(
        f"the reply never reached an answer after {prefix!r}, so no label could be scored: {text[:120]!r}",
        fix="raise target.max_tokens, or set target.logprobs: false for this model",
    )


def parsed_label_scores(text: str, prefix: str, labels: list[str]) -> dict[str, float]:
    """Label scores from a reply's text when no answer token carries log-probabilities.

    The label the reply names (after the prefix if it appears, else the first label named
    anywhere) scores 0 and the others FALLBACK_FLOOR, so the decision is the parsed answer;
    a reply that names none scores every label alike.
    """
    lowered = text.lower()
    goal = prefix.strip().lower()
    tail = lowered.split(goal, 1)[1] if goal in lowered else lowered
    named = find_label(tail, labels)  # the longest of labels named at the same place (C++ over C)
    if named is None:
        return dict.fromkeys(labels, 0.0)
    return {label: 0.0 if label == named else FALLBACK_FLOOR for label in labels}


def hosted_label_scores(response: Any, text: str, prefix: str, labels: list[str]) -> str:
    """A hosted reply's label scores as the JSON text an in-process provider replies with; scores
    taken from the parsed answer (no answer token) are kept, and marked with FALLBACK_KEY."""
    try:
        scores: dict[str, Any] = label_scores_from_tokens(token_logprobs(response), prefix, labels)
    except NoAnswerToken:  # kept, and marked: the same reply gives the same scores every run
        scores = {**parsed_label_scores(text, prefix, labels), FALLBACK_KEY: True}
    return json.dumps(scores)


def read_label_scores(text: str, labels: list[str]) -> dict[str, float]:
    """The label log-probabilities in a provider's reply; ProviderError when they are not numbers."""
    try:
        raw = json.loads(text)
        logprobs = {label: float(raw[label]) for label in labels}
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError(f"unreadable label scores ({type(exc).__name__}: {exc})") from None
    if not all(math.isfinite(v) or v == -math.inf for v in logprobs.values()):
        raise ProviderError(f"label scores are not numbers: {logprobs}")
    return logprobs
