"""Split disjointness: shared ids, equal normalised inputs and near-duplicate inputs across splits.

Ids match after stripping surrounding whitespace. Inputs match after `normalise` (NFKC, case
folding, apostrophes, hyphens and full stops inside a word removed, other punctuation and symbols
turned into spaces, whitespace collapsed), so curly and straight apostrophes, `doesn't` and
`doesnt`, and full-width letters count as the same input.

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

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray as _NDArray

from promptc.data import SPLITS, Example, Splits

DEFAULT_THRESHOLD = 0.5
SHINGLE_SIZE = 4
PERMUTATIONS = 128
SEED = 20261123
# Bands are chosen so that a pair exactly at the threshold shares a band with probability at least
# this: at 0.5, 42 bands of 3 rows (0.996); at 0.85, 16 bands of 8 rows (0.994).
RECALL_AT_THRESHOLD = 0.99
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
_CHUNK = 2048
_PAIRS_PER_STEP = 1 << 18
_MULTIPLIER = 0x01000193  # FNV's 32-bit prime

U32 = np.uint32
U64 = np.uint64
NDArray = _NDArray[Any]


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


_WORD, _DIGIT, _JOINER, _SEPARATOR, _SPACE, _DROPPED = range(6)
# Apostrophes, hyphens, full stops and the like: removed inside a word, a space elsewhere.
_JOINERS = frozenset("'`\u00b4\u02bc\u2018\u2019\u201b\u2032-\u2010\u2011\u2212._\u00b7")


@lru_cache(maxsize=65536)
def _char_class(char: str) -> int:
    """How normalisation treats a character, from its Unicode category."""
    category = unicodedata.category(char)
    if char.isspace() or category[0] == "Z":
        return _SPACE
    if category == "Nd":
        return _DIGIT
    if char in _JOINERS:
        return _JOINER
    if category[0] in "PS" or category == "Cc":
        return _SEPARATOR
    if category == "Cf":  # zero-width spaces and joiners, soft hyphens, byte-order marks
        return _DROPPED
    return _WORD


def _runs(flags: NDArray, doc: NDArray) -> tuple[NDArray, NDArray]:
    """First and last positions of each run of set flags, a run never crossing into another text."""
    joined = np.append((doc[1:] == doc[:-1]) & flags[1:] & flags[:-1], False)
    firsts = np.flatnonzero(flags & ~np.insert(joined[:-1], 0, False))
    lasts = np.flatnonzero(flags & ~joined)
    return firsts, lasts


def _outside(doc: NDArray, at: NDArray, of: NDArray) -> NDArray:
    """Where position `at` is not in the same text as position `of`."""
    clipped = np.clip(at, 0, max(len(doc) - 1, 0))
    outside: NDArray = (at < 0) | (at >= len(doc)) | (doc[clipped] != doc[of])
    return outside


def normalise_all(texts: Sequence[str]) -> list[str]:
    """`normalise` for many texts at once: one vectorised pass over all their characters."""
    folded = [unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", t).casefold()) for t in texts]
    codes = np.frombuffer("".join(folded).encode("utf-32-le"), dtype=U32)
    doc = np.repeat(np.arange(len(folded)), np.fromiter(map(len, folded), dtype=np.int64, count=len(folded)))
    if len(codes) < 4096:  # a few texts: classifying each character is cheaper than a table
        kind = np.fromiter(
            (_char_class(c) for text in folded for c in text), dtype=np.uint8, count=len(codes)
        )
    else:
        table = np.zeros(0x110000, dtype=np.uint8)
        present = np.flatnonzero(np.bincount(codes, minlength=1))
        table[present] = [_char_class(chr(c)) for c in present.tolist()]
        kind = table[codes]
    kept = kind != _DROPPED
    codes, kind, doc = codes[kept], kind[kept], doc[kept]
    # A run of joiners between two letters goes (doesn't -> doesnt, e-mail -> email); any other
    # run of punctuation or symbols, the point in 3.5 included, becomes a space.
    joiner = kind == _JOINER
    firsts, lasts = _runs(joiner, doc)
    before, after = firsts - 1, lasts + 1
    inside_word = ~_outside(doc, before, firsts) & ~_outside(doc, after, lasts)
    inside_word &= (kind[np.clip(before, 0, None)] == _WORD) & (
        kind[np.clip(after, 0, len(kind) - 1)] == _WORD
    )
    kept = np.ones(len(kind), dtype=bool)
    kept[np.flatnonzero(joiner)[np.repeat(inside_word, lasts - firsts + 1)]] = False
    space = (kind == _SPACE) | (kind == _SEPARATOR) | joiner
    codes, space, doc = np.where(space, U32(32), codes)[kept], space[kept], doc[kept]
    # A run of whitespace inside a text becomes one space; at either end of a text, nothing.
    firsts, lasts = _runs(space, doc)
    inner = ~_outside(doc, firsts - 1, firsts) & ~_outside(doc, lasts + 1, lasts)
    kept = ~space
    kept[firsts[inner]] = True
    lengths = np.bincount(doc[kept], minlength=len(folded)).tolist()
    joined = codes[kept].tobytes().decode("utf-32-le")
    ends = np.cumsum(lengths).tolist() if lengths else []
    return [joined[end - length : end] for end, length in zip(ends, lengths, strict=True)]


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Fold Unicode forms, case, punctuation, symbols and whitespace, for comparing texts."""
    return normalise_all([text])[0]


