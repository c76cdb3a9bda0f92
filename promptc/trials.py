"""One scored candidate of a search, a leaf type: compile outcomes and reports read the trial log
without loading the optimizers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from promptc.prompting.program import Candidate


class Seal(Protocol):
    """What guards held-out scores (promptc.optimizers.holdout.Holdout)."""

    def check(self, ids: Iterable[str] | None = None) -> None: ...


@runtime_checkable
class SealedScores(Protocol):
    """Scores some of which are held out until selection (promptc.optimizers.holdout.Scores)."""

    holdout: Seal


@dataclass(frozen=True)
class Trial:
    """One candidate the optimizer scored on the validation split (or a minibatch of it)."""

    name: str
    candidate: Candidate
    val_score: float | None  # None: kept without scoring (a single-candidate optimizer)
    calls: int  # model requests, cache hits included, so the log is the same on every run
    n: int = 0  # validation examples scored
    full: bool = True  # scored on the whole validation split; only these can win
    scores: Mapping[str, float] = field(default_factory=dict, compare=False, repr=False)  # by example id

    @property
    def full_score(self) -> float:
        """The score of a trial scored on the whole validation split (read by selection only)."""
        if self.val_score is None or not self.full:
            raise ValueError(f"trial {self.name!r} was not scored on the whole validation split")
        if isinstance(self.scores, SealedScores):
            self.scores.holdout.check(self.scores)
        return self.val_score

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the artifact's trial log."""
        return {
            "name": self.name,
            "val_score": self.val_score,
            "n": self.n,
            "full": self.full,
            "calls": self.calls,
            "demo_ids": [d.source_id for d in self.candidate.demos],
            "describe": self.candidate.describe(),
            "candidate": self.candidate.digest(),
        }
