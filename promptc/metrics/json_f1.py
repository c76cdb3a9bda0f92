"""json_f1: an object output against the gold object, field by field.

Both are flattened to (key path, value) pairs: nested keys join with dots, a list's items are
pairs of the list's path (so compared as a set, each item whole), strings are normalised and
numbers compared by value. The score is the micro-F1 over pairs; two empty objects score 1.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from promptc.metrics.base import Builtin, ValueScorer
from promptc.metrics.values import MAX_DEPTH, TOO_DEEP, canonical, f1, key_text, listed
from promptc.metrics.verdict import Verdict, show

Pair = tuple[str, Hashable]


def pairs(value: Any) -> dict[Pair, Any]:
    """The (path, canonical value) pairs of a value, each with the value that gave it."""
    out: dict[Pair, Any] = {}
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    seen: set[int] = set()  # shared or cyclic containers (never in parsed JSON) are read once
    while stack:
        path, node, depth = stack.pop()
        if isinstance(node, Mapping) and (depth > MAX_DEPTH or id(node) in seen):
            out.setdefault((path, TOO_DEEP), node)
        elif isinstance(node, Mapping):
            seen.add(id(node))
            for key, child in list(node.items()):
                stack.append((f"{path}.{key_text(key)}" if path else key_text(key), child, depth + 1))
        elif isinstance(node, list | tuple):
            for item in node:
                out.setdefault((f"{path}[]", canonical(item, depth + 1)), item)
        else:
            out.setdefault((path, canonical(node, depth)), node)
    return out


def _shown(pair: Pair, value: Any) -> str:
    return f"{pair[0] or '(value)'} = {show(value)}"


def json_f1(gold: Any, predicted: Any) -> Verdict:
    """Micro-F1 over (key path, value) pairs."""
    expected, answer = pairs(gold), pairs(predicted)
    hits = expected.keys() & answer.keys()
    score = f1(len(hits), len(answer), len(expected))
    if score == 1.0:
        return Verdict(1.0)
    parts = [f"field F1 {score:.2f}"]
    if isinstance(gold, Mapping) and not isinstance(predicted, Mapping):
        parts.append(f"expected an object, got {type(predicted).__name__}")
    missing = [_shown(k, v) for k, v in expected.items() if k not in hits]
    extra = [_shown(k, v) for k, v in answer.items() if k not in hits]
    if missing:
        parts.append(f"missing {listed(sorted(missing))}")
    if extra:
        parts.append(f"unexpected {listed(sorted(extra))}")
    return Verdict(score, "; ".join(parts))


def build(settings: Mapping[str, Any]) -> ValueScorer:
    """json_f1 takes no settings."""
    return json_f1


BUILTIN = Builtin(build, "micro-F1 over an object's (key path, value) pairs, list items as sets")
