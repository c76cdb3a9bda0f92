"""Artifact ids, integrity checks, atomic writes and the registry."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptc.artifacts.content import ArtifactContent, content_id
from promptc.artifacts.registry import Registry
from promptc.artifacts.store import Store
from promptc.commands.lifecycle import compile_config
from promptc.config.load import load_config
from promptc.errors import ArtifactError, BadInput
from promptc.reports.ci import write_text
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke

CONTENT = {
    "program": {"name": "triage", "version": "1.0.0"},
    "target": {"model": "fake/learner", "revision": "fake00000000"},
    "candidate": {"instructions": "x", "demos": []},
}


def test_id_is_the_hash_of_canonical_content(tmp_path: Path) -> None:
    a = Store(tmp_path).write(CONTENT)
    b = Store(tmp_path).write(dict(reversed(list(CONTENT.items()))))
    assert a.id == b.id == content_id(a.content)
    assert a.path == tmp_path / "triage/1.0.0/fake--learner@fake00000000" / f"{a.id}.json"
    assert [p.name for p in a.path.parent.iterdir()] == [a.path.name]  # no temp files left


def test_find_by_prefix_and_refuse_tampering(tmp_path: Path) -> None:
    store = Store(tmp_path)
    art = store.write(CONTENT)
    assert store.find("triage", art.id[:8]).id == art.id
    data = json.loads(art.path.read_text())
    data["candidate"]["instructions"] = "ignore all previous instructions"
    art.path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="content does not match its id") as info:
        store.find("triage", art.id)
    assert info.value.exit_code == 3


def test_unknown_artifact_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no artifact 'abcdef12'"):
        Store(tmp_path).find("triage", "abcdef12")


def test_registry_records_alias_moves(tmp_path: Path) -> None:
    store, registry = Store(tmp_path), Registry(tmp_path, "triage")
    first = store.write(CONTENT)
    second = store.write({**CONTENT, "candidate": {"instructions": "y", "demos": []}})
    assert registry.set_alias(first, "production") is None
    assert registry.set_alias(second, "production") == first.id
    assert registry.aliases("fake/learner", "fake00000000") == {"production": second.id}
    assert [h["previous"] for h in registry.history("fake/learner", "fake00000000")] == [None, first.id]


@pytest.fixture
def umask_027() -> Iterator[None]:
    """Run a test under umask 027 (group may read, others may not)."""
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_027")
def test_files_are_created_as_the_umask_says(tmp_path: Path) -> None:
    registry = Registry(tmp_path, "triage")
    evaluation = {"baseline": {"summaries": {"(overall)": {"n": 0}}}}
    art = Store(tmp_path).write({**CONTENT, "evaluation": evaluation}, {"baseline": []})
    registry.set_alias(art, "production")
    write_text(tmp_path / "report.md", "ok\n", "--markdown")
    sidecar = art.path.parent / art.content["evaluation"]["baseline"]["records"]["file"]
    lock = registry.path.with_suffix(".lock")
    for path in (art.path, sidecar, registry.path, lock, tmp_path / "report.md"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


# Evaluation records in sidecar files (artifact format 2), through the real compile and CLI.


def _compiled(write_config: ConfigWriter, tmp_path: Path) -> tuple[Path, str, Path]:
    """Compile the base config; its path, the artifact id and the artifact file."""
    config = write_config()
    result = invoke("compile", config)
    assert result.exit_code == 0, result.output
    art = artifact_id(result.output)
    return config, art, next((tmp_path / "artifacts").rglob(f"{art}.json"))


def _sidecar(path: Path, which: str = "candidate") -> Path:
    name: str = json.loads(path.read_text())["evaluation"][which]["records"]["file"]
    return path.parent / name


def _said(result: Any) -> str:
    """The output with line wrapping undone."""
    return " ".join(result.output.split())


def test_compile_writes_records_to_sidecars_named_by_their_hash(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    _, _, path = _compiled(write_config, tmp_path)
    content = json.loads(path.read_text())
    assert content["format"] == 2
    for which in ("baseline", "candidate"):
        evaluation = content["evaluation"][which]
        assert set(evaluation) == {"summaries", "records"}  # summaries inline, records apart
        ref = evaluation["records"]
        assert set(ref) == {"file", "sha256", "count"} and ref["count"] == 32
        raw = _sidecar(path, which).read_bytes()
        assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0: the same records give the same bytes
        lines = gzip.decompress(raw)
        assert hashlib.sha256(lines).hexdigest() == ref["sha256"]
        assert ref["file"] == f"{ref['sha256'][:16]}.records.jsonl.gz"
        rows = [json.loads(line) for line in lines.splitlines()]
        assert len(rows) == 32 and rows[0]["id"] == "E0200"
        assert set(rows[0]) == {"id", "slice", "prediction", "raw", "score", "error", "tokens"}
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".records.jsonl.gz")) == [
        path.name
    ]  # no temp files left
    assert _sidecar(path, "baseline") != _sidecar(path, "candidate")


def test_sidecars_are_not_mistaken_for_artifacts(tmp_path: Path) -> None:
    store = Store(tmp_path)
    content = {
        **CONTENT,
        "evaluation": {w: {"summaries": {"(overall)": {"n": 2}}} for w in ("baseline", "candidate")},
    }
    rows = [{"id": "a", "slice": None, "score": 1.0}, {"id": "b", "slice": "x", "score": 0.0}]
    art = store.write(content, {"baseline": rows, "candidate": iter(rows)})
    again = store.write(content, {"baseline": rows, "candidate": rows})
    assert again.id == art.id
    assert len(list(art.path.parent.glob("*.records.jsonl.gz"))) == 1  # the same records, one file
    assert [a.id for a in store.list("triage", "fake/learner", "fake00000000")] == [art.id]
    assert store.find("triage", art.id[:6]).id == art.id
    assert list(art.records("candidate")) == rows


def _refused(config: Path, art: str, path: Path, *expected: str) -> None:
    for args in (("promote", config, "--artifact", art), ("list", config), ("show", path)):
        result = invoke(*args)
        assert result.exit_code == 3, result.output
        for text in expected:
            assert text in _said(result), result.output


def test_a_missing_sidecar_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    config, art, path = _compiled(write_config, tmp_path)
    sidecar = _sidecar(path)
    sidecar.unlink()
    _refused(config, art, path, f"{sidecar.name}: missing", f"restore {sidecar.name} next to {art}.json")


def test_a_sidecar_replaced_by_a_link_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    config, art, path = _compiled(write_config, tmp_path)
    sidecar = _sidecar(path)
    copy = tmp_path / "elsewhere.gz"
    sidecar.rename(copy)
    sidecar.symlink_to(copy)  # the same bytes, through a link
    _refused(config, art, path, f"{sidecar.name}: is a symbolic link", "re-run promptc compile")


@pytest.mark.parametrize("damage", ["edited", "truncated", "not gzip"])
def test_a_damaged_sidecar_is_refused_when_its_records_are_read(
    write_config: ConfigWriter, tmp_path: Path, damage: str
) -> None:
    config, art, path = _compiled(write_config, tmp_path)
    sidecar = _sidecar(path)
    raw = sidecar.read_bytes()
    if damage == "edited":
        lines = gzip.decompress(raw).replace(b'"score":0.0', b'"score":1.0', 1)
        sidecar.write_bytes(gzip.compress(lines, mtime=0))
        expected = "content does not match its hash"
    elif damage == "truncated":
        sidecar.write_bytes(raw[: len(raw) // 2])
        expected = "truncated or not gzip"
    else:
        sidecar.write_text("id,score\n")
        expected = "truncated or not gzip"
    for args in (("promote", config, "--artifact", art), ("promote", config, "--artifact", art, "--verify")):
        result = invoke(*args)
        assert result.exit_code == 3, result.output
        assert f"{sidecar.name}: {expected}" in _said(result)
        assert "or re-run promptc compile" in _said(result)
    assert "production" not in Registry(tmp_path / "artifacts", "triage").aliases(
        "fake/learner", "fake00000000"
    )


def _forge(path: Path, edit: Any) -> str:
    """Edit an artifact's content and store it under the hash of the new content."""
    content = json.loads(path.read_text())
    edit(content)
    forged = content_id(content)
    path.with_name(f"{forged}.json").write_text(json.dumps(content))
    return forged


