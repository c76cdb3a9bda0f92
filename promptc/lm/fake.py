"""Deterministic fake models, an in-process provider like the embedded model.

LM calls them directly; with PROMPTC_VIA_LITELLM=1 they go through litellm's
custom-provider path instead, the path hosted models take (tests compare the two).
For tests (ours and users'): `target.model: fake/<name>` with any revision
starting with ``fake``. Models:

- ``fake/learner``: answers like the most similar demonstration in the prompt
  (word overlap), so it genuinely learns from demos. With no demos it follows
  label cues in the instructions (``Cues: billing = refund, invoice; ...``): the
  label whose cue words the input shares most; without cues, the first allowed label.
- ``fake/ignorer``: always the first allowed label; demos and instructions never help.

Label scores (``Provider.score_labels``): learner, flaky and ignorer give their generated
answer probability 0.7 and share the rest evenly; biased gives the scores above.

Asked to rewrite an instruction from its mistakes (gepa's reflection prompt), learner,
ignorer and flaky answer with the current instruction plus cues: the cues already in the
prompt, and for each label the feedback says was expected ("expected billing"), the words
of those failures' inputs that no other label's failures use.

Asked to propose an instruction (mipro's proposer prompt), learner, ignorer and
flaky answer with the current instruction plus cues: for each label, the words of
the prompt's examples with that label that no other label's examples use. For
chain-of-thought prompts every answer starts with a ``reasoning:`` line.
- ``fake/biased``: a model with a strong bias to the first allowed label: each label's
  evidence is the number of its cue words (from the instructions) the input contains, and
  its log-probability is that evidence, plus 4 for the first label. Generated answers and
  uncalibrated label scores are therefore mostly the first label; subtracting the bias
  (contextual calibration on content-free inputs finds it) leaves the evidence.
- ``fake/garbled``: answers like ignorer, but its label scores are NaN (an unusable reply).
- ``fake/echo``: replies with the last user message.
- ``fake/flaky``: like learner, but the first attempt of every distinct prompt fails
  with a transient error (exercises retries).
- ``fake/down``: every call fails with a transient error.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import Counter
from typing import Any

from promptc.lm.providers import TransientProviderError
from promptc.prompting.adapter import FORMAT_HEADER, INPUTS_HEADER
from promptc.prompting.grammar import REASONING
from promptc.prompting.prompt_text import (
    CURRENT_INSTRUCTION,
    EXAMPLES_HEADER,
    INSTRUCTION_A,
    MERGER,
    MISTAKE,
    MODEL_ANSWER,
    NO_INSTRUCTION,
    PROPOSER,
    REFLECTOR,
    SECTION_BREAK,
    TIP_PREFIX,
)

REVISION = "fake0000000000000000"
_WORD = re.compile(r"[a-z0-9']+")
CUES = "Cues:"  # how label cues open, in instructions and in the instructions these models propose
TIP = SECTION_BREAK + TIP_PREFIX.rstrip()  # mipro's tip closes the examples section


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _output_names(system: str) -> list[str]:
    fmt = system.split(FORMAT_HEADER, 1)[-1]
    return [m.group(1) for m in re.finditer(r"^(\w+): <", fmt, re.MULTILINE) if m.group(1) != REASONING]


def _first_label(system: str) -> str:
    m = re.search(r"\(one of: ([^,)]+)", system)
    return m.group(1).strip() if m else "unknown"


class FakeProvider:
    """The provider behind ``fake/...`` models."""

    supports_grammar = True  # accepted and ignored: the fake models answer in the format anyway
    supports_label_scores = True

    def __init__(self) -> None:
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def revision(self, model: str) -> str:
        """Every fake model has the same fixed revision."""
        return REVISION

    def complete(
        self, model: str, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> tuple[str, int, int]:
        """A deterministic reply; token counts are word counts."""
        if model == "down":
            raise TransientProviderError("fake/down is unavailable")
        if model == "flaky":
            key = hashlib.sha256(repr(messages).encode()).hexdigest()
            with self._lock:
                self._attempts[key] = self._attempts.get(key, 0) + 1
                first = self._attempts[key] == 1
            if first:
                raise TransientProviderError("fake/flaky failed its first attempt")
        system = messages[0]["content"] if messages[0]["role"] == "system" else ""
        if model == "echo":
            text = messages[-1]["content"]
        elif model in ("learner", "flaky", "ignorer") and system in (REFLECTOR, MERGER):
            text = _reflect(messages[-1]["content"])
        elif model in ("learner", "flaky", "ignorer") and PROPOSER in system:
            text = _propose(messages[-1]["content"])
        elif model in ("learner", "flaky"):
            text = _nearest_demo(messages) or _zero_shot(messages, follow_cues=True)
        elif model in ("ignorer", "garbled"):
            text = _zero_shot(messages, follow_cues=False)
        elif model == "biased":
            scores = _biased_scores(messages)
            label = max(scores, key=lambda k: scores[k])
            text = "\n".join(f"{name}: {label}" for name in _output_names(system) or ["answer"])
        else:
            raise ValueError(
                f"unknown fake model {model!r} (learner, ignorer, biased, garbled, echo, flaky, down)"
            )
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return text, prompt_tokens, len(text.split())

    def score_labels(
        self, model: str, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> tuple[dict[str, float], int]:
        """Log-probabilities of each label as the answer (see the module docstring)."""
        labels = [str(label) for label in params["score_labels"]]
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        if model == "biased":
            scores = _biased_scores(messages)
            return {label: scores.get(label, -10.0) for label in labels}, prompt_tokens
        if model == "garbled":
            return {label: math.nan for label in labels}, prompt_tokens
        text, _, _ = self.complete(model, messages, {})
        answer = text.strip().splitlines()[-1].split(": ", 1)[-1].strip() if text.strip() else ""
        rest = math.log(0.3 / max(1, len(labels) - 1))
        return {label: math.log(0.7) if label == answer else rest for label in labels}, prompt_tokens


def _biased_scores(messages: list[dict[str, str]]) -> dict[str, float]:
    """fake/biased: cue-word evidence per label, plus a bias of 4 for the first label."""
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    labels = _labels(system)
    instructions = system.split("\n\n" + INPUTS_HEADER, 1)[0]
    cues = {m.group(1): _words(m.group(2)) for m in _CUE.finditer(instructions)}
    query = _words(messages[-1]["content"])
    return {
        label: float(len(query & cues.get(label, set()))) + (4.0 if i == 0 else 0.0)
        for i, label in enumerate(labels)
    }


_REWRITTEN = re.compile(f"(?:{re.escape(CURRENT_INSTRUCTION)}|{re.escape(INSTRUCTION_A)})(.*)")
_MISTAKE = re.compile("\n" + re.escape(MISTAKE.split("{n}")[0]) + r"\d+ ")
_CUE = re.compile(r"([\w-]+) = ([\w' -]+(?:, [\w' -]+)*)")


def _chain_of_thought(system: str) -> bool:
    return f"\n{REASONING}: <" in system.split(FORMAT_HEADER, 1)[-1]


def _answer(system: str, reasoning: str, lines: list[str]) -> str:
    return "\n".join(([f"{REASONING}: {reasoning}"] if _chain_of_thought(system) else []) + lines)


def _labels(system: str) -> list[str]:
    m = re.search(r"\(one of: ([^)]*)\)", system)
    return [label.strip() for label in m.group(1).split(",")] if m else []


def _zero_shot(messages: list[dict[str, str]], *, follow_cues: bool) -> str:
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    names = _output_names(system) or ["answer"]
    label, why = _first_label(system), "nothing in the input points to a particular answer"
    if follow_cues:
        instructions = system.split("\n\n" + INPUTS_HEADER, 1)[0]
        cues = {
            m.group(1): _words(m.group(2))
            for m in _CUE.finditer(instructions)
            if m.group(1) in _labels(system)
        }
        query = _words(messages[-1]["content"])
        hits = sorted(
            ((len(query & words), -i, name) for i, (name, words) in enumerate(cues.items())), reverse=True
        )
        if hits and hits[0][0] > 0:
            label = hits[0][2]
            why = "it mentions " + ", ".join(sorted(query & cues[label]))
    return _answer(system, why, [f"{name}: {label}" for name in names])


def _nearest_demo(messages: list[dict[str, str]]) -> str | None:
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    turns = [m for m in messages if m["role"] != "system"]
    query = _words(turns[-1]["content"])
    best: tuple[float, int] | None = None
    answer, shared = None, set[str]()
    for i in range(0, len(turns) - 1, 2):
        if turns[i]["role"] != "user" or turns[i + 1]["role"] != "assistant":
            continue
        demo = _words(turns[i]["content"])
        score = len(query & demo) / (len(query | demo) or 1)
        if best is None or (score, -i) > best:
            best, answer, shared = (score, -i), turns[i + 1]["content"], query & demo
    if answer is None:
        return None
    lines = [line for line in answer.splitlines() if not line.startswith(f"{REASONING}:")]
    words = ", ".join(sorted(shared)[:4]) or "nothing"
    return _answer(system, f"it shares {words} with a worked example", lines)


def _propose(prompt: str) -> str:
    """An instruction: the current one plus, per label, the words only that label's examples use."""
    current = prompt.split(CURRENT_INSTRUCTION, 1)[-1].split("\n\n", 1)[0].strip()
    current = "" if current == NO_INSTRUCTION else current + " "
    examples = prompt.split(EXAMPLES_HEADER, 1)[-1].split(TIP, 1)[0] if EXAMPLES_HEADER in prompt else ""
    words: dict[str, Counter[str]] = {}
    for block in examples.split("\n\n"):
        lines = block.strip().splitlines()
        if len(lines) < 2 or ": " not in lines[-1]:
            continue
        label = lines[-1].split(": ", 1)[1].strip()
        for line in lines[:-1]:
            words.setdefault(label, Counter()).update(_WORD.findall(line.split(": ", 1)[-1].lower()))
    cues = []
    for label, counts in words.items():
        others = set().union(*(set(c) for other, c in words.items() if other != label))
        own = sorted((w for w in counts if w not in others), key=lambda w: (-counts[w], w))[:8]
        if own:
            cues.append(f"{label} = {', '.join(own)}")
    return f"instruction: {current}{CUES} {'; '.join(cues)}." if cues else f"instruction: {current}"


