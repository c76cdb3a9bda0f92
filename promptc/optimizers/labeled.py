"""labeled_fewshot: k gold training examples as demos, drawn with the seed.

It makes no model call unless `validate: true` asks for its candidate's score on val.
"""

from __future__ import annotations

from promptc.optimizers.base import CallEstimate, CompileInputs, CompileResult, Search, run_search
from promptc.optimizers.demos import labeled_set
from promptc.optimizers.settings import LabeledSettings
from promptc.prompting.program import Candidate, Program


def compile_program(inputs: CompileInputs, s: LabeledSettings) -> CompileResult:
    """Sample k training examples as demos (scored on val with validate: true)."""

    def search(log: Search) -> None:
        demos = labeled_set(inputs, s.k)
        candidate = Candidate(inputs.program.signature.instructions, demos)
        log.keep(f"labeled k={len(demos)}", candidate, s.validate)

    return run_search(inputs, search)


def estimate_calls(
    s: LabeledSettings, n_train: int, n_val: int, program: Program | None = None
) -> CallEstimate:
    """One validation pass with validate: true, else nothing."""
    return CallEstimate(
        stages=(("validation scoring", n_val if s.validate else 0),), max_demos=min(s.k, n_train)
    )
