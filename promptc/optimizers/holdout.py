"""The data selection confirms on: the sealed confirmation half of val, and unused training rows.

While a search runs (optimizers/base.py, `run_search`), the confirmation half is a sealed
`Holdout`: candidates may be scored on it for the record, but its examples, and every recorded
score on them (`Scores`), raise `PeekError` until the search is closed and selection reads them.

A search may also declare training rows that none of its decisions read beyond taking some as
demos (`Search.confirm_on_train`): no row's score, and nothing about the rows but the demos
taken from them, chose a candidate. After the search, each finalist and the configured program
are scored on those rows, and each finalist is confirmed on the rows neither uses
(`unused_rows`: a fixed demo set's unused rows; all rows for zero-shot variants) together with
the confirmation half, by the same paired test at the same Bonferroni level. A nearest-neighbour
pool is its candidate's memory, not a fixed prompt: each of its rows is scored with the pool
left without that row (`leave_one_out`), as an unseen input would be. These rows played no part
in choosing the finalists, so the false-replacement bound holds as on the confirmation half
alone (bench/selection_simulation.py measures both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence

from promptc.data.load import Example
from promptc.prompting.program import Candidate


class PeekError(RuntimeError):
    """A search read the confirmation half of val before selection: a bug in the optimizer."""


class Holdout:
    """The confirmation half of val: sealed while the search runs, opened for selection."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self._examples = tuple(examples)
        self._ids = frozenset(e.id for e in examples)
        self.sealed = True

    def __contains__(self, example_id: object) -> bool:
        return example_id in self._ids  # which examples are held out says nothing about them

    def __len__(self) -> int:
        return len(self._examples)

    @property
    def examples(self) -> tuple[Example, ...]:
        """The held-out examples, once the search is closed."""
        self.check()
        return self._examples

    def check(self, ids: Iterable[str] | None = None) -> None:
        """Raise PeekError while sealed if ids (default: the whole half) include a held-out example."""
        if self.sealed and (ids is None or any(i in self._ids for i in ids)):
            raise PeekError(
                "the search read the confirmation half of val before selection; only the search "
                "half may decide what is scored or kept (optimizers/base.py)"
            )

    def open(self) -> None:
        """End the search: selection may read the confirmation half."""
        self.sealed = False


class Scores(Mapping[str, float]):
    """A recorded trial's scores by example id; held-out ones read only once the holdout is open."""

    _plain: dict[str, float]

    def __init__(self, scores: Mapping[str, float], holdout: Holdout) -> None:
        self._plain = dict(scores._plain if isinstance(scores, Scores) else scores)
        self.holdout = holdout

    def __getitem__(self, example_id: str) -> float:
        if example_id in self.holdout:
            self.holdout.check([example_id])
        return self._plain[example_id]

    def __contains__(self, example_id: object) -> bool:
        return example_id in self._plain

    def __iter__(self) -> Iterator[str]:
        return iter(self._plain)

    def __len__(self) -> int:
        return len(self._plain)


def fixed_demo_ids(candidate: Candidate) -> set[str]:
    """The training rows a candidate (or a member) shows as fixed demos; a knn pool is not fixed."""
    own = set() if candidate.knn else {d.source_id for d in candidate.demos if d.source_id is not None}
    return own.union(*(fixed_demo_ids(m) for m in candidate.members))


def unused_rows(rows: Sequence[Example], *candidates: Candidate) -> list[Example]:
    """The rows none of the candidates shows as a fixed demo."""
    used = set().union(*(fixed_demo_ids(c) for c in candidates))
    return [e for e in rows if e.id not in used]


def leave_one_out(candidate: Candidate, rows: Sequence[Example]) -> list[tuple[Candidate, list[Example]]]:
    """The candidate each row is scored with (its nearest-neighbour pools without that row), grouped."""
    groups: list[tuple[Candidate, list[Example]]] = [(candidate, [])]
    for row in rows:
        without = _without(candidate, row.id)
        if without == candidate:
            groups[0][1].append(row)
        else:
            groups.append((without, [row]))
    return [g for g in groups if g[1]]


def _without(candidate: Candidate, row_id: str) -> Candidate:
    demos = tuple(d for d in candidate.demos if d.source_id != row_id) if candidate.knn else candidate.demos
    members = tuple(_without(m, row_id) for m in candidate.members)
    if demos == candidate.demos and members == candidate.members:
        return candidate
    return dataclasses.replace(candidate, demos=demos, members=members)
