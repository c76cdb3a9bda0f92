"""Text normalisation, character 4-grams, MinHash sketches and LSH bands, in bulk with numpy.

`normalise` folds Unicode forms, Cyrillic and Greek letters that look like Latin ones, case,
punctuation, symbols and whitespace. A text's 4-grams are
hashed to 32 bits (FNV-style); its MinHash row follows datasketch's affine32 scheme for SEED, so
`minhash_signatures` equals datasketch's MinHash of the same 4-grams. promptc.data.leakage uses these to
find near-duplicate inputs across splits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray as _NDArray

SHINGLE_SIZE = 4
PERMUTATIONS = 128
SEED = 20261123
# Bands are chosen so that a pair exactly at the threshold shares a band with probability at least
# this: at 0.5, 42 bands of 3 rows (0.996); at 0.85, 16 bands of 8 rows (0.994).
RECALL_AT_THRESHOLD = 0.99
_CHUNK = 2048
_PAIRS_PER_STEP = 1 << 18
_MULTIPLIER = 0x01000193  # FNV's 32-bit prime

U32 = np.uint32
U64 = np.uint64
NDArray = _NDArray[Any]


# Cyrillic and Greek letters drawn like a Latin one (Unicode's confusables, letters only): NFKC
# keeps them apart, so "paypal" with a Cyrillic "pa" would not match the Latin one. Folded before case,
# both cases are listed; a text in those scripts is folded the same on both sides of a comparison.
_LOOKALIKES = str.maketrans(
    "\u0410\u0412\u0415\u0405\u0406\u0408\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423"
    "\u0430\u0435\u0455\u0456\u0458\u043e\u0440\u0441\u0445\u0443\u04bb\u0501\u051b\u051d\u04cf"  # Cyrillic
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7"
    "\u03b1\u03b9\u03ba\u03bd\u03bf\u03c1\u03c5\u03c7",  # Greek
    "ABESIJKMHOPCTXYaesijopcxyhdqwlABEZHIKMNOPTYXaikvopux",
)

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
    folded = [
        unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", t).translate(_LOOKALIKES).casefold())
        for t in texts
    ]
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


def pad_text(text: str) -> str:
    return f" {text} ".ljust(SHINGLE_SIZE)


def shingles(text: str) -> frozenset[str]:
    """The set of character 4-grams of a normalised text, padded with a space at each end."""
    text = pad_text(text)
    return frozenset(text[i : i + SHINGLE_SIZE] for i in range(len(text) - SHINGLE_SIZE + 1))


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    """|a & b| / |a | b|."""
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def fmix64(h: NDArray) -> NDArray:
    """MurmurHash3's 64-bit finaliser: a bijection that spreads every input bit over the output."""
    h = h ^ (h >> U64(33))
    h = h * U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> U64(33))
    h = h * U64(0xC4CEB9FE1A85EC53)
    mixed: NDArray = h ^ (h >> U64(33))
    return mixed


def fmix32(h: NDArray) -> NDArray:
    """MurmurHash3's 32-bit finaliser, the pre-mix of datasketch's affine32 MinHash scheme."""
    h = h ^ (h >> U32(16))
    h = h * U32(0x85EBCA6B)
    h = h ^ (h >> U32(13))
    h = h * U32(0xC2B2AE35)
    mixed: NDArray = h ^ (h >> U32(16))
    return mixed


@dataclass(frozen=True)
class Grams:
    """The hashed 4-grams of a list of texts, grouped by text, and the text each belongs to."""

    hashes: NDArray
    text: NDArray
    texts: int


def grams_of(texts: Sequence[str]) -> Grams:
    padded = [pad_text(t) for t in texts]
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
    return Grams(hashes[kept], np.repeat(np.arange(len(texts)), counts), len(texts))


def shingle_hashes(text: str) -> list[int]:
    """The 32-bit hashes of the 4-grams of one normalised text, as the MinHash sketches use them."""
    return [int(h) for h in grams_of([text]).hashes]


def _permutations(num_perm: int) -> tuple[NDArray, NDArray]:
    """The (a, b) of datasketch's affine32 permutations h -> a * h + b mod 2**32 for SEED."""
    generator = np.random.RandomState(SEED)
    a = generator.randint(0, 1 << 31, num_perm, dtype=U32) * U32(2) + U32(1)
    return a, generator.randint(0, 1 << 32, num_perm, dtype=U32)


def minhashes(grams: Grams, selected: NDArray, num_perm: int) -> NDArray:
    """MinHash rows of the texts over their selected 4-grams (all ones where a text has none)."""
    a, b = _permutations(num_perm)
    mixed = fmix32(grams.hashes[selected])
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
    grams = grams_of(texts)
    return minhashes(grams, np.ones(len(grams.hashes), dtype=bool), num_perm)


def lsh_bands(threshold: float) -> tuple[int, int]:
    """(bands, rows): the most rows per band that keep RECALL_AT_THRESHOLD at the threshold."""
    for rows in range(PERMUTATIONS // 2, 0, -1):
        bands = PERMUTATIONS // rows
        if 1 - (1 - threshold**rows) ** bands >= RECALL_AT_THRESHOLD:
            return bands, rows
    return PERMUTATIONS, 1


def band_keys(signatures: NDArray, rows: int) -> NDArray:
    """One 64-bit key per band of `rows` MinHash values (a key collision only adds a candidate)."""
    bands = signatures.reshape(len(signatures), signatures.shape[1] // rows, rows).astype(U64)
    keys = bands[:, :, 0]
    for row in range(1, rows):
        keys = fmix64(keys * U64(0x9E3779B97F4A7C15) + bands[:, :, row])
    return keys


def band_collisions(left: NDArray, right: NDArray) -> Iterator[tuple[NDArray, NDArray]]:
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


def kth_smallest_per_text(values: NDArray, text: NDArray, texts: int, k: int) -> NDArray:
    """Each text's k-th smallest value (or its largest), for values below 2**32 grouped by text."""
    ranked = np.sort(text.astype(np.int64) << 32 | values)
    counts = np.bincount(text, minlength=texts)
    at = np.cumsum(counts) - counts + np.clip(np.minimum(counts, k) - 1, 0, None)
    kth: NDArray = ranked[np.minimum(at, max(len(ranked) - 1, 0))] & 0xFFFFFFFF
    return kth


class HashedShingles(dict[int, frozenset[int]]):
    """The hashed 4-gram sets of one side's texts, made on first use."""

    def __init__(self, grams: Grams) -> None:
        super().__init__()
        self.hashes = grams.hashes
        counts = np.bincount(grams.text, minlength=grams.texts)
        self.bounds = np.stack([np.cumsum(counts) - counts, np.cumsum(counts)], axis=1).tolist()

    def __missing__(self, index: int) -> frozenset[int]:
        start, end = self.bounds[index]
        self[index] = frozenset(self.hashes[start:end].tolist())
        return self[index]
