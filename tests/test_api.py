"""The Python serving API (`promptc.load`): targets, and the same input checks as `promptc run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import promptc
from promptc.commands.lifecycle import run_program
from promptc.config.load import load_config
from promptc.errors import BadInput
from tests.conftest import ConfigWriter
from tests.test_cli import invoke


def _typed_inputs(cfg: dict[str, Any]) -> None:
    """A program with a bool and an int input next to the ticket text."""
    cfg["program"]["inputs"].update(urgent={"type": "bool"}, priority={"type": "int"})


def _promoted(write_config: ConfigWriter, tmp_path: Path) -> Path:
    config = write_config(_typed_inputs)
    for split in ("train", "val", "test"):
        path = tmp_path / f"data/{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for i, row in enumerate(rows):
            row.update(urgent=i % 2 == 0, priority=i % 3)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert invoke("compile", config).exit_code == 0
    assert invoke("promote", config, "--artifact", "latest").exit_code == 0
    return config


def test_load_takes_the_target_of_a_config_with_several(write_config: ConfigWriter) -> None:
    def two_targets(cfg: dict[str, Any]) -> None:
        cfg["targets"] = {"a": cfg.pop("target"), "b": {"model": "fake/ignorer", "revision": "fake00000000"}}

    config = write_config(two_targets)
    assert invoke("compile", config, "--target", "b").exit_code in (0, 1)
    served = promptc.load(config, "latest", target="b")  # a TypeError before
    assert served.config.target.model == "fake/ignorer"
    assert served(ticket="refund please") == {"category": "billing"}  # ignorer: the first label


@pytest.mark.parametrize(
    "inputs",
    [
        {"urgent": "no", "priority": "1"},  # missing: a bare KeyError from the Python path before
        {"ticket": "x", "urgent": "no", "priority": "1", "colour": "red"},  # unknown: ignored before
        {"ticket": ["refund", "invoice"], "urgent": "no", "priority": "1"},  # a list became "['refund', ...]"
        {"ticket": {"text": "refund"}, "urgent": "no", "priority": "1"},
        {"ticket": True, "urgent": "no", "priority": "1"},
        {"ticket": "x", "urgent": "perhaps", "priority": "1"},
        {"ticket": "x", "urgent": "no", "priority": "1.5"},
    ],
)
def test_run_and_the_python_api_refuse_the_same_inputs_alike(
    write_config: ConfigWriter, tmp_path: Path, inputs: dict[str, Any]
) -> None:
    config = _promoted(write_config, tmp_path)
    with pytest.raises(BadInput) as from_run:
        run_program(load_config(config), inputs)
    with pytest.raises(BadInput) as from_api:
        promptc.load(config)(**inputs)
    assert str(from_run.value) == str(from_api.value)
    assert from_run.value.exit_code == 2


def test_run_and_the_python_api_give_identical_predictions(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = _promoted(write_config, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "data/test.jsonl").read_text().splitlines()]
    served = promptc.load(config)
    for row in rows[:8]:
        text = {
            "ticket": row["ticket"],
            "urgent": str(row["urgent"]).lower(),
            "priority": str(row["priority"]),
        }
        native = {"ticket": row["ticket"], "urgent": row["urgent"], "priority": row["priority"]}
        from_run = run_program(load_config(config), text)
        assert from_run.outputs is not None
        calls = served._lm.usage.calls
        assert served(**text) == served(**native) == from_run.outputs
        assert served._lm.usage.calls == calls  # the same prompts: both answered from run's cache entry
    result = invoke(
        "run", config, "-i", f"ticket={rows[0]['ticket']}", "-i", "urgent=yes", "-i", "priority=2"
    )
    assert result.exit_code == 0, result.output
    assert (
        f"category: {served(ticket=rows[0]['ticket'], urgent=True, priority=2)['category']}" in result.output
    )
