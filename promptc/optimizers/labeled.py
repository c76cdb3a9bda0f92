"""labeled_fewshot: k gold training examples as demos, drawn with the seed.

It makes no model call unless `validate: true` asks for its candidate's score on val.
"""

from __future__ import annotations

from typing import Any

from promptc.optimizers.base import (
    VALIDATE_SETTING,
    CallEstimate,
    CompileInputs,
    CompileResult,
    Search,
    run_search,
    with_defaults,
)
from promptc.optimizers.demos import labeled_set
from promptc.program import Candidate, Program

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"k": {"type": "integer", "minimum": 0, "default": 6}, "validate": VALIDATE_SETTING},
}


def compile_program(inputs: CompileInputs) -> CompileResult:
    """Sample k training examples as demos (scored on val with validate: true)."""
    s = with_defaults(SETTINGS, inputs.settings)

    def search(log: Search) -> None:
        demos = labeled_set(inputs, int(s["k"]))
        candidate = Candidate(inputs.program.signature.instructions, demos)
        log.keep(f"labeled k={len(demos)}", candidate, s["validate"])

    return run_search(inputs, search)


def estimate_calls(
    settings: dict[str, Any], n_train: int, n_val: int, program: Program | None = None
) -> CallEstimate:
    """One validation pass with validate: true, else nothing."""
    s = with_defaults(SETTINGS, settings)
    return CallEstimate(
        stages=(("validation scoring", n_val if s["validate"] else 0),), max_demos=min(int(s["k"]), n_train)
    )
