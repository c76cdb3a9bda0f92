"""json: a JSON value, described to the model by its schema and validated against it.

A reply in Python-literal quotes ({'a': 1}) is read as the same value; anything else that is
not JSON, or that breaks the schema, is a miss whose reason names the first problem.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Hashable, Sequence
from typing import Any

from promptc.fields.base import GrammarRules, Kind, json_key, majority, quoted, unquote
from promptc.prompting.program import Field

MAX_REPLY_CHARS = 100_000  # a longer value is refused unread (a runaway reply, not an answer)
MAX_DEPTH = 6  # how deep the prompt's description of a schema goes
_OPENERS = {"object": "{", "array": "["}
_validators: dict[str, Any] = {}  # compiled validators, by the schema's canonical text


def schema_problem(schema: Any) -> str | None:
    """Why schema is not a valid JSON Schema (its metaschema's first complaint), or None."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict):
        return "a schema is a mapping"
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"{exc.message}" + (f" (at {where})" if where else "")
    return None


def validation_problem(schema: dict[str, Any], value: Any) -> str | None:
    """The first way value breaks schema (its path and the rule), or None when it holds."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    text = json_key(schema)
    if text not in _validators:
        _validators[text] = validator_for(schema)(schema)
    try:
        error = best_match(_validators[text].iter_errors(value))
    except RecursionError:
        return "nested too deeply to check"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    message = str(error.message)
    message = message if len(message) <= 160 else message[:160] + "..."
    return (f"at {where}: " if where else "") + message


def compact(schema: Any, depth: int = 0) -> str:
    """A schema as the prompt shows it: {"people": [string], "note"?: string} (? marks an optional key)."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return "any"
    if "enum" in schema and isinstance(schema["enum"], list):
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for union in ("anyOf", "oneOf"):
        if isinstance(schema.get(union), list):
            return " | ".join(compact(s, depth + 1) for s in schema[union])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(compact({**schema, "type": k}, depth + 1) for k in kind)
    if isinstance(schema.get("properties"), dict):
        required = set(schema.get("required", []))
        keys = [
            f"{json.dumps(k)}{'' if k in required else '?'}: {compact(v, depth + 1)}"
            for k, v in schema["properties"].items()
        ]
        return "{" + ", ".join(keys) + "}"
    if isinstance(schema.get("items"), dict):
        return f"[{compact(schema['items'], depth + 1)}]"
    if isinstance(kind, str):
        return kind
    if isinstance(schema.get("$ref"), str):
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    return "any"


def _as_json(value: Any) -> Any:
    """A Python literal as the JSON value it spells (tuples as lists); ValueError for anything else."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("keys that are not strings")
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"a {type(value).__name__}")


def unclosed(text: str) -> bool:
    """Whether JSON text ends inside a string or with a bracket left open (a reply cut short)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return False
    return in_string or depth > 0


def decode(f: Field, text: str, opener: str) -> Any:
    """The JSON value starting at the first opener in text (JSON, else a Python literal)."""
    start = text.find(opener)
    if start < 0:
        raise ValueError(f"{f.name}: no JSON {'object' if opener == '{' else 'array'} in {quoted(text)}")
    try:
        return json.JSONDecoder(strict=False).raw_decode(text, start)[0]
    except json.JSONDecodeError as exc:
        cut_short = unclosed(text[start:])
        where = f"{exc.msg} at character {exc.pos - start + 1}"
        reason = (
            "the JSON ends before it is closed (cut short by target.max_tokens?)"
            if cut_short
            else f"invalid JSON ({where})"
        )
    except RecursionError:
        raise ValueError(f"{f.name}: the JSON is nested too deeply") from None
    closer = "}" if opener == "{" else "]"
    end = text.rfind(closer)
    if end > start:
        try:  # Python-literal quotes: the same value, written as a repr
            return _as_json(ast.literal_eval(text[start : end + 1]))
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            pass
    raise ValueError(f"{f.name}: {reason}")


def decode_scalar(f: Field, text: str, kind: str) -> Any:
    """A JSON string, number, boolean or null on its own; for a string, bare text is read as one."""
    body = text.strip("` ")
    try:
        return json.JSONDecoder(strict=False).raw_decode(body)[0]
    except (json.JSONDecodeError, RecursionError):
        if kind == "string":
            return unquote(text)
        raise ValueError(f"{f.name}: no JSON {kind} in {quoted(text)}") from None


def _vote(values: Sequence[Any]) -> Any:
    """Objects key by key (a key kept when most values have it), lists item by item (an item kept
    when most lists hold it), anything else the most common value."""
    half = len(values) / 2
    if all(isinstance(v, dict) for v in values):
        keys = list(dict.fromkeys(k for v in values for k in v))
        return {
            k: _vote([v[k] for v in values if k in v]) for k in keys if sum(k in v for v in values) > half
        }
    if all(isinstance(v, list) for v in values):
        counts: dict[str, int] = {}
        first: dict[str, Any] = {}
        for items in values:
            for key in dict.fromkeys(json_key(item) for item in items):
                counts[key] = counts.get(key, 0) + 1
            for item in items:
                first.setdefault(json_key(item), item)
        return [item for key, item in first.items() if counts[key] > half]
    return majority(values, json_key)


class JsonKind(Kind):
    """A JSON value, held to the field's schema."""

    default_metric = "json_f1"
    structured = True

    def describe(self, f: Field) -> str:
        """The schema, compactly; without one, "a JSON object"."""
        if f.schema is None:
            return "(a JSON object)"
        shown = compact(f.schema)
        optional = "; ? marks an optional key" if '"?:' in shown else ""
        return f"(JSON: {shown}{optional})"

    def coerce(self, f: Field, value: Any) -> Any:
        """A value, or the JSON text of one."""
        return json.loads(value) if isinstance(value, str) else value

    def parse(self, f: Field, text: str, constrained: bool = False) -> Any:
        """The JSON value in the reply, checked against the schema."""
        value = text.strip()
        if len(value) > MAX_REPLY_CHARS:
            raise ValueError(f"{f.name}: a reply of {len(value)} characters (at most {MAX_REPLY_CHARS})")
        kind = self.value_schema(f).get("type")
        if isinstance(kind, str) and kind not in _OPENERS:  # a string, number... on its own
            obj = decode_scalar(f, value, kind)
        else:
            obj = decode(f, value, _OPENERS.get(kind, "{") if isinstance(kind, str) else "{")
        if f.schema is not None:
            problem = validation_problem(f.schema, obj)
            if problem is not None:
                raise ValueError(f"{f.name}: JSON does not match its schema ({problem})")
        return obj

    def value_schema(self, f: Field) -> dict[str, Any]:
        """The field's schema (without one, any object)."""
        return f.schema if f.schema is not None else {"type": "object"}

    def grammar(self, f: Field, rules: GrammarRules) -> str:
        """A rule built from the schema (promptc.lm.local.schema_gbnf)."""
        return rules.schema_rule(self.value_schema(f))

    def key(self, value: Any) -> Hashable:
        """The canonical JSON text."""
        return json_key(value)

    def vote(self, f: Field, values: Sequence[Any]) -> Any:
        """Field by field and item by item (see _vote), unless that breaks the schema: then the
        most common whole value."""
        voted = _vote(values)
        if f.schema is not None and validation_problem(f.schema, voted) is not None:
            return majority(values, json_key)
        return voted


KIND = JsonKind()
