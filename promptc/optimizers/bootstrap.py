"""bootstrap_fewshot: run a teacher over train; keep the traces the metric accepts as demos.

As in DSPy's BootstrapFewShot, the teacher is the program with labeled demos; a
training example is never shown to the teacher while it is being traced. The final
demos are up to `max_bootstrapped_demos` accepted traces, topped up with labeled
examples to `max_labeled_demos`.

Unlike DSPy, the teacher traces exactly `max_traced` training examples (in parallel)
instead of stopping at the first `max_bootstrapped_demos` accepted ones, so the number
of model calls is known before the run (`promptc compile --dry-run`). As in DSPy, the
one candidate is not scored on val unless `validate: true` asks for it.

The demo machinery (teacher traces, demo sets) lives in optimizers/demos.py, shared
with random_search and mipro.
"""

from __future__ import annotations

from promptc.optimizers.base import CallEstimate, CompileInputs, CompileResult, Search, run_search
from promptc.optimizers.demos import demo_set, seeded_order, trace_pool, traced_count
from promptc.optimizers.settings import BootstrapSettings
from promptc.prompting.program import Candidate, Program


def compile_program(inputs: CompileInputs, s: BootstrapSettings) -> CompileResult:
    """Bootstrap demos from teacher traces, top up with labeled ones (scored on val with validate: true)."""

    def search(log: Search) -> None:
        accepted = trace_pool(inputs, s)
        order, rng = seeded_order(inputs)
        demos, n_boot = demo_set(order, accepted, s.max_bootstrapped_demos, s.max_labeled_demos, rng)
        instructions = inputs.program.signature.instructions
        name = f"bootstrap {n_boot}+{len(demos) - n_boot} labeled"
        log.keep(name, Candidate(instructions, demos), s.validate)

    return run_search(inputs, search)


def estimate_calls(
    s: BootstrapSettings, n_train: int, n_val: int, program: Program | None = None
) -> CallEstimate:
    """One teacher call per traced example, then one validation pass with validate: true."""
    return CallEstimate(
        stages=(
            ("teacher traces on train", traced_count(s, n_train)),
            ("validation scoring", n_val if s.validate else 0),
        ),
        max_demos=max(s.max_labeled_demos, s.max_bootstrapped_demos),
    )
