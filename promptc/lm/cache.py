"""A content-addressed SQLite cache of model calls, with an in-process layer in front of it."""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from promptc.errors import RuntimeFailure

_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
MEMORY_ENTRIES = 100_000  # responses held in process per cache; past this the layer starts over


def call_key(
    model: str, revision: str, messages: list[dict[str, str]], params: dict[str, Any], sample: int
) -> str:
    """The cache key: a hash of everything that determines a completion.

    The hash is over json.dumps({...}, sort_keys=True, ensure_ascii=False); the blob is assembled
    from pieces so that a prompt repeated across calls (instructions, demos) is encoded once.
    """
    blob = "".join(
        (
            '{"messages": [',
            _messages_json(messages),
            '], "model": ',
            _ENCODER.encode(model),
            ', "params": ',
            _ENCODER.encode(params),
            ', "revision": ',
            _ENCODER.encode(revision),
            ', "sample": ',
            _ENCODER.encode(sample),
            "}",
        )
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _messages_json(messages: list[dict[str, str]]) -> str:
    """The messages as json.dumps(..., sort_keys=True, ensure_ascii=False) writes them inside a list."""
    try:
        return ", ".join(
            [_chat_json(m["content"], m["role"]) if len(m) == 2 else _ENCODER.encode(m) for m in messages]
        )
    except (KeyError, TypeError):  # not plain role/content messages (or unhashable content)
        return ", ".join(_ENCODER.encode(m) for m in messages)


@functools.lru_cache(maxsize=1024, typed=True)
def _chat_json(content: str, role: str) -> str:
    return f'{{"content": {_ENCODER.encode(content)}, "role": {_ENCODER.encode(role)}}}'


class CallCache:
    """Completed calls keyed by call_key; safe to share between threads and processes.

    Every put is committed at once (WAL), so other processes see it and a crash loses at
    most the call in flight; responses read or written here are also kept in memory, so
    a repeated call costs no SQLite round trip. Entries never change once written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL never corrupts the database; a crash may lose the newest entries,
            # which a cache can afford (they are re-fetched), and each write skips an fsync.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, response TEXT NOT NULL)"
            )
            self._db.commit()
        except sqlite3.Error as exc:
            raise RuntimeFailure(
                f"{path}: cannot open the call cache ({exc})",
                fix="set cache: in the config or PROMPTC_HOME to a writable location",
            ) from None
        self._lock = threading.Lock()
        self._memory: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for key, as a fresh dict, or None."""
        value = self._memory.get(key)
        if value is None:
            with self._lock:
                row = self._db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            value = self._remember(key, json.loads(row[0]))
        return dict(value)  # responses are flat (text and numbers), so a copy is independent

    def put(self, key: str, response: dict[str, Any]) -> None:
        """Store a response (first write wins, across processes too)."""
        with self._lock:
            written = self._db.execute(
                "INSERT OR IGNORE INTO calls (key, response) VALUES (?, ?)", (key, json.dumps(response))
            ).rowcount
            self._db.commit()
            if not written:  # another writer was first; its response is the entry
                row = self._db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
                response = json.loads(row[0])
        self._remember(key, dict(response))

    def _remember(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        if len(self._memory) >= MEMORY_ENTRIES:
            self._memory = {}
        return self._memory.setdefault(key, value)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
            self._memory = {}