def _reflect(prompt: str) -> str:
    """gepa's rewrite: the instruction without its cues, then old cues merged with feedback cues."""
    labels = _labels(prompt)
    head = _REWRITTEN.search(prompt)
    base = head.group(1).split(f" {CUES} ", 1)[0].strip() if head else ""
    base = "" if base == NO_INSTRUCTION else base
    cues: dict[str, list[str]] = {label: [] for label in labels}
    for m in _CUE.finditer(prompt):
        if m.group(1) in cues:
            cues[m.group(1)] += [w for w in m.group(2).split(", ") if w not in cues[m.group(1)]]
    failed: dict[str, Counter[str]] = {}
    for block in _MISTAKE.split(prompt)[1:]:
        expected = re.search(r"expected (\S+?)[,;]", block)
        if expected is None or expected.group(1) not in cues:
            continue
        text = block.split("\n", 1)[-1].split(MODEL_ANSWER, 1)[0]
        words = _WORD.findall(text.split(": ", 1)[-1].lower())
        failed.setdefault(expected.group(1), Counter()).update(words)
    for label, counts in failed.items():
        others = set().union(*(set(c) for other, c in failed.items() if other != label))
        others |= {w for other, ws in cues.items() if other != label for w in ws}
        cues[label] += sorted(
            (w for w in counts if w not in others and w not in cues[label]), key=lambda w: (-counts[w], w)
        )[:8]
    named = [f"{label} = {', '.join(ws)}" for label, ws in cues.items() if ws]
    rest = [label for label, ws in cues.items() if not ws]
    tail = f" Other labels: {', '.join(rest)}." if rest else ""
    return (
        f"instruction: {(base + ' ').lstrip()}{CUES} {'; '.join(named)}.{tail}"
        if named
        else f"instruction: {base}"
    )
