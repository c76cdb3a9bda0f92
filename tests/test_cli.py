"""The command line through typer's CliRunner: exit codes and what users read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from promptc.cli.app import app
from promptc.errors import RevisionMismatch
from tests.conftest import ConfigWriter, write_jsonl

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def artifact_id(output: str) -> str:
    m = re.search(r"artifact (\w{16}) written", output)
    assert m, output
    return m.group(1)


def test_check_passes_on_disjoint_splits(write_config: ConfigWriter) -> None:
    result = invoke("check", write_config())
    assert result.exit_code == 0, result.output
    assert "no leakage" in result.output


def test_check_names_both_rows_of_a_shared_id(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    rows = [json.loads(line) for line in (tmp_path / "data/test.jsonl").read_text().splitlines()]
    rows[5]["id"] = "E0003"  # an id of the train split
    write_jsonl(tmp_path / "data/test.jsonl", rows)
    result = invoke("check", config)
    assert result.exit_code == 1
    assert "train.jsonl:4" in result.output and "test.jsonl:6" in result.output
    assert "E0003" in result.output


def test_check_finds_the_same_input_up_to_case_and_punctuation(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config()
    train = [json.loads(line) for line in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (tmp_path / "data/val.jsonl").read_text().splitlines()]
    val[2]["ticket"] = "  " + train[7]["ticket"].upper().replace(" ", " ,  ") + "!!"
    write_jsonl(tmp_path / "data/val.jsonl", val)
    result = invoke("check", config)
    assert result.exit_code == 1
    assert "input" in result.output
    assert "train.jsonl:8" in result.output and "val.jsonl:3" in result.output


def test_compile_refuses_leaky_splits(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    rows = [json.loads(line) for line in (tmp_path / "data/test.jsonl").read_text().splitlines()]
    rows[0]["id"] = "E0001"
    write_jsonl(tmp_path / "data/test.jsonl", rows)
    result = invoke("compile", config)
    assert result.exit_code == 1
    assert "leak" in result.output
    assert not (tmp_path / "artifacts").exists()


def test_compile_twice_gives_the_same_artifact_and_no_new_calls(write_config: ConfigWriter) -> None:
    config = write_config()
    first = invoke("compile", config)
    assert first.exit_code == 0, first.output
    assert re.search(r"model calls: [1-9]\d* made", first.output)
    second = invoke("compile", config)
    assert second.exit_code == 0, second.output
    assert artifact_id(first.output) == artifact_id(second.output)
    assert "model calls: 0 made" in second.output


def test_eval_exit_codes(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    assert invoke("compile", config).exit_code == 0
    report = tmp_path / "report.json"
    passed = invoke("eval", config, "--json", report)
    assert passed.exit_code == 0, passed.output
    data = json.loads(report.read_text())
    assert data["passed"] is True and data["gates"]["slices"][0]["scope"] == "overall"

    strict = write_config(lambda c: c["gates"].update(overall={"min": 0.99}))
    failed = invoke("eval", strict)
    assert failed.exit_code == 1
    assert "overall: score" in failed.output and "< min 0.990" in failed.output

    bad = write_config(lambda c: c["program"].pop("version"), name="bad.yaml")
    broken = invoke("eval", bad)
    assert broken.exit_code == 2
    assert "bad.yaml" in broken.output and "'version' is a required property" in broken.output


def test_eval_fails_a_gate_on_a_slice_missing_from_the_data(write_config: ConfigWriter) -> None:
    config = write_config()
    assert invoke("compile", config).exit_code == 0
    gated = write_config(lambda c: c["gates"].update(slices={"fax": {"min": 0.1}}))
    result = invoke("eval", gated)
    assert result.exit_code == 1
    assert "fax" in result.output and "no examples" in result.output


def test_promote_then_run(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    compiled = invoke("compile", config)
    promoted = invoke("promote", config, "--artifact", artifact_id(compiled.output))
    assert promoted.exit_code == 0, promoted.output
    assert "production" in promoted.output
    registry = json.loads((tmp_path / "artifacts/triage/registry.json").read_text())
    history = registry["targets"]["fake--learner@fake00000000"]["history"]
    assert [h["action"] for h in history] == ["compile", "promote"]
    answered = invoke("run", config, "--input", "ticket=refund invoice charged please")
    assert answered.exit_code == 0, answered.output
    assert "category: billing" in answered.output


def test_promote_refuses_an_artifact_of_another_model_revision(write_config: ConfigWriter) -> None:
    config = write_config()
    compiled = invoke("compile", config)
    other = write_config(lambda c: c["target"].update(revision="fake00000001"), name="other.yaml")
    result = invoke("promote", other, "--artifact", artifact_id(compiled.output))
    assert result.exit_code == 2
    assert "compiled for fake/learner@fake00000000" in result.output
    assert "compile and evaluate an artifact for this model revision" in result.output


def test_promote_refuses_a_failing_artifact(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    compiled = invoke("compile", config)
    strict = write_config(lambda c: c["gates"].update(overall={"min": 0.99}), name="strict.yaml")
    result = invoke("promote", strict, "--artifact", artifact_id(compiled.output))
    assert result.exit_code == 1
    assert "fails the release gates" in result.output
    registry = yaml.safe_load((tmp_path / "artifacts/triage/registry.json").read_text())
    assert "production" not in registry["targets"]["fake--learner@fake00000000"]["aliases"]


def test_run_without_a_promoted_artifact_says_what_to_do(write_config: ConfigWriter) -> None:
    result = invoke("run", write_config(), "--input", "ticket=hello")
    assert result.exit_code == 2
    assert "run promptc compile first" in result.output


def test_run_rejects_malformed_and_unknown_inputs(write_config: ConfigWriter) -> None:
    config = write_config()
    invoke("compile", config)
    assert invoke("promote", config, "--artifact", "latest").exit_code == 0
    malformed = invoke("run", config, "--input", "ticket")
    assert malformed.exit_code == 2 and "NAME=VALUE" in malformed.output
    unknown = invoke("run", config, "--input", "ticket=x", "--input", "colour=red")
    assert unknown.exit_code == 2 and "colour" in unknown.output


def test_unreachable_provider_exits_3(write_config: ConfigWriter) -> None:
    result = invoke("compile", write_config(model="fake/down"))
    assert result.exit_code == 3
    assert "after 3 attempts" in result.output


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = invoke("check", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and "promptc" in result.output


def test_python_api_serves_the_promoted_artifact(write_config: ConfigWriter) -> None:
    import promptc

    config = write_config()
    invoke("compile", config)
    assert invoke("promote", config, "--artifact", "latest").exit_code == 0
    triage = promptc.load(str(config))
    assert triage(ticket="refund invoice charged please") == {"category": "billing"}
    other = write_config(lambda c: c["target"].update(revision="fake00000001"), name="other.yaml")
    with pytest.raises(RevisionMismatch):
        promptc.load(str(other), triage.artifact.id)


def _relabel(tmp_path: Path, category: str, channel: str | None = None) -> None:
    for split in ("train", "val", "test"):
        path = tmp_path / f"data/{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row["category"] = category
            row["channel"] = channel or row["channel"]
        write_jsonl(path, rows)


def test_markup_in_labels_is_printed_as_text_in_errors(write_config: ConfigWriter) -> None:
    config = write_config(
        lambda c: c["program"]["outputs"]["category"].update(labels=["[/bold] oops", "fine"])
    )
    result = invoke("check", config)
    assert result.exit_code == 2, result.output
    assert "is not one of the labels [/bold] oops, fine" in result.output


def test_model_replies_and_slice_names_are_printed_as_text(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    secret = "[red]secret[/red]"
    config = write_config(lambda c: c["program"]["outputs"]["category"].update(labels=[secret, "other"]))
    _relabel(tmp_path, secret, channel="[bold]web[/bold]")
    checked = invoke("check", config)
    assert checked.exit_code == 0, checked.output
    assert "[bold]web[/bold]" in checked.output
    assert invoke("compile", config).exit_code == 0
    assert invoke("promote", config, "--artifact", "latest").exit_code == 0
    answered = invoke("run", config, "--input", "ticket=where is my money")
    assert answered.exit_code == 0, answered.output
    assert f"category: {secret}" in answered.output


def test_run_refuses_a_repeated_input(write_config: ConfigWriter) -> None:
    config = write_config()
    invoke("compile", config)
    assert invoke("promote", config, "--artifact", "latest").exit_code == 0
    result = invoke("run", config, "--input", "ticket=refund please", "--input", "ticket=my login")
    assert result.exit_code == 2, result.output  # kept the last one before
    assert "--input ticket is given twice ('refund please' and 'my login')" in result.output
    assert "pass --input ticket=VALUE once" in result.output
