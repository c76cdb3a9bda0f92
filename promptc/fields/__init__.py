"""Field types, one module each behind one protocol (FieldKind), found through KINDS.

A type owns how a field is described in the prompt, how a value is shown, read from a data
file and from a reply (and validated), its piece of the answer grammar, its JSON Schema (a
hosted model's response_format), and how values are compared and voted on. Adding a type is
one module and a line in KINDS (and its name in the config schema's field types).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptc.fields import bool_field, enum_field, json_field, numbers, str_field
from promptc.fields.base import FieldKind, GrammarRules
from promptc.prompting.program import Field

KINDS: dict[str, FieldKind] = {
    "str": str_field.KIND,
    "enum": enum_field.KIND,
    "int": numbers.INT,
    "float": numbers.FLOAT,
    "bool": bool_field.KIND,
    "json": json_field.KIND,
}

__all__ = ["KINDS", "FieldKind", "GrammarRules", "default_metric", "kind_of", "vote_outputs"]


def kind_of(f: Field) -> FieldKind:
    """The type behind a field."""
    return KINDS[f.type]


def vote_outputs(fields: Sequence[Field], answers: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """An ensemble's outputs from its members' parsed outputs, field by field (None without any)."""
    if not answers:
        return None
    return {f.name: kind_of(f).vote(f, [a[f.name] for a in answers]) for f in fields}


def default_metric(outputs: Sequence[tuple[str, str]]) -> str | dict[str, Any]:
    """The metric config that fits outputs given as (name, type): the type's own metric for one
    output, a per-field composite of them for several."""
    if len(outputs) == 1:
        return KINDS[outputs[0][1]].default_metric
    return {"fields": {name: KINDS[kind].default_metric for name, kind in outputs}}
