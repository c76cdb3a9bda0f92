"""The contract every field type keeps (FieldKind), and what the types share: GBNF literals,
the rules a value's grammar may reference, and majority votes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptc.prompting.program import Field

REASON_CHARS = 80  # how much of a reply value a parse failure quotes


class FieldKind(Protocol):
    """One field type: how it is described, shown, read, held by the grammar, compared and voted on,
    and the built-in metric (promptc.metrics) that fits its values."""

    default_metric: str
    closed: bool  # its values are a declared set (labels): label scores, balanced demos
    textual: bool  # a value is text (an input of the type is refused when it is not)
    free_text: bool  # a value is free text: it may run to the end of its line
    structured: bool  # a value is a JSON object or list (a hosted reply schema holds it)

    def describe(self, f: Field) -> str:
        """What the prompt says after the field's name and description: its values or type ("" for none)."""
        ...

    def show(self, value: Any) -> str:
        """A value as a demo's reply (and a user turn) writes it, on one line."""
        ...

    def coerce(self, f: Field, value: Any) -> Any:
        """A value from a data file, as the field's type; ValueError with the reason."""
        ...

    def coerce_gold(self, f: Field, value: Any) -> Any:
        """A gold output from a data file (coerce, or for text, a list of the answers that count)."""
        ...

    def parse(self, f: Field, text: str, constrained: bool = False) -> Any:
        """The value in a reply's text for this field; ValueError naming the field and the reason.

        constrained: the reply was held to the answer grammar (promptc.prompting.grammar).
        """
        ...

    def value_schema(self, f: Field) -> dict[str, Any]:
        """The JSON Schema of one value (a hosted model's response_format is built from these)."""
        ...

    def grammar(self, f: Field, rules: GrammarRules) -> str:
        """The GBNF expression of one value in the answer grammar (it may add rules to rules)."""
        ...

    def key(self, value: Any) -> Hashable:
        """What two values are compared by: equal keys, the same answer."""
        ...

    def vote(self, f: Field, values: Sequence[Any]) -> Any:
        """The value an ensemble answers from its members' values (at least one)."""
        ...

    def summary(self, values: Sequence[Any]) -> str:
        """The values of a training split in a few words, for instruction proposals."""
        ...


@dataclass
class GrammarRules:
    """Rules an answer grammar's values reference: JSON Schemas, converted to GBNF together
    (promptc.lm.local.schema_gbnf) so the rules they share are written once."""

    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def schema_rule(self, schema: dict[str, Any]) -> str:
        """The name of the rule a value holding to schema takes (one per distinct schema)."""
        for name, known in self.schemas.items():
            if known == schema:
                return name
        name = f"json-value-{len(self.schemas)}"
        self.schemas[name] = schema
        return name


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching text exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def quoted(text: str) -> str:
    """A reply value as a parse failure quotes it: cut to REASON_CHARS."""
    return repr(text[:REASON_CHARS] + ("..." if len(text) > REASON_CHARS else ""))


def majority(values: Sequence[Any], key: Callable[[Any], Hashable]) -> Any:
    """The most common value by key; a tie goes to the value seen first."""
    keys = [key(v) for v in values]
    counts = Counter(keys)
    best = max(counts.values())
    return next(v for v, k in zip(values, keys, strict=True) if counts[k] == best)


def json_key(value: Any) -> str:
    """A canonical text of a JSON value: equal values, equal keys."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class Kind:
    """Defaults the scalar types share: shown as text, compared as equal values, voted by majority."""

    default_metric = "exact_match"
    closed = False
    textual = False
    free_text = False
    structured = False

    def coerce_gold(self, f: Field, value: Any) -> Any:
        """A gold output is read as any value of the type."""
        return self.coerce(f, value)  # type: ignore[attr-defined]

    def show(self, value: Any) -> str:
        """The value as text (true/false, and JSON for objects and lists, whatever the field's type)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True)
        return str(value)

    def key(self, value: Any) -> Hashable:
        """The value itself."""
        return json_key(value)

    def vote(self, f: Field, values: Sequence[Any]) -> Any:
        """The most common value (ties: the first member's)."""
        return majority(values, self.key)

    def summary(self, values: Sequence[Any]) -> str:
        """Average words per value."""
        words = [len(self.show(v).split()) for v in values]
        return f"{sum(words) / len(words):.0f} words on average" if words else "no values"


def unquote(text: str) -> str:
    """A reply value without surrounding space, quotes and backticks."""
    return text.strip().strip("`\"'").strip()
