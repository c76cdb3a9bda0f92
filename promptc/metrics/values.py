"""How metrics read values: SQuAD text normalisation, numbers, and a hashable canonical form.

Every function here takes any value (None, wrong types, NaN, huge or deeply nested ones) and
never raises: what cannot be read as the expected kind reads as a value that matches nothing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Hashable, Mapping
from typing import Any

from promptc.metrics.verdict import show

MAX_DEPTH = 32  # nesting below this is not compared (a reply is never that deep; junk may be)
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
TOO_DEEP = ("too deep",)


def _light(text: str) -> str:
    """Folded Unicode form and case, punctuation removed, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCTUATION.sub("", folded).split())


def normalise_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, no punctuation, no articles (a, an, the), single spaces.

    A text that is only an article ("A", as in multiple choice) keeps it: it would otherwise
    equal every other article and the empty answer.
    """
    light = _light(text)
    return " ".join(_ARTICLES.sub(" ", light).split()) or light


def as_text(value: Any, depth: int = 0) -> str:
    """A value as answer text: strings as they are, None as empty, lists joined, others by str()."""
    if isinstance(value, str):
        return value
    if value is None or depth > MAX_DEPTH:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(as_text(v, depth + 1) for v in value)
    try:
        return str(value)
    except Exception:  # a huge int or a broken __str__ reads as no text
        return ""


def as_number(value: Any) -> float | None:
    """A finite number from an int, a float or a numeric string; None for anything else (bools too)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str) and len(value) > 100:
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def is_number(value: Any) -> bool:
    """An int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def canonical(value: Any, depth: int = 0) -> Hashable:
    """A hashable form under which equal answers are equal: strings normalised, numbers by value
    (1 == 1.0; infinities and NaN by their repr), mappings by sorted key, lists in order."""
    if depth > MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, str):
        return ("str", normalise_answer(value))
    if value is None or isinstance(value, bool):
        return ("const", value)
    if is_number(value):
        return (
            ("num", value) if not isinstance(value, float) or math.isfinite(value) else ("num", repr(value))
        )
    if isinstance(value, Mapping):
        items = [(key_text(k), canonical(v, depth + 1)) for k, v in list(value.items())]
        return ("map", tuple(sorted(items, key=lambda kv: kv[0])))
    if isinstance(value, list | tuple):
        return ("list", tuple(canonical(v, depth + 1) for v in value))
    return ("str", normalise_answer(as_text(value)))


def key_text(key: Any) -> str:
    """A mapping key as text (JSON keys are strings already)."""
    return key if isinstance(key, str) else show(key)


def items_of(value: Any) -> list[Any]:
    """A list field's items: a list or tuple as it is, None or empty text as none, one value as one item."""
    if isinstance(value, list | tuple):
        return list(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    return [value]


def alternatives(gold: Any) -> list[Any]:
    """The gold answers to take the best over: a list of them, or one."""
    if isinstance(gold, list | tuple):
        return list(gold) or [""]  # no gold answer: the empty answer is right
    return [gold]


def f1(hits: int, n_predicted: int, n_gold: int) -> float:
    """F1 from matches and sizes; 1.0 when both are empty."""
    if n_predicted == 0 and n_gold == 0:
        return 1.0
    return 2 * hits / (n_predicted + n_gold)


def listed(values: list[str], limit: int = 10) -> str:
    """Quoted values, comma-separated, the first `limit` of them."""
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
