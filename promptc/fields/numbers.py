"""int and float: a number in the reply; a whole number for int."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from promptc.fields.base import GrammarRules, Kind, quoted, unquote
from promptc.prompting.program import Field

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def first_number(f: Field, text: str) -> float:
    """The first number in a reply value; ValueError when there is none or it is not finite."""
    value = unquote(text)
    m = _NUMBER.search(value)
    if not m:
        raise ValueError(f"{f.name}: no number in {quoted(value)}")
    number = float(m.group())
    if not math.isfinite(number):
        raise ValueError(f"{f.name}: {quoted(m.group())} is too large")
    return number


class NumberKind(Kind):
    """What int and float share: described by type, summarised by range."""

    default_metric = "numeric"

    type_name = "float"
    gbnf = '"-"? [0-9]+ ("." [0-9]+)?'

    def describe(self, f: Field) -> str:
        """The type."""
        return f"({self.type_name})"

    def grammar(self, f: Field, rules: GrammarRules) -> str:
        """Digits, with a sign."""
        return self.gbnf

    def summary(self, values: Sequence[Any]) -> str:
        """The range."""
        return f"from {min(values)} to {max(values)}" if values else "no values"


class FloatKind(NumberKind):
    """A number."""

    def coerce(self, f: Field, value: Any) -> Any:
        """The number the value spells."""
        return float(str(value).strip())

    def parse(self, f: Field, text: str, constrained: bool = False) -> Any:
        """The first number in the reply."""
        return first_number(f, text)

    def value_schema(self, f: Field) -> dict[str, Any]:
        """A number."""
        return {"type": "number"}


class IntKind(NumberKind):
    """A whole number."""

    type_name = "int"
    gbnf = '"-"? [0-9]+'

    def coerce(self, f: Field, value: Any) -> Any:
        """The whole number the value spells (2.0 is 2; 2.5 is refused)."""
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not an integer")
        number = float(str(value).strip())
        if not number.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(number)

    def parse(self, f: Field, text: str, constrained: bool = False) -> Any:
        """The first number in the reply, which must be whole."""
        number = first_number(f, text)
        if not number.is_integer():
            raise ValueError(f"{f.name}: {number:g} is not a whole number")
        return int(number)

    def value_schema(self, f: Field) -> dict[str, Any]:
        """An integer."""
        return {"type": "integer"}


INT = IntKind()
FLOAT = FloatKind()
