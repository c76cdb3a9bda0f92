"""Render a program + candidate into chat messages; parse and coerce the model's reply.

The reply format shown here is held by the answer grammar of promptc.grammar where a provider
supports grammars.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from promptc.grammar import REASONING
from promptc.program import Candidate, Demo, Field, Program

Message = dict[str, str]
INPUTS_HEADER = "Inputs:\n"  # opens the system message's field list (after the instructions)
FORMAT_HEADER = "Reply in exactly this format:"  # opens the system message's reply format


@dataclass
class ParseError(Exception):
    """The reply could not be read as the signature's outputs; the raw text is kept."""

    raw: str
    expected: tuple[str, ...]
    parsed: dict[str, Any]
    reason: str

    def __str__(self) -> str:
        return self.reason


def describe_field(f: Field) -> str:
    """One field as the prompt lists it: name, description, allowed values or type."""
    text = f"{f.name}"
    if f.description:
        text += f": {f.description}"
    if f.type == "enum":
        text += f" (one of: {', '.join(f.labels)})"
    elif f.type == "json":
        text += " (a JSON object)"
    elif f.type != "str":
        text += f" ({f.type})"
    return text


def system_prompt(program: Program, candidate: Candidate) -> str:
    """The system message: instructions, the fields and the reply format."""
    sig = program.signature
    parts = []
    if candidate.instructions:
        parts.append(candidate.instructions)
    parts.append(INPUTS_HEADER + "\n".join(f"- {describe_field(f)}" for f in sig.inputs))
    parts.append("Outputs:\n" + "\n".join(f"- {describe_field(f)}" for f in sig.outputs))
    fmt = [f"{f.name}: <{f.name}>" for f in sig.outputs]
    if program.module == "chain_of_thought":
        fmt.insert(0, f"{REASONING}: <think step by step in one or two sentences>")
    parts.append(FORMAT_HEADER + "\n" + "\n".join(fmt))
    return "\n\n".join(parts)


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def label_field(program: Program) -> Field | None:
    """The one enum output a label-log-probability decision answers; None for other signatures."""
    outputs = program.signature.outputs
    if program.module == "predict" and len(outputs) == 1 and outputs[0].type == "enum":
        return outputs[0]
    return None


def user_message(program: Program, inputs: dict[str, Any]) -> str:
    """The user turn for one set of inputs."""
    return "\n".join(f"{f.name}: {_format_value(inputs[f.name])}" for f in program.signature.inputs)


def assistant_message(program: Program, demo: Demo) -> str:
    """The assistant turn a demo shows."""
    lines = []
    if program.module == "chain_of_thought" and demo.reasoning:
        lines.append(f"{REASONING}: {demo.reasoning}")
    lines += [f"{f.name}: {_format_value(demo.outputs[f.name])}" for f in program.signature.outputs]
    return "\n".join(lines)


def shown_demos(program: Program, candidate: Candidate, inputs: dict[str, Any]) -> tuple[Demo, ...]:
    """The demos shown with these inputs: the fixed list, or the knn nearest of the pool."""
    if candidate.knn:
        from promptc.retrieval import nearest_demos

        return nearest_demos(program, candidate.demos, inputs, candidate.knn)
    return candidate.demos


def render_messages(program: Program, candidate: Candidate, inputs: dict[str, Any]) -> list[Message]:
    """The exact messages the model receives for these inputs."""
    messages: list[Message] = [{"role": "system", "content": system_prompt(program, candidate)}]
    for demo in shown_demos(program, candidate, inputs):
        messages.append({"role": "user", "content": user_message(program, demo.inputs)})
        messages.append({"role": "assistant", "content": assistant_message(program, demo)})
    messages.append({"role": "user", "content": user_message(program, inputs)})
    return messages


def _sections(text: str, names: list[str]) -> dict[str, str]:
    """Split 'name: value' sections; a value runs until the next known name."""
    pattern = re.compile(
        r"^[\s*#>-]*(" + "|".join(map(re.escape, names)) + r")\s*[:=]\s*", re.IGNORECASE | re.MULTILINE
    )
    found: dict[str, str] = {}
    matches = list(pattern.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = next(n for n in names if n.lower() == m.group(1).lower())
        found.setdefault(name, text[m.end() : end].strip())
    return found


def coerce_output(f: Field, text: str, constrained: bool = False) -> Any:
    """Read one output value of the field's type from the model's text.

    constrained: the reply was held to the answer grammar (promptc.grammar), so an enum value cut short by the
    token cap that starts exactly one label can only have gone on to be that label.
    """
    value = text.strip().strip("`\"'").strip()
    if f.type == "str":
        return value
    if f.type == "enum":
        folded = value.lower().strip(" .!")
        for label in f.labels:
            if folded == label.lower():
                return label
        started = [label for label in f.labels if folded and str(label).lower().startswith(folded)]
        if constrained and len(started) == 1:
            return started[0]
        hits = []
        for label in f.labels:
            m = re.search(r"(?<![a-z0-9])" + re.escape(label.lower()) + r"(?![a-z0-9])", value.lower())
            if m:
                hits.append((m.start(), label))
        if hits:
            return min(hits)[1]
        raise ValueError(f"{f.name}: {value[:60]!r} is none of {', '.join(f.labels)}")
    if f.type in ("int", "float"):
        m = re.search(r"-?\d+(?:\.\d+)?", value)
        if not m:
            raise ValueError(f"{f.name}: no number in {value[:60]!r}")
        number = float(m.group())
        return int(number) if f.type == "int" else number
    if f.type == "bool":
        m = re.search(r"\b(true|false|yes|no)\b", value.lower())
        if not m:
            raise ValueError(f"{f.name}: {value[:60]!r} is not true/false")
        return m.group(1) in ("true", "yes")
    start, end = value.find("{"), value.rfind("}")
    if start < 0 or end < start:
        raise ValueError(f"{f.name}: no JSON object in {value[:60]!r}")
    try:
        obj = json.loads(value[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{f.name}: invalid JSON ({exc.msg})") from None
    if f.schema is not None:
        import jsonschema

        try:
            jsonschema.validate(obj, f.schema)
        except jsonschema.ValidationError as exc:
            raise ValueError(f"{f.name}: JSON does not match its schema ({exc.message})") from None
    return obj


def parse_reply(program: Program, text: str, constrained: bool = False) -> tuple[dict[str, Any], str | None]:
    """The outputs (and reasoning, for chain of thought) in a reply; raises ParseError.

    constrained: the reply was held to promptc.grammar.answer_grammar(program) (see coerce_output).
    """
    outputs = program.signature.outputs
    names = [f.name for f in outputs]
    all_names = [*names, REASONING] if program.module == "chain_of_thought" else names
    sections = _sections(text, all_names)
    if len(outputs) == 1 and names[0] not in sections:
        # Small models often answer with the bare value; accept it for one-field outputs.
        # With a reasoning section, the answer is the reply's last line.
        lines = text.strip().splitlines() or [""]
        sections[names[0]] = lines[-1] if REASONING in sections else text
    parsed: dict[str, Any] = {}
    problems = []
    for f in outputs:
        if f.name not in sections:
            problems.append(f"{f.name}: missing")
            continue
        try:
            parsed[f.name] = coerce_output(f, sections[f.name], constrained)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ParseError(raw=text, expected=tuple(names), parsed=parsed, reason="; ".join(problems))
    return parsed, sections.get(REASONING)
