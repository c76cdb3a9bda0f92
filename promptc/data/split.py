"""Split examples into train/val/test so that the split check passes: near-duplicates stay together.

Rows are clustered (union-find) when the leak check would pair them across splits: the same
normalised input, or near-duplicate inputs found with the leak check's own sketches, bands and
threshold (promptc.data.leakage), and, when asked, the same value of a group column. Every cluster goes
to one split. Once each normalised input sits in one split, the 4-gram counts the check's bands are
chosen from are those of the whole data set, so the check proposes no pair that this clustering did
not see: its output passes the check by construction.

Clusters are placed largest first (ties in an order drawn from the seed), each in the split whose
per-label quota it fills best; with single-row clusters every label lands within one example of its
ratio in every split.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# The leak check's own candidate search over one split's distinct inputs; split and check must
# propose exactly the same pairs, so it is called, not copied.
from promptc.data.leakage import candidate_pairs, minhash_sides
from promptc.data.load import SPLITS, Example
from promptc.data.minhash import jaccard, lsh_bands, shingles
from promptc.errors import DataError


@dataclass(frozen=True)
class Clusters:
    """Each row's cluster number, and the rows of each cluster."""

    of_row: tuple[int, ...]
    members: tuple[tuple[int, ...], ...]

    @property
    def merged_rows(self) -> int:
        """Rows in clusters of more than one row."""
        return sum(len(m) for m in self.members if len(m) > 1)

    @property
    def merged_clusters(self) -> int:
        """Clusters of more than one row."""
        return sum(1 for m in self.members if len(m) > 1)

    @property
    def largest(self) -> tuple[int, ...]:
        """The rows of the largest cluster (the first of equal size)."""
        return max(self.members, key=len, default=())


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _near_duplicates(examples: Sequence[Example], threshold: float, sets: _UnionFind) -> None:
    """Join examples with the same normalised input, and near-duplicate inputs at the threshold."""
    bands, rows = lsh_bands(threshold)
    side = minhash_sides({"all": examples}, bands, rows)["all"]
    for members in side.members:
        for other in members[1:]:
            sets.union(members[0], other)
    for i, j in candidate_pairs(side, side, threshold).tolist():
        if i < j and jaccard(shingles(side.texts[i]), shingles(side.texts[j])) >= threshold:
            sets.union(side.members[i][0], side.members[j][0])


def cluster_rows(
    examples: Sequence[Example], threshold: float, groups: Sequence[str | None] | None = None
) -> Clusters:
    """Clusters of rows the split check would pair: same or near-duplicate inputs, or one group."""
    sets = _UnionFind(len(examples))
    if examples:
        _near_duplicates(examples, threshold, sets)
    first: dict[str, int] = {}
    for row, group in enumerate(groups or ()):
        if group is not None and group != "":
            sets.union(first.setdefault(group, row), row)
    roots = [sets.find(row) for row in range(len(examples))]
    number: dict[int, int] = {}
    of_row = tuple(number.setdefault(root, len(number)) for root in roots)
    members: list[list[int]] = [[] for _ in number]
    for row, cluster in enumerate(of_row):
        members[cluster].append(row)
    return Clusters(of_row, tuple(tuple(m) for m in members))


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Three positive shares for train, val and test, scaled to sum to 1."""
    if len(ratios) != 3 or not all(math.isfinite(r) and r > 0 for r in ratios):
        raise DataError(
            f"--ratios {','.join(map(str, ratios))}: need three positive numbers",
            fix="give train,val,test shares such as 0.6,0.2,0.2",
        )
    total = sum(ratios)
    return ratios[0] / total, ratios[1] / total, ratios[2] / total


def label_targets(sizes: dict[str, int], ratios: Sequence[float]) -> dict[str, list[int]]:
    """Rows of each label per split: its share rounded down or up, the rounding kept level overall."""
    seen, given = 0, [0, 0, 0]
    targets = {}
    for label in sorted(sizes):
        n = sizes[label]
        seen += n
        counts = [math.floor(n * r) for r in ratios]
        behind = [ratios[s] * seen - given[s] - counts[s] for s in range(3)]
        for s in sorted(range(3), key=lambda s: (-behind[s], s))[: n - sum(counts)]:
            counts[s] += 1
        given = [g + c for g, c in zip(given, counts, strict=True)]
        targets[label] = counts
    return targets


def assign_clusters(
    clusters: Clusters, strata: Sequence[str], ratios: Sequence[float], seed: int
) -> tuple[int, ...]:
    """The split (0 train, 1 val, 2 test) of each row: whole clusters, largest first, to their quotas."""
    targets = label_targets(Counter(strata), ratios)
    overall = [sum(t[s] for t in targets.values()) for s in range(3)]
    filled = {label: [0, 0, 0] for label in targets}
    total = [0, 0, 0]
    ranks = list(range(len(clusters.members)))
    random.Random(seed).shuffle(ranks)
    order = sorted(range(len(clusters.members)), key=lambda c: (-len(clusters.members[c]), ranks[c]))
    split_of = [0] * len(clusters.members)
    for c in order:
        counts = Counter(strata[row] for row in clusters.members[c])

        def score(s: int, counts: Counter[str] = counts) -> tuple[int, int, int]:
            gap = sum(k * (targets[label][s] - filled[label][s]) for label, k in counts.items())
            return gap, overall[s] - total[s], -s

        best = max(range(3), key=score)
        split_of[c] = best
        for label, k in counts.items():
            filled[label][best] += k
        total[best] += len(clusters.members[c])
    _refuse_empty(total)
    return tuple(split_of[c] for c in clusters.of_row)


def _refuse_empty(sizes: Sequence[int]) -> None:
    empty = [SPLITS[s] for s in range(3) if sizes[s] == 0]
    if empty:
        raise DataError(
            f"the {empty[0]} split would be empty: too few rows, or clusters too large for the ratios",
            fix="add rows, raise that split's share in --ratios, or group fewer rows together",
        )


@dataclass(frozen=True)
class Move:
    """A row moved to another split so that its cluster sits in one split."""

    id: str
    source: str
    moved_from: str
    moved_to: str


def repair_assignment(clusters: Clusters, current: Sequence[int]) -> tuple[int, ...]:
    """Each row's split, kept unless its cluster straddles splits; then the cluster's commonest one."""
    split_of = list(current)
    for members in clusters.members:
        counts = Counter(current[row] for row in members)
        if len(counts) > 1:
            most = max(counts.values())
            home = min(s for s, k in counts.items() if k == most)
            for row in members:
                split_of[row] = home
    _refuse_empty([split_of.count(s) for s in range(3)])
    return tuple(split_of)
