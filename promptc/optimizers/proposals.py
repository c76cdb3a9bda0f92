"""Asking a model for a new instruction, and what of its reply is kept (mipro, copro, gepa).

Here: the prompt model (`prompt_lm`), the sections the proposal and reflection prompts
share (`task_parts`, `examples_part`, `data_summary`), the proposer's system prompt, reading
the instruction out of a reply (`parse_instruction`), and the hygiene a proposal must pass
before it is scored (`rejection`, `refusals_note`). Each optimizer assembles its own prompt
from these sections; the section texts are constants, so a fake prompt model can find its way.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from promptc.data.load import Example
from promptc.fields import kind_of
from promptc.lm.model import LM
from promptc.optimizers.base import CompileInputs
from promptc.optimizers.demos import labeled_demo
from promptc.optimizers.settings import ModelSpec
from promptc.prompting.adapter import assistant_message, describe_field, user_message
from promptc.prompting.program import Field, Program
from promptc.prompting.prompt_text import (  # the request texts, shared with the fake models
    CURRENT_INSTRUCTION,
    DATA_SUMMARY_HEADER,
    EXAMPLES_HEADER,
    INPUTS_HEADER,
    NO_INSTRUCTION,
    OUTPUTS_HEADER,
    SECTION_BREAK,
    TASK,
)

PROPOSAL_MAX_TOKENS = 160  # "a few sentences"; small local models ramble on when let
MAX_INSTRUCTION_CHARS = 600  # "a few sentences"; longer ones are rambling or cut off by the token cap
COPY_WORDS = 6  # a run of this many words from a training input counts as copying it


def max_tokens(spec: ModelSpec | None) -> int:
    """The longest reply a prompt-model call may get: spec's max_tokens, else PROPOSAL_MAX_TOKENS."""
    return spec.max_tokens if spec is not None and spec.max_tokens is not None else PROPOSAL_MAX_TOKENS


def prompt_lm(inputs: CompileInputs, spec: ModelSpec | None, temperature: float) -> LM:
    """The prompt model: spec's model when given (its revision checked), else the target;
    sampled at temperature, with spec's max_tokens or PROPOSAL_MAX_TOKENS."""
    target = inputs.lm.target
    if spec is not None:
        # Another model: the target's endpoints, key and rate caps are not its (litellm's defaults apply).
        target = dataclasses.replace(
            target,
            model=spec.model,
            revision=spec.revision,
            api_base=None,
            api_key_env=None,
            deployments=(),
            rpm=None,
            tpm=None,
        )
    target = dataclasses.replace(
        target,
        temperature=temperature,
        max_tokens=max_tokens(spec),
    )
    lm = inputs.lm.for_target(target)
    if spec is not None:
        lm.check_revision()
    return lm


def summarise_data(inputs: CompileInputs) -> str:
    """A short description of the training data, computed without a model call."""
    train = inputs.train
    lines = [f"{len(train)} training examples."]
    for f in inputs.program.signature.outputs:
        values = [e.outputs[f.name] for e in train]
        if values:
            lines.append(f"{f.name}: {kind_of(f).summary(values)}")
    for f in inputs.program.signature.inputs:
        if kind_of(f).free_text and train:
            words = [len(str(e.inputs[f.name]).split()) for e in train]
            lines.append(
                f"{f.name}: {sum(words) / len(words):.0f} words on average ({min(words)}-{max(words)})"
            )
    return "\n".join(lines)


def field_list(fields: Sequence[Field]) -> str:
    """Fields as a request lists them, one per line."""
    return "\n".join(f"- {describe_field(f)}" for f in fields)


def task_parts(program: Program, instruction: str) -> list[str]:
    """The sections a request opens with: the task, the current instruction, the fields."""
    return [
        TASK + program.name,
        CURRENT_INSTRUCTION + (instruction or NO_INSTRUCTION),
        INPUTS_HEADER + field_list(program.signature.inputs),
        OUTPUTS_HEADER + field_list(program.signature.outputs),
    ]


def data_summary(inputs: CompileInputs) -> str:
    """The data summary section."""
    return DATA_SUMMARY_HEADER + summarise_data(inputs)


def examples_part(program: Program, shown: Sequence[Example]) -> str:
    """The labeled examples section: each example's user turn, then its gold answer."""
    blocks = [
        user_message(program, e.inputs) + "\n" + assistant_message(program, labeled_demo(e)) for e in shown
    ]
    return EXAMPLES_HEADER + SECTION_BREAK.join(blocks)


def request(system: str, parts: Sequence[str]) -> list[dict[str, str]]:
    """The messages of a request: the system prompt, then the sections as one user message."""
    return [{"role": "system", "content": system}, {"role": "user", "content": SECTION_BREAK.join(parts)}]


def parse_instruction(text: str) -> str:
    """The instruction in a proposal reply, on one line."""
    m = re.search(r"instruction\s*:\s*", text, re.IGNORECASE)
    body = text[m.end() :] if m else text
    return " ".join(body.strip().strip("`\"'").split())


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _runs(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def rejection(inputs: CompileInputs, text: str, kept: list[str]) -> str | None:
    """Why a proposed instruction is unusable, or None when it may be searched.

    Refused: empty; longer than MAX_INSTRUCTION_CHARS; a duplicate (same words) of one kept
    already; one that copies a training input (COPY_WORDS words in a row, or a whole
    shorter input of 4 or more words: training data in the prompt is memorised, not taught);
    and, for enum outputs, one that leaves out a label name (the model must be told them).
    """
    words = _words(text)
    if not words:
        return "empty"
    if len(text) > MAX_INSTRUCTION_CHARS:
        return f"longer than {MAX_INSTRUCTION_CHARS} characters"
    if any(words == _words(k) for k in kept):
        return "duplicate"
    runs, joined = _runs(words, COPY_WORDS), " " + " ".join(words) + " "
    for example in inputs.train:
        for value in example.inputs.values():
            source = _words(str(value))
            if runs & _runs(source, COPY_WORDS) or (
                4 <= len(source) < COPY_WORDS and " " + " ".join(source) + " " in joined
            ):
                return "copies a training input"
    for f in inputs.program.signature.outputs:
        missing = [str(label) for label in f.labels if " " + " ".join(_words(str(label))) + " " not in joined]
        if missing:  # only enum fields have labels
            return "leaves out a label name"
    return None


def refusals_note(rejected: dict[str, int], what: str) -> str:
    """A note counting refused proposals by reason, e.g. "3 of 5 proposed instructions refused: ..."."""
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(rejected.items()))
    return f"{sum(rejected.values())} {what} refused: {reasons}"
