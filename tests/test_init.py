"""promptc init: configs from CSV, TSV, JSONL and Parquet that check accepts; hostile columns handled."""

from __future__ import annotations

import csv
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from promptc.cli.app import app
from promptc.commands.lifecycle import check
from promptc.config.load import load_config
from promptc.data.split_files import split_data
from tests.conftest import make_examples, write_jsonl

runner = CliRunner()


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Rows in the format the suffix names."""
    if path.suffix == ".jsonl":
        return write_jsonl(path, rows)
    if path.suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path)
        return path
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _init(tmp: Path, data: Path, *args: str) -> Any:
    return runner.invoke(
        app,
        [
            "init",
            str(data),
            "--config",
            str(tmp / "promptc.yaml"),
            "--splits",
            str(tmp / "splits"),
            "--yes",
            *args,
        ],
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_init_then_split_gives_a_config_check_accepts(tmp_path: Path, suffix: str) -> None:
    data = _write(tmp_path / f"tickets{suffix}", make_examples(160, seed=1))
    result = _init(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert "160 rows fit the signature" in result.output and "promptc split" in result.output
    cfg = load_config(tmp_path / "promptc.yaml")
    assert [f.name for f in cfg.program.signature.inputs] == ["ticket"]
    (category,) = cfg.program.signature.outputs
    assert category.type == "enum" and set(category.labels) == {"billing", "technical", "account", "shipping"}
    assert cfg.data.slice_column == "channel" and cfg.target.model == "local/smollm2-135m-instruct"
    assert cfg.optimizer.name == "auto" and cfg.metric == "label_accuracy"
    split_data([data], tmp_path / "splits", stratify="category", inputs=["ticket"])
    result = runner.invoke(app, ["check", str(tmp_path / "promptc.yaml")])
    assert result.exit_code == 0, result.output


def test_a_file_with_a_split_column_is_checked_at_once(tmp_path: Path) -> None:
    rows = make_examples(90, seed=2)
    rng = random.Random(0)
    for i, row in enumerate(rows):
        row["split"] = ("train", "val", "test")[i % 3]
        row["ticket"] += " " + " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(8))
        row["slots"] = {"topic": [row["ticket"].split()[0]]}
    data = write_jsonl(tmp_path / "all.jsonl", rows)
    result = _init(tmp_path, data, "--output", "category", "--output", "slots")
    assert result.exit_code == 0, result.output
    assert "promptc compile" in result.output and "--dry-run" in result.output
    cfg = load_config(tmp_path / "promptc.yaml")
    assert cfg.data.file == data.resolve() and cfg.metric == (
        '{"fields":{"category":"label_accuracy","slots":"json_f1"},"weights":{"category":1.0,"slots":1.0}}'
    )  # each output type's own metric, one per field
    assert [f.type for f in cfg.program.signature.outputs] == ["enum", "json"]
    assert check(cfg).ok


def test_leaky_splits_exit_1_and_name_the_repair(tmp_path: Path) -> None:
    rows = make_examples(90, seed=2)
    for i, row in enumerate(rows):
        row["split"] = ("train", "val", "test")[i % 3]
    rows.append(dict(rows[0], id="copy", split="test"))
    data = write_jsonl(tmp_path / "all.jsonl", rows)
    result = _init(tmp_path, data)
    assert result.exit_code == 1
    assert "leak between the splits" in result.output and "promptc split --from-config" in result.output


HOSTILE_LABELS = [
    "yes",
    "null",
    "- a",
    "a: b",
    "#x",
    "'q'",
    '"dq"',
    "&anchor",
    "*alias",
    "!tag",
    "%x",
    "@at",
    "{}",
]


def test_hostile_labels_and_slice_names_are_escaped(tmp_path: Path) -> None:
    slice_name = "chan: nel #x\nnext: line"
    rows = [
        {
            "id": f"r{i}",
            "text": f"message number {i} about {i % 7}",
            "label": HOSTILE_LABELS[i % 13],
            slice_name: "ab"[i % 2],
        }
        for i in range(260)
    ]
    data = write_jsonl(tmp_path / "hostile.jsonl", rows)
    result = _init(tmp_path, data, "--output", "label")
    assert result.exit_code == 0, result.output
    cfg = load_config(tmp_path / "promptc.yaml")
    assert sorted(cfg.program.signature.outputs[0].labels) == sorted(HOSTILE_LABELS)
    assert cfg.data.slice_column == slice_name
    text = (tmp_path / "promptc.yaml").read_text()
    assert "\nnext: line" not in text  # the newline is escaped, never pasted


def test_a_label_with_a_newline_makes_the_column_text(tmp_path: Path) -> None:
    rows = [{"id": f"r{i}", "text": f"message {i}", "label": ["a\nb", "c"][i % 2]} for i in range(40)]
    data = write_jsonl(tmp_path / "nl.jsonl", rows)
    result = _init(tmp_path, data, "--output", "label")
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path / "promptc.yaml").program.signature.outputs[0].type == "str"


@pytest.mark.parametrize(
    ("column", "args", "message"),
    [
        ("ticket text", [], "column 'ticket text' cannot be an input or output"),
        ("a: b", ["--input", "a: b"], "column 'a: b' cannot be an input or output"),
        ("x" * 300, [], "cannot be an input or output"),
        ("ticket", ["--input", "id"], "is the id or split column"),
        ("ticket", ["--input", "nope"], "no column 'nope'"),
        ("ticket", ["--input", "ticket", "--output", "ticket"], "both an input and an output"),
    ],
)
def test_bad_columns_exit_2_naming_the_column(
    tmp_path: Path, column: str, args: list[str], message: str
) -> None:
    rows = [
        {"id": r["id"], column: r["ticket"], "category": r["category"]} for r in make_examples(40, seed=1)
    ]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    result = _init(tmp_path, data, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "fix:" in result.output and "d.jsonl" in result.output
    assert not (tmp_path / "promptc.yaml").exists()


def test_no_label_column_asks_for_output(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"id": str(i), "text": f"text {i}"} for i in range(20)])
    result = _init(tmp_path, data)
    assert result.exit_code == 2 and "--output COLUMN" in result.output


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_examples(40, seed=1))
    (tmp_path / "promptc.yaml").write_text("mine\n")
    result = _init(tmp_path, data)
    assert result.exit_code == 2 and "already exists" in result.output and "--force" in result.output
    assert (tmp_path / "promptc.yaml").read_text() == "mine\n"
    assert _init(tmp_path, data, "--force").exit_code == 0
    assert yaml.safe_load((tmp_path / "promptc.yaml").read_text())["program"]["outputs"]


def test_without_data_and_without_a_terminal_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "--config", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2 and "init needs a data file" in result.output


def test_a_missing_or_malformed_data_file_exits_2(tmp_path: Path) -> None:
    assert _init(tmp_path, tmp_path / "none.csv").exit_code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "1"}) + "\nnot json\n")
    result = _init(tmp_path, bad)
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output
