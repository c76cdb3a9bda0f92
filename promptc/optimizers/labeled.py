"""labeled_fewshot: k gold training examples as demos, drawn with the seed."""

from __future__ import annotations

import random
from typing import Any

from promptc.optimizers.base import CompileInputs, CompileResult, labeled_demo, score_on_val
from promptc.program import Candidate

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"k": {"type": "integer", "minimum": 0, "default": 6}},
}


def compile_program(inputs: CompileInputs) -> CompileResult:
    """Sample k training examples as demos; score the result on val."""
    k = int(inputs.settings.get("k", 6))
    rng = random.Random(inputs.seed)
    picked = rng.sample(list(inputs.train), min(k, len(inputs.train)))
    candidate = Candidate(
        instructions=inputs.program.signature.instructions,
        demos=tuple(labeled_demo(e) for e in picked),
    )
    trial = score_on_val(inputs, f"labeled k={len(picked)}", candidate)
    return CompileResult(candidate=candidate, trials=(trial,))


def estimate_calls(settings: dict[str, Any], n_train: int, n_val: int) -> int:
    """Model calls this optimizer makes: one validation pass."""
    return n_val
