"""bootstrap_fewshot: run a teacher over train; keep the traces the metric accepts as demos.

As in DSPy's BootstrapFewShot, the teacher is the program with labeled demos;
a training example is never shown to the teacher while it is being traced. The
final demos are up to `max_bootstrapped_demos` accepted traces, topped up with
labeled examples to `max_labeled_demos`.
"""

from __future__ import annotations

import random
from typing import Any

from promptc.evaluate import predict, score_prediction
from promptc.optimizers.base import CompileInputs, CompileResult, labeled_demo, score_on_val
from promptc.program import Candidate, Demo

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_bootstrapped_demos": {"type": "integer", "minimum": 0, "default": 4},
        "max_labeled_demos": {"type": "integer", "minimum": 0, "default": 6},
        "teacher_demos": {"type": "integer", "minimum": 0, "default": 4},
        "max_traced": {"type": "integer", "minimum": 1, "default": 40},
        "metric_threshold": {"type": "number", "default": 1.0},
    },
}


def _settings(raw: dict[str, Any]) -> dict[str, Any]:
    defaults = {k: v["default"] for k, v in SETTINGS["properties"].items()}
    return {**defaults, **raw}


def compile_program(inputs: CompileInputs) -> CompileResult:
    """Bootstrap demos from teacher traces, top up with labeled ones, score on val."""
    s = _settings(inputs.settings)
    rng = random.Random(inputs.seed)
    order = list(inputs.train)
    rng.shuffle(order)
    teacher_pool = order[: s["teacher_demos"] + 1]
    instructions = inputs.program.signature.instructions

    accepted: list[Demo] = []
    traced = order[: s["max_traced"]]
    advance = inputs.reporter.stage("bootstrapping demos on train", len(traced))
    for example in traced:
        if len(accepted) >= s["max_bootstrapped_demos"]:
            break
        teacher = Candidate(
            instructions=instructions,
            demos=tuple(labeled_demo(e) for e in teacher_pool if e.id != example.id)[: s["teacher_demos"]],
        )
        prediction = predict(inputs.program, teacher, inputs.lm, example.inputs)
        advance()
        if prediction.outputs is None:
            continue
        if score_prediction(inputs.metric, example, prediction) >= s["metric_threshold"]:
            accepted.append(
                Demo(
                    inputs=dict(example.inputs),
                    outputs=dict(prediction.outputs),
                    reasoning=prediction.reasoning,
                    source_id=example.id,
                )
            )
    used = {d.source_id for d in accepted}
    rest = [e for e in order if e.id not in used]
    n_labeled = max(0, min(s["max_labeled_demos"] - len(accepted), len(rest)))
    demos = tuple(accepted) + tuple(labeled_demo(e) for e in rng.sample(rest, n_labeled))
    candidate = Candidate(instructions=instructions, demos=demos)
    trial = score_on_val(inputs, f"bootstrap {len(accepted)}+{n_labeled} labeled", candidate)
    return CompileResult(candidate=candidate, trials=(trial,))


def estimate_calls(settings: dict[str, Any], n_train: int, n_val: int) -> int:
    """At most: one teacher call per traced example, then one validation pass."""
    s = _settings(settings)
    return min(int(s["max_traced"]), n_train) + n_val
