"""exact_match: the answer equals a gold answer after SQuAD normalisation; 1 or 0."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptc.metrics.base import Builtin, ValueScorer
from promptc.metrics.values import alternatives, as_text, canonical, is_number, normalise_answer
from promptc.metrics.verdict import Verdict, show


def same_answer(gold: Any, predicted: Any) -> bool:
    """Numbers by value, lists and objects by their canonical form, anything else as normalised text."""
    if is_number(gold) and is_number(predicted):
        return bool(gold == predicted)
    if isinstance(gold, list | tuple | Mapping) or isinstance(predicted, list | tuple | Mapping):
        return canonical(gold) == canonical(predicted)
    return normalise_answer(as_text(gold)) == normalise_answer(as_text(predicted))


def exact_match(gold: Any, predicted: Any) -> Verdict:
    """1 when the prediction equals the gold value, or one of a list of gold answers."""
    # A list prediction is a list field's value: compared whole. Otherwise a gold list is the
    # answers that count as right.
    options = [gold] if isinstance(predicted, list | tuple) else alternatives(gold)
    if any(same_answer(option, predicted) for option in options):
        return Verdict(1.0)
    expected = show(gold) if len(options) == 1 else "one of " + show(gold)
    return Verdict(0.0, f"expected {expected}, got {show(predicted)}")


def build(settings: Mapping[str, Any]) -> ValueScorer:
    """exact_match takes no settings."""
    return exact_match


BUILTIN = Builtin(
    build,
    "1 when every output equals its gold answer (or one of a list of them) after SQuAD normalisation",
    all_or_nothing=True,
)
