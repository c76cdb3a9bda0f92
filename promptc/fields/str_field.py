"""str: free text on one line, so the grammar can end the field at the line's end."""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable
from typing import Any

from promptc.fields.base import GrammarRules, Kind, unquote
from promptc.prompting.program import Field


class StrKind(Kind):
    """Free text."""

    default_metric = "token_f1"
    textual = True
    free_text = True

    def describe(self, f: Field) -> str:
        """Nothing: free text needs no note."""
        return ""

    def coerce(self, f: Field, value: Any) -> Any:
        """Text, or a number as written; a boolean, list or object has no one text and is refused."""
        if isinstance(value, str):
            return value
        boolean = isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy's, from Parquet
        if not boolean and isinstance(value, numbers.Real) and math.isfinite(value):
            return str(value)
        kind = "boolean" if boolean else type(value).__name__
        raise ValueError(f"is a {kind} ({str(value)[:60]}), not text")

    def coerce_gold(self, f: Field, value: Any) -> Any:
        """Text, or a list of the texts that each count as right (SQuAD's several answers; the
        text metrics score against the best of them, and a demo shows the first)."""
        if not isinstance(value, list):
            return self.coerce(f, value)
        answers = list(dict.fromkeys(self.coerce(f, v) for v in value))
        if not answers:
            raise ValueError("is an empty list (give one answer, or a list of the answers that count)")
        return answers

    def show(self, value: Any) -> str:
        """The text (the first answer of a gold list)."""
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return str(value[0])
        return super().show(value)

    def parse(self, f: Field, text: str, constrained: bool = False) -> Any:
        """The text, without surrounding quotes."""
        return unquote(text)

    def value_schema(self, f: Field) -> dict[str, Any]:
        """A string."""
        return {"type": "string"}

    def grammar(self, f: Field, rules: GrammarRules) -> str:
        """One line of text: the line's end ends the field."""
        return "[^\\n]+"

    def key(self, value: Any) -> Hashable:
        """The words, ignoring case: the same answer however it is spaced or capitalised."""
        return " ".join(str(value).split()).casefold()


KIND = StrKind()