def _input_texts(examples: Sequence[Example]) -> list[str]:
    """Each example's input values, normalised and joined in field-name order."""
    if not examples:
        return []
    columns = [normalise_all([str(e.inputs[k]) for e in examples]) for k in sorted(examples[0].inputs)]
    return [" | ".join(values) for values in zip(*columns, strict=True)]


def _padded(text: str) -> str:
    return f" {text} ".ljust(SHINGLE_SIZE)


def shingles(text: str) -> frozenset[str]:
    """The set of character 4-grams of a normalised text, padded with a space at each end."""
    padded = _padded(text)
    return frozenset(padded[i : i + SHINGLE_SIZE] for i in range(len(padded) - SHINGLE_SIZE + 1))


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    """|a & b| / |a | b|."""
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def _fmix64(h: NDArray) -> NDArray:
    """MurmurHash3's 64-bit finaliser: a bijection that spreads every input bit over the output."""
    h = h ^ (h >> U64(33))
    h = h * U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> U64(33))
    h = h * U64(0xC4CEB9FE1A85EC53)
    mixed: NDArray = h ^ (h >> U64(33))
    return mixed


def _fmix32(h: NDArray) -> NDArray:
    """MurmurHash3's 32-bit finaliser, the pre-mix of datasketch's affine32 MinHash scheme."""
    h = h ^ (h >> U32(16))
    h = h * U32(0x85EBCA6B)
    h = h ^ (h >> U32(13))
    h = h * U32(0xC2B2AE35)
    mixed: NDArray = h ^ (h >> U32(16))
    return mixed


@dataclass(frozen=True)
class _Grams:
    """The hashed 4-grams of a list of texts, grouped by text, and the text each belongs to."""

    hashes: NDArray
    text: NDArray
    texts: int


def _grams(texts: Sequence[str]) -> _Grams:
    padded = [_padded(t) for t in texts]
    lengths = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=U32)
    last = max(len(codes) - SHINGLE_SIZE + 1, 0)
    hashes = codes[:last] * U32(_MULTIPLIER)
    for k in range(1, SHINGLE_SIZE):
        hashes += codes[k : last + k]
        if k < SHINGLE_SIZE - 1:
            hashes *= U32(_MULTIPLIER)
    # Drop the positions whose 4-gram would run into the next text.
    counts = lengths - SHINGLE_SIZE + 1
    spill = (np.cumsum(lengths) - SHINGLE_SIZE + 1)[:, None] + np.arange(SHINGLE_SIZE - 1)
    kept = np.ones(last, dtype=bool)
    kept[spill[spill < last]] = False
    return _Grams(hashes[kept], np.repeat(np.arange(len(texts)), counts), len(texts))


def shingle_hashes(text: str) -> list[int]:
    """The 32-bit hashes of the 4-grams of one normalised text, as the MinHash sketches use them."""
    return [int(h) for h in _grams([text]).hashes]


