"""Per-output scores of two evaluations, where the metric scores outputs apart (a composite metric,
or a built-in over several outputs: Verdict.field_scores): each output's mean and interval, and
the change between them, built once here and shown by eval, the reports and diff.

A reply that could not be parsed has no per-output scores; it counts 0 on every output, as it does
overall, so an output's mean never looks better for a candidate whose replies fail to parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptc.evaluation.stats import paired_interval
from promptc.results import Evaluation, Record, Summary, summarise


@dataclass(frozen=True, slots=True)
class Scored:
    """One example's per-output scores (None: the metric gave none), and whether its reply parsed."""

    id: str
    fields: Mapping[str, float] | None
    parsed: bool


@dataclass(frozen=True)
class FieldRow:
    """One output: its scores in the evaluation compared against (before) and in the other (after),
    and the paired change with its interval where both scored the same examples on it."""

    name: str
    before: Summary | None
    after: Summary | None
    change: tuple[float, float, float] | None  # mean change, low, high

    def to_dict(self, labels: tuple[str, str] = ("before", "after")) -> dict[str, Any]:
        """Plain data, as in JSON reports, the two evaluations under the labels given."""
        change = None
        if self.change is not None:
            change = dict(zip(("mean", "ci_low", "ci_high"), (round(v, 6) for v in self.change), strict=True))
        return {
            "field": self.name,
            labels[0]: None if self.before is None else self.before.to_dict(),
            labels[1]: None if self.after is None else self.after.to_dict(),
            "change": change,
        }


def of_records(records: Iterable[Record]) -> list[Scored]:
    """The per-output scores of a fresh evaluation's records."""
    return [Scored(r.id, r.field_scores, r.prediction.outputs is not None) for r in records]


def of_dicts(records: Iterable[Mapping[str, Any]]) -> list[Scored]:
    """The per-output scores of stored records (Record.to_dict(), as artifacts and shards keep them)."""
    return [Scored(str(r["id"]), r.get("field_scores"), r.get("prediction") is not None) for r in records]


def _names(*evaluations: Sequence[Scored]) -> list[str]:
    """Every output scored apart in any evaluation, in the order first seen (the metric's order)."""
    names: dict[str, None] = {}
    for evaluation in evaluations:
        for s in evaluation:
            names.update(dict.fromkeys(s.fields or ()))
    return list(names)


def _by_example(evaluation: Sequence[Scored], name: str) -> dict[str, float]:
    """One output's score per example: an unparsed reply scores 0; an example not scored on it is left out."""
    out: dict[str, float] = {}
    for s in evaluation:
        if s.fields is not None and name in s.fields:
            out[s.id] = float(s.fields[name])
        elif s.fields is None and not s.parsed:
            out[s.id] = 0.0
    return out


def field_rows(
    before: Sequence[Scored], after: Sequence[Scored], *, confidence: float = 0.95, paired: bool = True
) -> tuple[FieldRow, ...]:
    """Per output: mean and interval in each evaluation (as slice summaries have them), and the paired
    change where both scored the same examples (paired: the ids name the same examples); empty when
    no record has per-output scores."""
    rows = []
    for name in _names(before, after):
        b, a = _by_example(before, name), _by_example(after, name)
        change = None
        if paired and b and set(b) == set(a):
            ids = sorted(a)
            cand, ref = [a[i] for i in ids], [b[i] for i in ids]
            low, high = paired_interval(cand, ref, confidence)
            change = ((sum(cand) - sum(ref)) / len(ids), low, high)
        rows.append(
            FieldRow(
                name,
                summarise(list(b.values()), confidence=confidence) if b else None,
                summarise(list(a.values()), confidence=confidence) if a else None,
                change,
            )
        )
    return tuple(rows)


def evaluation_rows(
    baseline: Evaluation, candidate: Evaluation, *, confidence: float = 0.95
) -> tuple[FieldRow, ...]:
    """The per-output rows of a holdout evaluation: the candidate against the baseline."""
    return field_rows(of_records(baseline.records), of_records(candidate.records), confidence=confidence)
