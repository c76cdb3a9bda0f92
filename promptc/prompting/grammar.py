"""The answer grammar and the reply schema, from construction to the decision to send them.

`answer_grammar` writes one GBNF grammar for the whole reply format the prompt shows
(adapter.py), each value's piece written by its field type (promptc.fields): an enum answer is
always one of its labels, a number a number, a str value one line (its end ends the field),
and a json value holds to its JSON Schema (converted by llama.cpp's own converter in local.py,
the only llama_cpp importer), so a mixed signature always parses. `constrains` decides whether
a target gets one: target.constrained, and an in-process provider that honours grammars.
`reply_schema` is the same reply as one JSON object, for hosted models that take a
response_format (lm/hosted.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from promptc.fields import GrammarRules, kind_of
from promptc.fields.base import gbnf_literal
from promptc.lm.providers import provider_for
from promptc.prompting.program import Program

if TYPE_CHECKING:
    from promptc.config.load import Target

REASONING = "reasoning"  # the reply's chain-of-thought section, before the outputs (adapter.py shows it)

_grammars: dict[str, str | None] = {}  # by the signature's outputs and module: json schemas take a while


def answer_grammar(program: Program) -> str | None:
    """A GBNF grammar for the reply format assistant_message shows; None when a json output's
    schema cannot be converted here (llama-cpp-python is not installed)."""
    key = json.dumps([program.module, [f.to_dict() for f in program.signature.outputs]], sort_keys=True)
    if key not in _grammars:
        _grammars[key] = _build(program)
    return _grammars[key]


def _build(program: Program) -> str | None:
    rules = GrammarRules()
    pieces = [
        f"{gbnf_literal(f.name + ': ')} {kind_of(f).grammar(f, rules)}" for f in program.signature.outputs
    ]
    if program.module == "chain_of_thought":
        pieces.insert(0, f"{gbnf_literal(REASONING + ': ')} [^\\n]+")
    if program.signature.outputs and kind_of(program.signature.outputs[-1]).free_text:
        pieces[-1] += ' "\\n"?'  # a line's end closes the reply, so the model stops there
    root = "root ::= " + ' "\\n" '.join(pieces)
    if not rules.schemas:
        return root
    try:
        from promptc.lm.local import schema_gbnf

        return root + "\n" + schema_gbnf(rules.schemas)
    except ImportError:
        return None


def reply_schema(program: Program) -> dict[str, Any] | None:
    """The reply as one JSON object (reasoning first, then each output), for a hosted model's
    response_format; None unless an output is json (labels and numbers read well from text)."""
    outputs = program.signature.outputs
    if not any(kind_of(f).structured for f in outputs):
        return None
    properties = {f.name: kind_of(f).value_schema(f) for f in outputs}
    if program.module == "chain_of_thought":
        properties = {REASONING: {"type": "string"}, **properties}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def constrains(target: Target) -> bool:
    """Whether answer grammars are sent to target: target.constrained, and a provider that honours them."""
    provider = provider_for(target.model) if target.constrained else None
    return provider is not None and provider.supports_grammar