def _permutations(num_perm: int) -> tuple[NDArray, NDArray]:
    """The (a, b) of datasketch's affine32 permutations h -> a * h + b mod 2**32 for SEED."""
    generator = np.random.RandomState(SEED)
    a = generator.randint(0, 1 << 31, num_perm, dtype=U32) * U32(2) + U32(1)
    return a, generator.randint(0, 1 << 32, num_perm, dtype=U32)


def _minhashes(grams: _Grams, selected: NDArray, num_perm: int) -> NDArray:
    """MinHash rows of the texts over their selected 4-grams (all ones where a text has none)."""
    a, b = _permutations(num_perm)
    mixed = _fmix32(grams.hashes[selected])
    counts = np.bincount(grams.text[selected], minlength=grams.texts)
    starts = np.cumsum(counts) - counts
    signatures = np.full((grams.texts, num_perm), np.iinfo(U32).max, dtype=U32)
    # Texts of similar length go together into a 2-D block, short rows padded with their own last
    # 4-gram (a repeat never changes a minimum), so each permutation is one vectorised pass.
    order = np.argsort(counts, kind="stable")
    order = order[counts[order] > 0]
    for first in range(0, len(order), _CHUNK):
        rows = order[first : first + _CHUNK]
        width = int(counts[rows].max())
        block = mixed[starts[rows][:, None] + np.minimum(np.arange(width), counts[rows][:, None] - 1)]
        scratch = np.empty_like(block)
        out = np.empty((len(rows), num_perm), dtype=U32)
        for j in range(num_perm):
            np.multiply(block, a[j], out=scratch)
            np.add(scratch, b[j], out=scratch)
            scratch.min(axis=1, out=out[:, j])
        signatures[rows] = out
    return signatures


def minhash_signatures(texts: Sequence[str], num_perm: int) -> NDArray:
    """One row of MinHash values per text, equal to datasketch's affine32 MinHash of its 4-grams."""
    grams = _grams(texts)
    return _minhashes(grams, np.ones(len(grams.hashes), dtype=bool), num_perm)


@dataclass(frozen=True)
class _Side:
    """One split's distinct normalised inputs, the text of each example, and the texts' sketches."""

    texts: list[str]
    text_of: list[int]
    members: list[list[int]]
    grams: _Grams
    signatures: NDArray
    keys: NDArray


