"""What compile, eval and promote produce, as leaf types: reports and renderers read them without
loading the model layer (promptc.lm, the optimizers, promptc.commands.lifecycle)."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptc.artifacts.store import Artifact
from promptc.release.gates import GateReport
from promptc.release.ledger import HoldoutLooks
from promptc.results import Evaluation
from promptc.trials import Trial
from promptc.usage import Usage


@dataclass(frozen=True)
class CompileOutcome:
    """What compile produced: the artifact, both holdout evaluations, gates, trials, usage."""

    artifact: Artifact
    baseline: Evaluation
    candidate: Evaluation
    gates: GateReport
    trials: tuple[Trial, ...]
    usage: Usage  # search and holdout together
    search_usage: Usage = field(default_factory=Usage)
    stopped_by_budget: str | None = None  # the cap's message when the budget ended the search
    notes: tuple[str, ...] = ()  # from the optimizer, e.g. where its optuna study is
    looks: HoldoutLooks | None = None  # the candidate's look at the test split (promptc.release.ledger)


@dataclass(frozen=True)
class EvalOutcome:
    """A fresh holdout evaluation of an artifact and its baseline, with the gate verdict."""

    artifact: Artifact
    baseline: Evaluation
    candidate: Evaluation
    gates: GateReport
    usage: Usage
    looks: HoldoutLooks | None = None  # the artifact's look at the test split (promptc.release.ledger)


@dataclass(frozen=True)
class PromoteOutcome:
    """The alias change and the gate report that allowed it (None: the alias was already there)."""

    artifact: Artifact
    alias: str
    previous: str | None
    gates: GateReport | None
    verified: int | None = None  # with verify: test examples whose stored scores were reproduced
    looks: HoldoutLooks | None = None  # the artifact's look at the test split (promptc.release.ledger)

    @property
    def unchanged(self) -> bool:
        """The alias already pointed at this artifact: nothing moved, no history entry."""
        return self.previous == self.artifact.id
