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

from promptc.optimizers.base import CallEstimate, CompileInputs, CompileResult, Search, run_search
from promptc.optimizers.demos import bootstrapped_sets, labeled_set, trace_pool, traced_count
from promptc.optimizers.settings import RandomSearchSettings
from promptc.prompting.program import Candidate, Program


def compile_program(inputs: CompileInputs, s: RandomSearchSettings) -> CompileResult:
    """Score zero-shot, labeled-only and bootstrapped demo sets on val; keep the best."""
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
        labeled = labeled_set(inputs, s.max_labeled_demos)
        score(f"labeled only {len(labeled)}", Candidate(instructions, labeled))
        accepted = trace_pool(inputs, s)
        shuffled = bootstrapped_sets(inputs, accepted, s, s.num_candidate_programs, s.min_bootstrapped_demos)
        for name, demos in shuffled:
            score(name, Candidate(instructions, demos))

    return run_search(inputs, search)


def estimate_calls(
    s: RandomSearchSettings, n_train: int, n_val: int, program: Program | None = None
) -> CallEstimate:
    """One trace per traced example, one validation pass per candidate."""
    candidates = 3 + s.num_candidate_programs
    return CallEstimate(
        stages=(
            ("teacher traces on train", traced_count(s, n_train)),
            (f"validation scoring ({candidates} candidates x {n_val})", candidates * n_val),
        ),
        max_demos=max(s.max_labeled_demos, s.max_bootstrapped_demos),
    )
