"""promptc export: teacher traces that pass the metric as chat JSONL; hostile output paths; never test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptc.config.load import load_config
from promptc.data.load import load_splits
from promptc.metrics import load_metric
from promptc.prompting.adapter import parse_reply
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke
from tests.test_gepa import REFLECTION


def _compiled(write_config: ConfigWriter) -> tuple[Path, str]:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["optimizer"] = {
            "name": "gepa",
            "settings": {"reflection_model": REFLECTION, "max_metric_calls": 200, "minibatch_size": 6},
        }

    path = write_config(edit)
    result = invoke("compile", str(path))
    assert result.exit_code in (0, 1), result.output
    return path, artifact_id(result.output)


@pytest.mark.parametrize("fmt", ["openai-chat-jsonl", "jsonl"])
def test_exported_traces_load_and_each_passes_the_metric(
    write_config: ConfigWriter, tmp_path: Path, fmt: str
) -> None:
    path, art = _compiled(write_config)
    out = tmp_path / "traces.jsonl"
    result = invoke("export", art, "--config", str(path), "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    cfg = load_config(path)
    program = cfg.program
    metric = load_metric(cfg.metric, program.signature, path.parent)
    train = {e.inputs["ticket"]: e for e in load_splits(cfg.data, program.signature).train}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and len(rows) <= len(train)
    assert f"{len(rows)} traces from train written to {out}" in " ".join(result.output.split())
    compiled = json.loads(next((tmp_path / "artifacts").rglob(f"{art}.json")).read_text())
    for row in rows:
        system, user, assistant = row["messages"]
        assert [system["role"], user["role"], assistant["role"]] == ["system", "user", "assistant"]
        assert system["content"].startswith(compiled["candidate"]["instructions"])
        example = train[user["content"].split("ticket: ", 1)[1]]
        outputs, _ = parse_reply(program, assistant["content"], False)
        assert metric(example.outputs, outputs).score == 1.0
        if fmt == "jsonl":
            assert row["id"] == example.id and row["split"] == "train" and row["score"] == 1.0
            assert row["outputs"] == outputs
        else:
            assert set(row) == {"messages"}


def test_the_test_split_is_never_exported(write_config: ConfigWriter, tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    for split in ("test", "train+test"):
        result = invoke(
            "export", "latest", "--config", str(write_config()), "--out", str(out), "--split", split
        )
        assert result.exit_code == 2, result.output
        assert "holdout split is never exported" in result.output
    assert not out.exists()


def test_an_unknown_format_or_split_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config()
    out = tmp_path / "t.jsonl"
    result = invoke("export", "latest", "--config", str(path), "--out", str(out), "--format", "csv")
    assert result.exit_code == 2 and "--format: unknown format 'csv'" in result.output
    assert "openai-chat-jsonl, jsonl" in result.output
    result = invoke("export", "latest", "--config", str(path), "--out", str(out), "--split", "holdout")
    assert result.exit_code == 2 and "--split: unknown split 'holdout'" in result.output


def test_hostile_output_paths_are_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    path, art = _compiled(write_config)

    def export(out: Path, *extra: str) -> Any:
        return invoke("export", art, "--config", str(path), "--out", str(out), *extra)

    taken = tmp_path / "taken.jsonl"
    taken.write_text("keep me\n")
    result = export(taken)
    assert result.exit_code == 2 and "the file exists" in result.output and "--force" in result.output
    assert taken.read_text() == "keep me\n"
    assert export(taken, "--force").exit_code == 0
    assert taken.read_text() != "keep me\n" and json.loads(taken.read_text().splitlines()[0])

    result = export(tmp_path)
    assert result.exit_code == 2 and "is a directory" in result.output
    result = export(tmp_path / "missing" / "t.jsonl")
    assert result.exit_code == 2 and "does not exist" in result.output
    link = tmp_path / "link.jsonl"
    link.symlink_to(taken)
    result = export(link, "--force")
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unknown_artifact_is_refused(write_config: ConfigWriter, tmp_path: Path) -> None:
    result = invoke("export", "nosuch", "--config", str(write_config()), "--out", str(tmp_path / "t.jsonl"))
    assert result.exit_code == 2 and "no artifact or alias 'nosuch'" in result.output


@pytest.mark.parametrize("threshold", ["nan", "inf", "-inf", "1.5", "-0.1"])
def test_a_threshold_that_is_not_a_score_is_refused(
    write_config: ConfigWriter, tmp_path: Path, threshold: str
) -> None:
    path = write_config(model="fake/learner")
    art = artifact_id(invoke("compile", path).output)
    out = tmp_path / "traces.jsonl"
    result = invoke("export", art, "--config", str(path), "--out", str(out), "--min-score", threshold)
    assert result.exit_code == 2, result.output  # nan exported every trace, failing ones too
    assert f"--min-score {float(threshold)}: not a score between 0 and 1" in result.output
    assert not out.exists()


def test_a_fifo_output_is_refused_even_with_force(write_config: ConfigWriter, tmp_path: Path) -> None:
    import os
    import stat

    path = write_config()
    art = artifact_id(invoke("compile", path).output)
    fifo = tmp_path / "traces.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a wrong writer would not block
    try:
        result = invoke("export", art, "--config", str(path), "--out", str(fifo), "--force")
    finally:
        os.close(reader)
    assert result.exit_code == 2, result.output
    assert f"--out {fifo}: is a FIFO (named pipe)" in result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # was replaced by a regular file
