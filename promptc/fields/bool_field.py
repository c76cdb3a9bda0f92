"""bool: true or false (yes and no read as such)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from promptc.fields.base import GrammarRules, Kind, quoted, unquote
from promptc.prompting.program import Field


class BoolKind(Kind):
    """true or false."""

    def describe(self, f: Field) -> str:
        """The type."""
        return "(bool)"

    def coerce(self, f: Field, value: Any) -> Any:
        """true/yes/1 or false/no/0."""
        text = str(value).strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise ValueError(f"{value!r} is not a boolean (true/false)")

    def parse(self, f: Field, text: str, constrained: bool = False) -> Any:
        """The first true/false/yes/no in the reply."""
        value = unquote(text)
        m = re.search(r"\b(true|false|yes|no)\b", value.lower())
        if not m:
            raise ValueError(f"{f.name}: {quoted(value)} is not true/false")
        return m.group(1) in ("true", "yes")

    def value_schema(self, f: Field) -> dict[str, Any]:
        """A boolean."""
        return {"type": "boolean"}

    def grammar(self, f: Field, rules: GrammarRules) -> str:
        """true or false."""
        return '("true" | "false")'

    def summary(self, values: Sequence[Any]) -> str:
        """How often each value is the answer."""
        return ", ".join(f"{value} {n}" for value, n in Counter(self.show(v) for v in values).most_common())


KIND = BoolKind()
