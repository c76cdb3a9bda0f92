"""The guard that keeps a search from peeking at the confirmation half of val.

While a search runs (optimizers/base.py, `run_search`), the confirmation half is a sealed
`Holdout`: candidates may be scored on it for the record, but its examples, and every recorded
score on them (`Scores`), raise `PeekError` until the search is closed and selection reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from promptc.data import Example


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