def lsh_bands(threshold: float) -> tuple[int, int]:
    """(bands, rows): the most rows per band that keep RECALL_AT_THRESHOLD at the threshold."""
    for rows in range(PERMUTATIONS // 2, 0, -1):
        bands = PERMUTATIONS // rows
        if 1 - (1 - threshold**rows) ** bands >= RECALL_AT_THRESHOLD:
            return bands, rows
    return PERMUTATIONS, 1


def _band_keys(signatures: NDArray, rows: int) -> NDArray:
    """One 64-bit key per band of `rows` MinHash values (a key collision only adds a candidate)."""
    bands = signatures.reshape(len(signatures), signatures.shape[1] // rows, rows).astype(U64)
    keys = bands[:, :, 0]
    for row in range(1, rows):
        keys = _fmix64(keys * U64(0x9E3779B97F4A7C15) + bands[:, :, row])
    return keys


def _band_collisions(left: NDArray, right: NDArray) -> Iterator[tuple[NDArray, NDArray]]:
    """(left rows, right rows) with equal keys in one band, in steps of about _PAIRS_PER_STEP pairs."""
    order = np.argsort(left, kind="stable")
    ranked = left[order]
    low = np.searchsorted(ranked, right, side="left")
    count = np.searchsorted(ranked, right, side="right") - low
    hit = np.flatnonzero(count)
    total = np.cumsum(count[hit])
    # A step ends where the running pair count passes a multiple of _PAIRS_PER_STEP, so one band of
    # a pathological dataset (every row alike) cannot take all memory at once.
    cuts = np.searchsorted(
        total, np.arange(_PAIRS_PER_STEP, int(total[-1]) if len(total) else 0, _PAIRS_PER_STEP)
    )
    for step in np.split(hit, np.unique(cuts + 1)):
        per_hit = count[step]
        within = np.arange(int(per_hit.sum())) - np.repeat(np.cumsum(per_hit) - per_hit, per_hit)
        yield order[np.repeat(low[step], per_hit) + within], np.repeat(step, per_hit)


def _candidate_pairs(left: _Side, right: _Side, threshold: float) -> NDArray:
    """Distinct (left text, right text) pairs that share a band and whose estimate is close enough."""
    kept = []
    for band in range(left.keys.shape[1]):
        for i, j in _band_collisions(left.keys[:, band], right.keys[:, band]):
            first = left.signatures[i, :PRESCREEN_COLUMNS] == right.signatures[j, :PRESCREEN_COLUMNS]
            close = first.mean(axis=1) >= threshold - PRESCREEN_MARGIN
            i, j = i[close], j[close]
            close = (left.signatures[i] == right.signatures[j]).mean(axis=1) >= threshold - ESTIMATE_MARGIN
            kept.append(i[close] * len(right.texts) + j[close])
    codes = np.sort(np.concatenate(kept)) if kept else np.empty(0, dtype=np.int64)
    codes = codes[np.append(True, codes[1:] != codes[:-1])] if len(codes) else codes
    return np.stack([codes // len(right.texts), codes % len(right.texts)], axis=1)


def _kth_smallest_per_text(values: NDArray, text: NDArray, texts: int, k: int) -> NDArray:
    """Each text's k-th smallest value (or its largest), for values below 2**32 grouped by text."""
    ranked = np.sort(text.astype(np.int64) << 32 | values)
    counts = np.bincount(text, minlength=texts)
    at = np.cumsum(counts) - counts + np.clip(np.minimum(counts, k) - 1, 0, None)
    kth: NDArray = ranked[np.minimum(at, max(len(ranked) - 1, 0))] & 0xFFFFFFFF
    return kth


def _sides(by_name: Mapping[str, Sequence[Example]], bands: int, rows: int) -> dict[str, _Side]:
    """Each split's distinct inputs, their sketch over all 4-grams and their band keys over the rarer ones."""
    texts_of: dict[str, dict[str, int]] = {}
    text_of: dict[str, list[int]] = {}
    for name, examples in by_name.items():
        numbers = texts_of[name] = {}
        text_of[name] = [numbers.setdefault(text, len(numbers)) for text in _input_texts(examples)]
    grams = {name: _grams(list(numbers)) for name, numbers in texts_of.items()}
    occurrences = np.bincount(
        np.concatenate([g.hashes for g in grams.values()]) >> U32(32 - _COUNT_BITS),
        minlength=1 << _COUNT_BITS,
    )
    sides = {}
    for name, g in grams.items():
        counts = occurrences[g.hashes >> U32(32 - _COUNT_BITS)]
        cap = np.maximum(_kth_smallest_per_text(counts, g.text, g.texts, BAND_GRAMS), COMMON_ROWS)
        rare = counts <= cap[g.text]
        banded = _minhashes(g, rare, bands * rows)
        full = np.minimum(banded, _minhashes(g, ~rare, bands * rows))
        members: list[list[int]] = [[] for _ in range(g.texts)]
        for i, t in enumerate(text_of[name]):
            members[t].append(i)
        keys = _band_keys(banded, rows)
        sides[name] = _Side(list(texts_of[name]), text_of[name], members, g, full, keys)
    return sides


class _HashedShingles(dict[int, frozenset[int]]):
    """The hashed 4-gram sets of one side's texts, made on first use."""

    def __init__(self, grams: _Grams) -> None:
        super().__init__()
        self.hashes = grams.hashes
        counts = np.bincount(grams.text, minlength=grams.texts)
        self.bounds = np.stack([np.cumsum(counts) - counts, np.cumsum(counts)], axis=1).tolist()

    def __missing__(self, index: int) -> frozenset[int]:
        start, end = self.bounds[index]
        self[index] = frozenset(self.hashes[start:end].tolist())
        return self[index]


def _near_duplicate_texts(left: _Side, right: _Side, threshold: float) -> list[tuple[int, int, float]]:
    """(left text, right text, exact Jaccard) for distinct texts at or above the threshold."""
    left_sets, right_sets = _HashedShingles(left.grams), _HashedShingles(right.grams)
    found = []
    for i, j in _candidate_pairs(left, right, threshold).tolist():
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
    pair: tuple[str, str], a: Sequence[Example], left: _Side, b: Sequence[Example], right: _Side
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
    left: _Side,
    b: Sequence[Example],
    right: _Side,
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
    sides = _sides(by_name, bands, rows)
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
