"""random_search: score many demo sets on val and keep the best (DSPy's BootstrapFewShotWithRandomSearch).

Candidates, in order: zero-shot (the configured instructions, no demos); labeled only
(`max_labeled_demos` training examples drawn with the seed); bootstrapped demos in
train order; then `num_candidate_programs` seeded shuffles of train, each taking a
random number (`min_bootstrapped_demos`..`max_bootstrapped_demos`) of accepted teacher
traces, topped up with labeled examples. The teacher traces `max_traced` examples once
and every candidate draws from those traces, so repeated traces cost nothing. Each
candidate is scored on the whole validation split; zero-shot is kept unless a candidate is
significantly better (optimizers/base.py says how), and among those the best wins.
"""

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
from promptc.optimizers.demos import (
    DEMO_SETTINGS,
    bootstrapped_sets,
    labeled_set,
    trace_pool,
    traced_count,
)
from promptc.program import Candidate, Program

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "num_candidate_programs": {"type": "integer", "minimum": 0, "default": 8},
        "min_bootstrapped_demos": {"type": "integer", "minimum": 0, "default": 1},
        **DEMO_SETTINGS,
    },
}


def compile_program(inputs: CompileInputs) -> CompileResult:
    """Score zero-shot, labeled-only and bootstrapped demo sets on val; keep the best."""
    s = with_defaults(SETTINGS, inputs.settings)
    instructions = inputs.program.signature.instructions

    def search(log: Search) -> None:
        # The candidates that need no teacher go first, so a tight budget still leaves a scored one.
        seen: list[Candidate] = []  # candidates hold dicts, so not hashable

        def score(name: str, candidate: Candidate) -> None:
            if candidate not in seen:
                seen.append(candidate)
                log.score(name, candidate)

        seen.append(Candidate(instructions))
        log.score_incumbent("zero-shot", Candidate(instructions))
        labeled = labeled_set(inputs, s["max_labeled_demos"])
        score(f"labeled only {len(labeled)}", Candidate(instructions, labeled))
        accepted = trace_pool(inputs, s)
        for name, demos in bootstrapped_sets(inputs, accepted, s, s["num_candidate_programs"]):
            score(name, Candidate(instructions, demos))

    return run_search(inputs, search)


def estimate_calls(
    settings: dict[str, Any], n_train: int, n_val: int, program: Program | None = None
) -> CallEstimate:
    """One trace per traced example, one validation pass per candidate."""
    s = with_defaults(SETTINGS, settings)
    candidates = 3 + int(s["num_candidate_programs"])
    return CallEstimate(
        stages=(
            ("teacher traces on train", traced_count(s, n_train)),
            (f"validation scoring ({candidates} candidates x {n_val})", candidates * n_val),
        ),
        max_demos=max(s["max_labeled_demos"], s["max_bootstrapped_demos"]),
    )
