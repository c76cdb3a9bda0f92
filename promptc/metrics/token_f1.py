"""token_f1: SQuAD's token overlap F1 between the answer and the best of its gold answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from promptc.metrics.base import Builtin, ValueScorer
from promptc.metrics.values import alternatives, as_text, f1, listed, normalise_answer
from promptc.metrics.verdict import Verdict, show


def tokens(value: Any) -> list[str]:
    """The normalised answer's words."""
    return normalise_answer(as_text(value)).split()


def token_f1(gold: Any, predicted: Any) -> Verdict:
    """The F1 of shared words (as a multiset) with the gold answer it overlaps most."""
    answer = Counter(tokens(predicted))
    best, best_option, best_gold, best_common = -1.0, None, Counter[str](), Counter[str]()
    for option in alternatives(gold):
        expected = Counter(tokens(option))
        common = answer & expected
        score = f1(sum(common.values()), sum(answer.values()), sum(expected.values()))
        if score > best:
            best, best_option, best_gold, best_common = score, option, expected, common
        if best == 1.0:
            return Verdict(1.0)
    missing = sorted((best_gold - best_common).elements())
    extra = sorted((answer - best_common).elements())
    parts = [f"token F1 {best:.2f} against {show(as_text(best_option)) if best_gold else 'no answer'}"]
    if missing:
        parts.append(f"missing words: {listed([show(t) for t in missing])}")
    if extra:
        parts.append(f"extra words: {listed([show(t) for t in extra])}")
    return Verdict(best, "; ".join(parts))


def build(settings: Mapping[str, Any]) -> ValueScorer:
    """token_f1 takes no settings."""
    return token_f1


BUILTIN = Builtin(build, "SQuAD token F1 against the best of one or several gold answers")
