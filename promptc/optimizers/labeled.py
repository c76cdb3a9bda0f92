"""labeled_fewshot: k gold training examples as demos, drawn with the seed."""

from __future__ import annotations

from typing import Any

from promptc.optimizers.base import (
    CallEstimate,
    CompileInputs,
    CompileResult,
    Search,
    run_search,
    with_defaults,
)
from promptc.optimizers.bootstrap import labeled_set
from promptc.program import Candidate

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"k": {"type": "integer", "minimum": 0, "default": 6}},
}


def compile_program(inputs: CompileInputs) -> CompileResult:
    """Sample k training examples as demos; score the result on val."""
    k = int(with_defaults(SETTINGS, inputs.settings)["k"])

    def search(log: Search) -> None:
        demos = labeled_set(inputs, k)
        log.score(f"labeled k={len(demos)}", Candidate(inputs.program.signature.instructions, demos))

    return run_search(inputs, search)


def estimate_calls(settings: dict[str, Any], n_train: int, n_val: int) -> CallEstimate:
    """One validation pass."""
    k = int(with_defaults(SETTINGS, settings)["k"])
    return CallEstimate(stages=(("validation scoring", n_val),), max_demos=min(k, n_train))
