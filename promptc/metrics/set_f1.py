"""set_f1: a list output's items against the gold items, as sets of normalised values."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from promptc.metrics.base import Builtin, ValueScorer
from promptc.metrics.values import canonical, f1, items_of, listed
from promptc.metrics.verdict import Verdict, show


def item_set(value: Any) -> dict[Hashable, Any]:
    """Each distinct normalised item, with the first value that gave it (for feedback)."""
    out: dict[Hashable, Any] = {}
    for item in items_of(value):
        out.setdefault(canonical(item), item)
    return out


def set_f1(gold: Any, predicted: Any) -> Verdict:
    """F1 of the predicted items against the gold items; both empty scores 1."""
    expected, answer = item_set(gold), item_set(predicted)
    hits = expected.keys() & answer.keys()
    score = f1(len(hits), len(answer), len(expected))
    if score == 1.0:
        return Verdict(1.0)
    missing = [show(v) for k, v in expected.items() if k not in hits]
    extra = [show(v) for k, v in answer.items() if k not in hits]
    parts = [f"set F1 {score:.2f}"]
    if missing:
        parts.append(f"missing: {listed(missing)}")
    if extra:
        parts.append(f"unexpected: {listed(extra)}")
    return Verdict(score, "; ".join(parts))


def build(settings: Mapping[str, Any]) -> ValueScorer:
    """set_f1 takes no settings."""
    return set_f1


BUILTIN = Builtin(build, "F1 of a list output's items against the gold items, compared as sets")
