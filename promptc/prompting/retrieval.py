"""Nearest-neighbour demos: for each input, the most similar pool examples by BM25 (bm25s).

BM25 weighs the words an input shares with each pool example by how rare they are, so
topic words count and filler words do not; bm25s computes it over sparse matrices. An
index is built once per pool and reused for every input.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

from promptc.prompting.program import Demo, Program

_lock = threading.Lock()
_indexes: dict[str, Any] = {}
_pools: dict[int, tuple[tuple[Demo, ...], Program, str]] = {}  # the same pool object -> its index key
_MAX_INDEXES = 64  # pools differ per candidate; a compile builds a handful


def input_text(program: Program, inputs: Mapping[str, Any]) -> str:
    """The text an input is matched on: its input fields' values, in signature order."""
    return "\n".join(str(inputs.get(f.name, "")) for f in program.signature.inputs)


def _index(program: Program, pool: tuple[Demo, ...]) -> Any:
    with _lock:
        seen = _pools.get(id(pool))
        if seen is not None and seen[0] is pool and seen[1] is program and seen[2] in _indexes:
            return _indexes[seen[2]]
    texts = [input_text(program, d.inputs) for d in pool]
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    with _lock:
        if len(_pools) >= _MAX_INDEXES:
            _pools.clear()
        _pools[id(pool)] = (pool, program, key)  # the pool is held, so its id is not reused
        if key not in _indexes:
            import bm25s

            retriever = bm25s.BM25()
            retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
            if len(_indexes) >= _MAX_INDEXES:
                _indexes.pop(next(iter(_indexes)))
            _indexes[key] = (retriever, texts)
        return _indexes[key]


def nearest_demos(
    program: Program, pool: tuple[Demo, ...], inputs: Mapping[str, Any], k: int
) -> tuple[Demo, ...]:
    """The k pool demos most similar to inputs, the most similar last (nearest the question).

    Ties keep pool order; a pool example whose text equals the input's is never shown.
    """
    import bm25s
    import numpy as np

    if not pool or k <= 0:
        return ()
    retriever, texts = _index(program, pool)
    query = input_text(program, inputs)
    tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
    scores = np.zeros(len(pool))
    if tokens.vocab:  # a query of stopwords only matches nothing
        scores = np.asarray(retriever.get_scores(list(tokens.vocab)), dtype=float)
    order = sorted(range(len(pool)), key=lambda i: (-scores[i], i))
    picked = [i for i in order if texts[i] != query][:k]
    return tuple(pool[i] for i in reversed(picked))
