"""Render a program + candidate into chat messages; parse and coerce the model's reply.

The reply format shown here is held by the answer grammar of promptc.prompting.grammar where a provider
supports grammars.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from promptc.fields import kind_of
from promptc.prompting.grammar import REASONING
from promptc.prompting.program import Candidate, Demo, Field, Program

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
    """One field as the prompt lists it: name, description, and its type's note (promptc.fields)."""
    text = f"{f.name}"
    if f.description:
        text += f": {f.description}"
    note = kind_of(f).describe(f)
    return f"{text} {note}" if note else text


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


def label_field(program: Program) -> Field | None:
    """The one enum output a label-log-probability decision answers; None for other signatures."""
    outputs = program.signature.outputs
    if program.module == "predict" and len(outputs) == 1 and kind_of(outputs[0]).closed:
        return outputs[0]
    return None


def user_message(program: Program, inputs: dict[str, Any]) -> str:
    """The user turn for one set of inputs."""
    return "\n".join(f"{f.name}: {kind_of(f).show(inputs[f.name])}" for f in program.signature.inputs)


def assistant_message(program: Program, demo: Demo) -> str:
    """The assistant turn a demo shows."""
    lines = []
    if program.module == "chain_of_thought" and demo.reasoning:
        lines.append(f"{REASONING}: {demo.reasoning}")
    lines += [f"{f.name}: {kind_of(f).show(demo.outputs[f.name])}" for f in program.signature.outputs]
    return "\n".join(lines)


def shown_demos(program: Program, candidate: Candidate, inputs: dict[str, Any]) -> tuple[Demo, ...]:
    """The demos shown with these inputs: the fixed list, or the knn nearest of the pool."""
    if candidate.knn:
        from promptc.prompting.retrieval import nearest_demos

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
    """Read one output value of the field's type from the model's text (promptc.fields); ValueError.

    constrained: the reply was held to the answer grammar (promptc.prompting.grammar).
    """
    return kind_of(f).parse(f, text, constrained)


def _json_reply(text: str, outputs: tuple[Field, ...], keys: list[str]) -> dict[str, str] | None:
    """The sections of a reply written as one JSON object with every output as a key (a hosted
    model's response_format asks for this), each value as text its field type reads; else None."""
    body = text.strip().removeprefix("```json").strip("`").strip()
    if not body.startswith("{"):
        return None
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not all(f.name in obj for f in outputs):
        return None
    json_fields = {f.name for f in outputs if kind_of(f).structured}
    return {
        k: json.dumps(v, ensure_ascii=False) if k in json_fields or not isinstance(v, str) else v
        for k, v in obj.items()
        if k in keys
    }


def parse_reply(program: Program, text: str, constrained: bool = False) -> tuple[dict[str, Any], str | None]:
    """The outputs (and reasoning, for chain of thought) in a reply; raises ParseError.

    constrained: the reply was held to promptc.prompting.grammar.answer_grammar(program) (see coerce_output).
    """
    outputs = program.signature.outputs
    names = [f.name for f in outputs]
    all_names = [*names, REASONING] if program.module == "chain_of_thought" else names
    sections = _json_reply(text, outputs, all_names) or _sections(text, all_names)
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


def prompt_preview(program: Program, candidate: Candidate) -> list[tuple[str, list[dict[str, str]]]]:
    """The messages the model receives, with each input shown as a {placeholder}: one list per
    ensemble member (titled), else one. Nearest-neighbour demos are shown as the pool's first k."""
    placeholders = {f.name: "{" + f.name + "}" for f in program.signature.inputs}
    members = candidate.members or (candidate,)
    out = []
    for i, member in enumerate(members, 1):
        title = f", member {i} of {len(members)}" if candidate.members else ""
        if member.knn:
            title += f", demos: {member.knn} nearest of the pool per input, here the first"
            member = Candidate(member.instructions, member.demos[: member.knn], member.decision)
        out.append((title, render_messages(program, member, placeholders)))
    return out
