"""The alias registry: rollback, history, and promotions racing in parallel processes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from promptc.artifacts.registry import AliasMoved, Registry
from promptc.artifacts.store import Store
from promptc.errors import ArtifactError, BadInput

TARGET = {"model": "fake/learner", "revision": "fake00000000"}


def _artifact(root: Path, text: str):  # type: ignore[no-untyped-def]
    content = {
        "program": {"name": "triage", "version": "1.0.0"},
        "target": TARGET,
        "candidate": {"instructions": text, "demos": []},
    }
    return Store(root).write(content)


def test_rollback_restores_the_previous_artifact_and_can_repeat(tmp_path: Path) -> None:
    registry = Registry(tmp_path, "triage")
    a, b, c = (_artifact(tmp_path, t) for t in "abc")
    for art in (a, b, c):
        registry.set_alias(art, "production")
    assert registry.rollback("fake/learner", "fake00000000", "production") == (c.id, b.id)
    assert registry.aliases("fake/learner", "fake00000000")["production"] == b.id
    assert registry.rollback("fake/learner", "fake00000000", "production") == (b.id, a.id)
    with pytest.raises(BadInput, match="no earlier artifact to roll back to"):
        registry.rollback("fake/learner", "fake00000000", "production")
    actions = [h["action"] for h in registry.history("fake/learner", "fake00000000")]
    assert actions == ["promote", "promote", "promote", "rollback", "rollback"]


def test_rollback_is_per_alias(tmp_path: Path) -> None:
    registry = Registry(tmp_path, "triage")
    a, b = _artifact(tmp_path, "a"), _artifact(tmp_path, "b")
    registry.set_alias(a, "production")
    registry.set_alias(b, "staging")
    registry.set_alias(a, "staging")
    assert registry.rollback("fake/learner", "fake00000000", "staging") == (a.id, b.id)
    assert registry.aliases("fake/learner", "fake00000000") == {"production": a.id, "staging": b.id}


def _promote_many(root: str, ids: list[str], alias: str, start: Any) -> None:
    registry, store = Registry(Path(root), "triage"), Store(Path(root))
    artifacts = [store.find("triage", artifact_id) for artifact_id in ids]
    start.wait()
    for artifact in artifacts:
        registry.set_alias(artifact, alias)


def test_parallel_promotions_leave_a_consistent_registry(tmp_path: Path) -> None:
    arts = [_artifact(tmp_path, f"text {i}") for i in range(10)]
    ids = [a.id for a in arts]
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_promote_many, args=(str(tmp_path), ids[:5] * 40, "production", start)),
        ctx.Process(target=_promote_many, args=(str(tmp_path), ids[5:] * 40, "production", start)),
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    data = json.loads((tmp_path / "triage/registry.json").read_text())
    entry = data["targets"]["fake--learner@fake00000000"]
    assert len(entry["history"]) == 400  # no promotion was lost
    # Each event's `previous` is the artifact the event before it set: the history is one chain.
    for before, after in zip(entry["history"], entry["history"][1:], strict=False):
        assert after["previous"] == before["artifact"]
    assert entry["aliases"]["production"] == entry["history"][-1]["artifact"]
    assert not list((tmp_path / "triage").glob(".registry.json.*"))  # no temp files left behind


def test_promoting_the_current_artifact_again_changes_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path, "triage")
    a, b = _artifact(tmp_path, "a"), _artifact(tmp_path, "b")
    registry.set_alias(a, "production")
    registry.set_alias(b, "production")
    assert registry.set_alias(b, "production") == b.id
    assert len(registry.history("fake/learner", "fake00000000")) == 2
    assert registry.rollback("fake/learner", "fake00000000", "production") == (b.id, a.id)


def test_rollback_skips_repeats_recorded_by_older_registries(tmp_path: Path) -> None:
    registry = Registry(tmp_path, "triage")
    a, b = _artifact(tmp_path, "a"), _artifact(tmp_path, "b")
    for art in (a, b):
        registry.set_alias(art, "production")
    data = json.loads(registry.path.read_text())
    history = data["targets"]["fake--learner@fake00000000"]["history"]
    history.append({**history[-1], "previous": b.id})  # b promoted twice, as older versions recorded it
    registry.path.write_text(json.dumps(data))
    assert registry.rollback("fake/learner", "fake00000000", "production") == (b.id, a.id)


def test_a_promotion_decided_against_an_alias_that_moved_changes_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path, "triage")
    a, b, c = (_artifact(tmp_path, t) for t in "abc")
    registry.set_alias(a, "production")
    registry.set_alias(b, "production")  # moved after c was judged against a
    with pytest.raises(AliasMoved) as moved:
        registry.set_alias(c, "production", unless_moved=("production", a.id))
    assert moved.value.now == b.id
    assert registry.aliases("fake/learner", "fake00000000")["production"] == b.id
    assert len(registry.history("fake/learner", "fake00000000")) == 2
    assert registry.set_alias(c, "production", unless_moved=("production", b.id)) == b.id
    assert registry.set_alias(a, "staging", unless_moved=("canary", None)) is None  # never set: None


def test_rollback_to_an_artifact_no_longer_in_the_store_is_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path, "triage")
    a, b = _artifact(tmp_path, "a"), _artifact(tmp_path, "b")
    for art in (a, b):
        registry.set_alias(art, "production")
    before = registry.path.read_text()
    a.path.unlink()
    with pytest.raises(ArtifactError, match=f"would point it at artifact {a.id}, which is no longer under"):
        registry.rollback("fake/learner", "fake00000000", "production")
    assert registry.path.read_text() == before
