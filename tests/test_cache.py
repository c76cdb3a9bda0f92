"""The call cache: stable keys, entries that persist and never change, fresh copies for callers."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from promptc.lm.cache import CallCache, call_key

RESPONSE = {"text": "category: billing", "prompt_tokens": 12, "completion_tokens": 2, "cost_usd": 0.0}


def reference_key(
    model: str, revision: str, messages: list[dict[str, Any]], params: dict[str, Any], sample: int
) -> str:
    """The key as promptc has always computed it (caches written by earlier versions stay valid)."""
    blob = json.dumps(
        {"model": model, "revision": revision, "messages": messages, "params": params, "sample": sample},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


ODD_TEXTS = [
    "",
    "plain",
    'quote " and \\ backslash',
    "tab\tnew\nline\r",
    "\x00\x1f\x7f",
    "é ü 日本 🙂",
    "\u2028",
]


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "user", "content": text} for text in ODD_TEXTS],
        [{"content": "order of keys", "role": "system"}, {"role": "user", "content": "x"}],
        [{"role": "user", "content": "x", "name": "extra key"}],
        [{"role": "user"}, {"content": "no role"}],
        [{"role": "user", "content": [{"type": "text", "text": "list content"}]}],
        [{"role": "user", "content": 1}, {"role": "user", "content": True}, {"role": "user", "content": 1.0}],
    ],
)
def test_keys_match_the_canonical_json_hash(messages: list[dict[str, Any]]) -> None:
    params = {"temperature": 0.7, "max_tokens": 64, "grammar": 'root ::= "a"', "score_labels": ["a", "é"]}
    for sample in (0, 3):
        assert call_key("fake/x", "rev", messages, params, sample) == reference_key(  # type: ignore[arg-type]
            "fake/x", "rev", messages, params, sample
        )


def test_keys_match_the_canonical_json_hash_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = 'ab "\\\n\t\x01é日🙂:{}[],'
    for _ in range(300):
        messages = [
            {
                "role": rng.choice(["system", "user", "assistant"]),
                "content": "".join(rng.choices(alphabet, k=9)),
            }
            for _ in range(rng.randrange(4))
        ]
        params = {"temperature": rng.choice([0, 0.0, 1.5]), "max_tokens": 64}
        assert call_key("m", "r", messages, params, 0) == reference_key("m", "r", messages, params, 0)


def test_entries_persist_across_instances_and_after_close(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    first = CallCache(path)
    first.put("k1", RESPONSE)
    assert CallCache(path).get("k1") == RESPONSE  # committed at once: visible before close
    first.put("k2", RESPONSE)
    first.close()
    again = CallCache(path)
    assert again.get("k1") == again.get("k2") == RESPONSE
    assert again.get("k3") is None


def test_first_write_wins_across_instances(tmp_path: Path) -> None:
    a, b = CallCache(tmp_path / "c.sqlite"), CallCache(tmp_path / "c.sqlite")
    a.put("k", RESPONSE)
    b.put("k", {**RESPONSE, "text": "category: other"})
    a.put("k", {**RESPONSE, "text": "category: third"})
    assert a.get("k") == b.get("k") == RESPONSE
    rows = sqlite3.connect(tmp_path / "c.sqlite").execute("SELECT response FROM calls").fetchall()
    assert [json.loads(r[0]) for r in rows] == [RESPONSE]


def test_callers_get_independent_copies(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "c.sqlite")
    response = dict(RESPONSE)
    cache.put("k", response)
    response["text"] = "changed by the caller"
    got = cache.get("k")
    assert got == RESPONSE
    assert got is not None
    got["text"] = "changed again"
    assert cache.get("k") == RESPONSE
