"""enum: one of the field's labels, matched ignoring case; the longest label wins a tie."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

from promptc.fields.base import GrammarRules, Kind, gbnf_literal, quoted, unquote
from promptc.prompting.program import Field

# A label is named where no letter or digit runs on either side of it ("C" is not named in
# "Cobol", and is in "C++"; "C++" is named in "C++." and "C++ code").
_BEFORE, _AFTER = r"(?<![^\W_])", r"(?![^\W_])"


def find_label(text: str, labels: Sequence[str]) -> str | None:
    """The label text names first; of labels named at the same place, the longest (C++ over C,
    "not sure" over "not"); None when it names none."""
    lowered = text.lower()
    hits = []
    for label in labels:
        m = re.search(_BEFORE + re.escape(str(label).lower()) + _AFTER, lowered)
        if m:
            hits.append((m.start(), -len(str(label)), str(label)))
    return min(hits)[2] if hits else None


class EnumKind(Kind):
    """One of the field's labels."""

    default_metric = "label_accuracy"
    closed = True
    textual = True

    def describe(self, f: Field) -> str:
        """The labels."""
        return f"(one of: {', '.join(f.labels)})"

    def coerce(self, f: Field, value: Any) -> Any:
        """The label the value spells, ignoring case and surrounding space."""
        text = str(value).strip()
        for label in f.labels:
            if text.lower() == label.lower():
                return label
        raise ValueError(f"{text!r} is not one of the labels {', '.join(f.labels)}")

    def parse(self, f: Field, text: str, constrained: bool = False) -> Any:
        """The label the reply spells; else, under the grammar, the one label a cut-short reply
        starts; else the label the reply names first (the longest at a tie)."""
        value = unquote(text)
        folded = value.lower().strip(" .!")
        for label in f.labels:
            if folded == label.lower():
                return label
        # Under the grammar a value cut short by the token cap can only have gone on to the one
        # label it starts.
        started = [label for label in f.labels if folded and label.lower().startswith(folded)]
        if constrained and len(started) == 1:
            return started[0]
        named = find_label(value, f.labels)
        if named is None:
            raise ValueError(f"{f.name}: {quoted(value)} is none of {', '.join(f.labels)}")
        return named

    def value_schema(self, f: Field) -> dict[str, Any]:
        """A string among the labels."""
        return {"type": "string", "enum": list(f.labels)}

    def grammar(self, f: Field, rules: GrammarRules) -> str:
        """The labels as alternatives."""
        return "(" + " | ".join(gbnf_literal(str(label)) for label in f.labels) + ")"

    def key(self, value: Any) -> Hashable:
        """The label."""
        return str(value)

    def summary(self, values: Sequence[Any]) -> str:
        """How often each label is the answer."""
        return ", ".join(f"{value} {n}" for value, n in Counter(str(v) for v in values).most_common())


KIND = EnumKind()
