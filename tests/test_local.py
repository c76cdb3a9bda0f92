"""The embedded model's revision: a file's sha256, remembered per file identity."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from promptc import local
from promptc.errors import BadInput


def test_a_file_is_hashed_once_until_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, store = tmp_path / "m.gguf", tmp_path / "home/model-revisions.json"
    model.write_bytes(b"weights v1")
    hashed: list[Path] = []
    real = local.file_sha256

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(local, "file_sha256", counting)
    monkeypatch.setattr(local, "_hashed", {})
    assert local.known_revision(model, store) == hashlib.sha256(b"weights v1").hexdigest()
    monkeypatch.setattr(local, "_hashed", {})  # a new process: only the store remembers
    assert local.known_revision(model, store) == hashlib.sha256(b"weights v1").hexdigest()
    assert len(hashed) == 1

    stat = model.stat()
    model.write_bytes(b"weights v2")  # same size, and the old mtime put back: ctime still moves
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert local.known_revision(model, store) == hashlib.sha256(b"weights v2").hexdigest()
    assert len(hashed) == 2


@pytest.mark.parametrize(
    "content", ["not json", "[1, 2]", '{"x": 1}', '{"PATH": {"identity": 3, "sha256": 1}}']
)
def test_a_damaged_store_is_ignored_and_rewritten(tmp_path: Path, content: str) -> None:
    model, store = tmp_path / "m.gguf", tmp_path / "model-revisions.json"
    model.write_bytes(b"weights")
    store.write_text(content.replace("PATH", str(model)))
    local._hashed.clear()
    assert local.known_revision(model, store) == hashlib.sha256(b"weights").hexdigest()
    local._hashed.clear()
    assert local.known_revision(model, store) == hashlib.sha256(b"weights").hexdigest()
    assert str(model) in store.read_text()


def test_an_unwritable_store_costs_only_speed(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights")
    (tmp_path / "file").write_text("")
    local._hashed.clear()
    assert (
        local.known_revision(model, tmp_path / "file/revisions.json")
        == hashlib.sha256(b"weights").hexdigest()
    )


def test_llama_threads_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTC_LLAMA_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert local.llama_threads() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert local.llama_threads() == 1
    monkeypatch.setenv("PROMPTC_LLAMA_THREADS", "3")
    assert local.llama_threads() == 3
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("PROMPTC_LLAMA_THREADS", bad)
        with pytest.raises(BadInput, match="PROMPTC_LLAMA_THREADS"):
            local.llama_threads()