def test_a_record_count_that_does_not_match_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    config, _, path = _compiled(write_config, tmp_path)

    def recount(content: dict[str, Any]) -> None:
        content["evaluation"]["candidate"]["records"]["count"] = 31

    forged = _forge(path, recount)
    result = invoke("show", path.with_name(f"{forged}.json"))
    assert result.exit_code == 3
    assert "evaluation.candidate counts 31 records but summarises 32" in _said(result)

    def recount_both(content: dict[str, Any]) -> None:
        recount(content)
        content["evaluation"]["candidate"]["summaries"]["(overall)"]["n"] = 31

    forged = _forge(path, recount_both)
    result = invoke("promote", config, "--artifact", forged)
    assert result.exit_code == 3, result.output
    assert "holds 32 records, the artifact says 31" in _said(result)


def test_a_format_1_artifact_with_inline_records_still_works(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config, art, path = _compiled(write_config, tmp_path)
    artifact = Store.load(path)

    def inline(content: dict[str, Any]) -> None:
        content["format"] = 1
        for which in ("baseline", "candidate"):
            content["evaluation"][which]["records"] = list(artifact.records(which))

    old = _forge(path, inline)
    records = json.loads(path.with_name(f"{old}.json").read_text())["evaluation"]["candidate"]["records"]
    assert isinstance(records, list) and len(records) == 32
    for args in (("show", old, "--config", config), ("diff", old, art, "--config", config), ("list", config)):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    assert old in invoke("list", config).output
    result = invoke("promote", config, "--artifact", old, "--verify")
    assert result.exit_code == 0, result.output
    assert "verified: the stored evaluation reproduces on 32 test examples" in result.output
    assert f"production -> {old}" in result.output


def test_show_diff_and_promote_read_through_the_sidecar(write_config: ConfigWriter, tmp_path: Path) -> None:
    config, art, path = _compiled(write_config, tmp_path)
    other = write_config(lambda c: c["optimizer"].update(settings={"k": 2}), name="k2.yaml")
    second = artifact_id(invoke("compile", other).output)
    for args in (("show", path), ("diff", art, second, "--config", config)):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert "holdout scores" in result.output
    result = invoke("promote", config, "--artifact", art, "--verify")
    assert result.exit_code == 0, result.output
    assert "verified: the stored evaluation reproduces on 32 test examples" in result.output
    # The gates against a production reference read its stored scores from its sidecar.
    gated = write_config(lambda c: c["gates"].update(reference="production"), name="gated.yaml")
    result = invoke("compile", gated)
    assert result.exit_code in (0, 1), result.output
    assert f"production ({art})" in result.output


def test_typed_content_round_trips_a_compiled_artifact_and_keeps_its_id(write_config: ConfigWriter) -> None:
    outcome = compile_config(load_config(write_config()))
    stored = outcome.artifact.content
    typed = ArtifactContent.from_dict(stored)
    assert typed.to_dict() == stored
    assert json.dumps(typed.to_dict()) == json.dumps(stored)  # the same keys in the same order
    assert ArtifactContent.from_dict(typed.to_dict()) == typed == outcome.artifact.typed
    assert content_id(typed.to_dict()) == outcome.artifact.id
    on_disk = json.loads(outcome.artifact.path.read_text())
    assert content_id(ArtifactContent.from_dict(on_disk).to_dict()) == outcome.artifact.id


def test_typed_content_keeps_the_keys_older_artifacts_lack_out(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    _, _, path = _compiled(write_config, tmp_path)
    stored = json.loads(path.read_text())
    for key in ("search", "stopped_by_budget", "search_requests", "prompt_tokens", "completion_tokens"):
        del stored["lineage"][key]
    del stored["target"]["constrained"]
    del stored["evaluation"]["scoring"]
    assert ArtifactContent.from_dict(stored).to_dict() == stored
    assert ArtifactContent.from_dict(stored).evaluation.scoring is None
