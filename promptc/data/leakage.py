"""Split disjointness: shared ids, equal normalised inputs and near-duplicate inputs across splits.

Ids match after stripping surrounding whitespace. Inputs match after `normalise` (NFKC, Cyrillic
and Greek look-alikes of Latin letters folded to them, case folding, apostrophes, hyphens and full
stops inside a word removed, other punctuation and symbols turned into spaces, whitespace
collapsed), so curly and straight apostrophes, `doesn't` and `doesnt`, full-width letters and a
Cyrillic "o" in a Latin word count as the same input.

Near-duplicates: the Jaccard similarity of the two inputs' sets of character 4-grams (of the
normalised text padded with a space at each end) is at least `data.near_duplicate_threshold`.
The default, 0.5, means at least half of the distinct 4-grams the two inputs have between them are
shared. One word replaced in a sentence of six words or more stays above it unless the words
swapped make up more than about a third of the sentence's characters (98% of random one-word
substitutions in 6-10 word review sentences; at 0.85 the old word-trigram check needed about 39
words). Unrelated sentences on one topic share 2-10% of their 4-grams and sentences that share a
phrase 20-45%, so they stay under it; two texts of five words or fewer that differ in one short word
are flagged even when they mean different things. 3-grams share more by chance (the commonest
syllables), 5-grams lose more to one edit (5% of those substitutions fall under 0.5), hence 4.

Finding the pairs: MinHash (datasketch's affine32 scheme, computed in bulk with numpy) and LSH
banding propose candidates; a candidate is kept when its MinHash estimate comes within
ESTIMATE_MARGIN of the threshold, and reported only when its exact Jaccard similarity reaches the
threshold, so every reported similarity is exact. A pair exactly at the threshold is found with
probability about 98%, one at 0.55 with 99.9%. The LSH bands look at each text's rarer 4-grams only
(those in at most COMMON_ROWS inputs, or its BAND_GRAMS rarest): otherwise every two rows generated
from one template would be candidates. So in datasets large enough for 4-grams to recur in over a
thousand inputs, pairs alike only in wording that thousands of rows share (a template with slots
filled from short lists) can be missed even above the threshold; copies of a row with a few words
changed are not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from promptc.data.load import SPLITS, Example, Splits
from promptc.data.minhash import (
    U32,
    Grams,
    HashedShingles,
    NDArray,
    band_collisions,
    band_keys,
    grams_of,
    jaccard,
    kth_smallest_per_text,
    lsh_bands,
    minhashes,
    normalise_all,
    shingles,
)

DEFAULT_THRESHOLD = 0.5
# A candidate whose MinHash estimate is more than ESTIMATE_MARGIN under the threshold is dropped
# (at the threshold, 1.3% of pairs); a first look at PRESCREEN_COLUMNS values with the wider margin
# drops most candidates sooner (0.1% of pairs at the threshold).
ESTIMATE_MARGIN = 0.1
PRESCREEN_COLUMNS = 32
PRESCREEN_MARGIN = 0.25
# The Jaccard similarity of hashed 4-grams differs from the exact one only where two 4-grams of a pair
# share a 32-bit hash; this slack lets the exact score decide those.
_HASH_SLACK = 0.02
# The LSH bands of a text use its 4-grams found in at most COMMON_ROWS inputs, or its BAND_GRAMS
# rarest ones where fewer are that rare (all of a short text's).
COMMON_ROWS = 1000
BAND_GRAMS = 24
_COUNT_BITS = 22  # 4-gram occurrences are counted in 2**22 buckets of their hashes


@dataclass(frozen=True)
class Leak:
    """Two examples in different splits that are the same (or nearly)."""

    kind: str  # "id" | "input" | "near_duplicate"
    splits: tuple[str, str]  # the splits of a and of b, e.g. ("train", "test")
    a: Example
    b: Example
    similarity: float = 1.0


@dataclass(frozen=True)
class SplitReport:
    """The result of check_splits."""

    sizes: dict[str, int]
    slices: dict[str, dict[str, int]]
    leaks: tuple[Leak, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no leak was found."""
        return not self.leaks


def _input_texts(examples: Sequence[Example]) -> list[str]:
    """Each example's input values, normalised and joined in field-name order."""
    if not examples:
        return []
    columns = [normalise_all([str(e.inputs[k]) for e in examples]) for k in sorted(examples[0].inputs)]
    return [" | ".join(values) for values in zip(*columns, strict=True)]


@dataclass(frozen=True)
class MinHashSide:
    """One split's distinct normalised inputs, the text of each example, and the texts' sketches."""

    texts: list[str]
    text_of: list[int]
    members: list[list[int]]
    grams: Grams
    signatures: NDArray
    keys: NDArray


