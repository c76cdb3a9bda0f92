"""The inputs of one call to a compiled program, checked and converted in one place, so that
`promptc run` and `promptc.load(...)(**inputs)` refuse the same mistakes with the same errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptc.data.load import coerce_value
from promptc.errors import BadInput
from promptc.fields import kind_of
from promptc.prompting.program import Signature

HOW = "--input NAME=VALUE on the command line, NAME=value keyword arguments in Python"


def parse_input_options(items: Iterable[str]) -> dict[str, str]:
    """`--input NAME=VALUE` options as a dict; a malformed item or a repeated name is refused."""
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadInput(
                f"--input {item!r} is not NAME=VALUE", fix="write e.g. --input ticket='my order is late'"
            )
        name = name.strip()
        if name in values:
            raise BadInput(
                f"--input {name} is given twice ({values[name]!r} and {value!r})",
                fix=f"pass --input {name}=VALUE once",
            )
        values[name] = value
    return values


def _is_text(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def check_inputs(signature: Signature, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs converted to their fields' types, in the signature's order; a missing or
    unknown name, or a value that is not of its field's type, is refused (BadInput)."""
    names = [f.name for f in signature.inputs]
    missing = [name for name in names if name not in inputs]
    unknown = sorted(str(name) for name in inputs if name not in names)
    if missing or unknown:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else []
        )
        raise BadInput(
            f"inputs: {'; '.join(problems)} (the program takes {', '.join(names)})",
            fix=f"give a value for each of {', '.join(names)} ({HOW})",
        )
    values = {}
    for f in signature.inputs:
        value = inputs[f.name]
        # str() of a list, dict or bool is a Python repr, not text the program was compiled on.
        if kind_of(f).textual and value is not None and not _is_text(value):
            raise BadInput(
                f"input {f.name}: a {type(value).__name__} is not a {f.type} value ({value!r})",
                fix=f"pass {f.name} as text",
            )
        try:
            values[f.name] = coerce_value(f, value)
        except (ValueError, TypeError) as exc:
            raise BadInput(
                f"input {f.name}: {exc}", fix=f"pass a {f.type} value for {f.name} ({HOW})"
            ) from None
    return values
