"""A content-addressed SQLite cache of model calls."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from promptc.errors import RuntimeFailure


def call_key(
    model: str, revision: str, messages: list[dict[str, str]], params: dict[str, Any], sample: int
) -> str:
    """The cache key: a hash of everything that determines a completion."""
    blob = json.dumps(
        {"model": model, "revision": revision, "messages": messages, "params": params, "sample": sample},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class CallCache:
    """Completed calls keyed by call_key; safe to share between threads."""

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

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for key, as a fresh dict, or None."""
        with self._lock:
            row = self._db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    def put(self, key: str, response: dict[str, Any]) -> None:
        """Store a response (first write wins)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO calls (key, response) VALUES (?, ?)", (key, json.dumps(response))
            )
            self._db.commit()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
