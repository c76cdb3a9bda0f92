"""The optimizer contract: a pure compile(inputs) -> CompileResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptc.data import Example
from promptc.evaluate import evaluate
from promptc.lm import LM
from promptc.metrics import Metric
from promptc.program import Candidate, Demo, Program
from promptc.progress import Reporter, Silent


@dataclass(frozen=True)
class CompileInputs:
    """Everything an optimizer may use. Randomness comes only from seed."""

    program: Program
    train: tuple[Example, ...]
    val: tuple[Example, ...]
    metric: Metric
    lm: LM
    seed: int
    settings: dict[str, Any]
    reporter: Reporter = field(default_factory=Silent)


@dataclass(frozen=True)
class Trial:
    """One candidate the optimizer scored on the validation split."""

    name: str
    candidate: Candidate
    val_score: float
    calls: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the artifact's trial log."""
        return {
            "name": self.name,
            "val_score": self.val_score,
            "calls": self.calls,
            "demo_ids": [d.source_id for d in self.candidate.demos],
        }


@dataclass(frozen=True)
class CompileResult:
    """The chosen candidate and every trial that led to it."""

    candidate: Candidate
    trials: tuple[Trial, ...]

    @property
    def val_score(self) -> float:
        """The chosen candidate's validation score."""
        return max(t.val_score for t in self.trials if t.candidate == self.candidate)


def labeled_demo(example: Example) -> Demo:
    """A demo made from a training example's gold outputs."""
    return Demo(inputs=dict(example.inputs), outputs=dict(example.outputs), source_id=example.id)


def score_on_val(inputs: CompileInputs, name: str, candidate: Candidate) -> Trial:
    """Evaluate a candidate on the validation split and record it as a trial."""
    before = inputs.lm.usage.requests
    advance = inputs.reporter.stage(f"scoring {name} on val", len(inputs.val))
    ev = evaluate(
        inputs.program, candidate, inputs.val, inputs.metric, inputs.lm, seed=inputs.seed, on_done=advance
    )
    return Trial(
        name=name, candidate=candidate, val_score=ev.overall.mean, calls=inputs.lm.usage.requests - before
    )
