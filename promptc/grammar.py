"""The answer grammar, from construction to the decision to send it.

`answer_grammar` writes a GBNF grammar for the reply format the prompt shows (adapter.py), so
that where a provider supports grammars (the embedded llama.cpp models) an enum answer is
always one of its labels and a number is a number. `constrains` decides whether a target gets
one: target.constrained, and an in-process provider that honours grammars. LM.complete sends
the grammar only then; llama.cpp compiles it in local.py, the only llama_cpp importer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptc.program import Program
from promptc.providers import provider_for

if TYPE_CHECKING:
    from promptc.config import Target

REASONING = "reasoning"  # the reply's chain-of-thought section, before the outputs (adapter.py shows it)

# Value rules of the answer grammar, by field type. str and json values are free text, so a
# signature with such an output gets no grammar.
_VALUE_RULES = {
    "bool": '("true" | "false")',
    "int": '"-"? [0-9]+',
    "float": '"-"? [0-9]+ ("." [0-9]+)?',
}


def _gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def answer_grammar(program: Program) -> str | None:
    """A GBNF grammar for the reply format assistant_message shows, or None when it cannot be closed."""
    rules = []
    for f in program.signature.outputs:
        if f.type == "enum":
            value = "(" + " | ".join(_gbnf_literal(str(label)) for label in f.labels) + ")"
        elif f.type in _VALUE_RULES:
            value = _VALUE_RULES[f.type]
        else:
            return None
        rules.append(f"{_gbnf_literal(f.name + ': ')} {value}")
    if program.module == "chain_of_thought":
        rules.insert(0, f"{_gbnf_literal(REASONING + ': ')} [^\\n]+")
    return "root ::= " + ' "\\n" '.join(rules)


def constrains(target: Target) -> bool:
    """Whether answer grammars are sent to target: target.constrained, and a provider that honours them."""
    provider = provider_for(target.model) if target.constrained else None
    return provider is not None and provider.supports_grammar
