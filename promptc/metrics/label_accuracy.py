"""label_accuracy: the fraction of enum outputs whose predicted label is exactly the gold label."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptc.metrics.base import Builtin, ValueScorer
from promptc.metrics.verdict import Verdict, show


def label_accuracy(gold: Any, predicted: Any) -> Verdict:
    """1 when the predicted label is exactly the gold one."""
    if bool(gold == predicted):
        return Verdict(1.0)
    return Verdict(0.0, f"expected {show(gold)}, got {show(predicted)}")


def build(settings: Mapping[str, Any]) -> ValueScorer:
    """label_accuracy takes no settings."""
    return label_accuracy


BUILTIN = Builtin(build, "the fraction of enum outputs with exactly the gold label", frozenset({"enum"}))