def candidate_pairs(left: MinHashSide, right: MinHashSide, threshold: float) -> NDArray:
    """Distinct (left text, right text) pairs that share a band and whose estimate is close enough."""
    kept = []
    for band in range(left.keys.shape[1]):
        for i, j in band_collisions(left.keys[:, band], right.keys[:, band]):
            first = left.signatures[i, :PRESCREEN_COLUMNS] == right.signatures[j, :PRESCREEN_COLUMNS]
            close = first.mean(axis=1) >= threshold - PRESCREEN_MARGIN
            i, j = i[close], j[close]
            close = (left.signatures[i] == right.signatures[j]).mean(axis=1) >= threshold - ESTIMATE_MARGIN
            kept.append(i[close] * len(right.texts) + j[close])
    codes = np.sort(np.concatenate(kept)) if kept else np.empty(0, dtype=np.int64)
    codes = codes[np.append(True, codes[1:] != codes[:-1])] if len(codes) else codes
    return np.stack([codes // len(right.texts), codes % len(right.texts)], axis=1)


def minhash_sides(by_name: Mapping[str, Sequence[Example]], bands: int, rows: int) -> dict[str, MinHashSide]:
    """Each split's distinct inputs, their sketch over all 4-grams and their band keys over the rarer ones."""
    texts_of: dict[str, dict[str, int]] = {}
    text_of: dict[str, list[int]] = {}
    for name, examples in by_name.items():
        numbers = texts_of[name] = {}
        text_of[name] = [numbers.setdefault(text, len(numbers)) for text in _input_texts(examples)]
    grams = {name: grams_of(list(numbers)) for name, numbers in texts_of.items()}
    occurrences = np.bincount(
        np.concatenate([g.hashes for g in grams.values()]) >> U32(32 - _COUNT_BITS),
        minlength=1 << _COUNT_BITS,
    )
    sides = {}
    for name, g in grams.items():
        counts = occurrences[g.hashes >> U32(32 - _COUNT_BITS)]
        cap = np.maximum(kth_smallest_per_text(counts, g.text, g.texts, BAND_GRAMS), COMMON_ROWS)
        rare = counts <= cap[g.text]
        banded = minhashes(g, rare, bands * rows)
        full = np.minimum(banded, minhashes(g, ~rare, bands * rows))
        members: list[list[int]] = [[] for _ in range(g.texts)]
        for i, t in enumerate(text_of[name]):
            members[t].append(i)
        keys = band_keys(banded, rows)
        sides[name] = MinHashSide(list(texts_of[name]), text_of[name], members, g, full, keys)
    return sides


def _near_duplicate_texts(
    left: MinHashSide, right: MinHashSide, threshold: float
) -> list[tuple[int, int, float]]:
    """(left text, right text, exact Jaccard) for distinct texts at or above the threshold."""
    left_sets, right_sets = HashedShingles(left.grams), HashedShingles(right.grams)
    found = []
    for i, j in candidate_pairs(left, right, threshold).tolist():
        if jaccard(left_sets[i], right_sets[j]) < threshold - _HASH_SLACK:
            continue
        a, b = left.texts[i], right.texts[j]
        similarity = jaccard(shingles(a), shingles(b))
        if threshold <= similarity and a != b:
            found.append((i, j, similarity))
    return found


def _id_leaks(pair: tuple[str, str], a: Sequence[Example], b: Sequence[Example]) -> list[Leak]:
    ids = {e.id.strip(): e for e in reversed(a)}
    return [Leak("id", pair, ids[e.id.strip()], e) for e in b if e.id.strip() in ids]


def _input_leaks(
    pair: tuple[str, str], a: Sequence[Example], left: MinHashSide, b: Sequence[Example], right: MinHashSide
) -> list[Leak]:
    first = {left.texts[t]: a[i] for i, t in reversed(list(enumerate(left.text_of)))}
    return [
        Leak("input", pair, first[right.texts[t]], e)
        for e, t in zip(b, right.text_of, strict=True)
        if right.texts[t] in first
    ]


def _near_duplicate_leaks(
    pair: tuple[str, str],
    a: Sequence[Example],
    left: MinHashSide,
    b: Sequence[Example],
    right: MinHashSide,
    threshold: float,
) -> list[Leak]:
    found: list[tuple[int, int, float]] = []
    for i, j, similarity in _near_duplicate_texts(left, right, threshold):
        found.extend((y, x, round(similarity, 3)) for x in left.members[i] for y in right.members[j])
    return [Leak("near_duplicate", pair, a[x], b[y], similarity) for y, x, similarity in sorted(found)]


def _slice_counts(splits: Splits) -> dict[str, dict[str, int]]:
    slices: dict[str, dict[str, int]] = {}
    for name, examples in splits.items():
        for e in examples:
            slices.setdefault(e.slice or "(none)", {s: 0 for s in SPLITS})[name] += 1
    return dict(sorted(slices.items()))


def check_splits(splits: Splits, near_duplicate_threshold: float = DEFAULT_THRESHOLD) -> SplitReport:
    """Find examples shared across splits: same id, same normalised input, near-duplicate input."""
    by_name = dict(splits.items())
    bands, rows = lsh_bands(near_duplicate_threshold)
    sides = minhash_sides(by_name, bands, rows)
    leaks: list[Leak] = []
    for pair in (("train", "val"), ("train", "test"), ("val", "test")):
        (a, left), (b, right) = ((by_name[name], sides[name]) for name in pair)
        ids = _id_leaks(pair, a, b)
        shared = {(leak.a.id, leak.b.id) for leak in ids}
        near = _near_duplicate_leaks(pair, a, left, b, right, near_duplicate_threshold)
        leaks.extend(ids)
        leaks.extend(_input_leaks(pair, a, left, b, right))
        leaks.extend(leak for leak in near if (leak.a.id, leak.b.id) not in shared)
    return SplitReport(
        sizes={name: len(examples) for name, examples in splits.items()},
        slices=_slice_counts(splits),
        leaks=tuple(leaks),
    )
