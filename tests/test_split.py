"""promptc split: outputs that pass the real check, whole clusters, stratified shares, repair."""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from promptc.cli.app import app
from promptc.commands.lifecycle import check
from promptc.config.load import load_config
from promptc.data import split_files
from promptc.data.load import SPLITS, Example
from promptc.data.split import cluster_rows
from promptc.data.split_files import repair_splits, split_data
from tests.conftest import make_examples, write_jsonl

runner = CliRunner()


def _leaky_rows(n: int = 120, seed: int = 1) -> list[dict[str, Any]]:
    """Tickets with exact copies, near-duplicates (a word added) and a group column."""
    rows = make_examples(n, seed=seed)
    for i, row in enumerate(rows):
        row["customer"] = f"c{i % 40}"  # three tickets per customer
    rows += [dict(r, id=r["id"] + "n", ticket=r["ticket"] + " asap") for r in rows[:20]]
    rows += [dict(r, id=r["id"] + "x", ticket=r["ticket"].upper()) for r in rows[20:30]]
    return rows


def _config(tmp: Path, out: Path, suffix: str = ".jsonl", name: str = "promptc.yaml") -> Path:
    """A config on the split files in `out`, on the fake model."""
    cfg = {
        "program": {
            "name": "triage",
            "version": "1.0.0",
            "inputs": {"ticket": {"type": "str"}},
            "outputs": {
                "category": {"type": "enum", "labels": ["billing", "technical", "account", "shipping"]}
            },
        },
        "target": {"model": "fake/learner", "revision": "fake00000000"},
        "data": {name: str(out / f"{name}{suffix}") for name in SPLITS} | {"slice_column": "channel"},
        "metric": "label_accuracy",
    }
    path = tmp / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("group_by", [None, "customer"])
def test_split_output_passes_the_real_check(tmp_path: Path, seed: int, group_by: str | None) -> None:
    data = write_jsonl(tmp_path / "all.jsonl", _leaky_rows(seed=seed + 1))
    args = ["split", str(data), "--out", str(tmp_path / "out"), "--seed", str(seed), "--input", "ticket"]
    result = runner.invoke(app, args + (["--group-by", group_by] if group_by else []))
    assert result.exit_code == 0, result.output
    assert "merged into" in result.output and "largest cluster" in result.output
    report = check(load_config(_config(tmp_path, tmp_path / "out")))
    assert report.ok, report.leaks[:3]
    assert sum(report.sizes.values()) == 150


def test_clusters_and_groups_never_straddle_splits(tmp_path: Path) -> None:
    rows = _leaky_rows()
    data = write_jsonl(tmp_path / "all.jsonl", rows)
    outcome = split_data([data], tmp_path / "out", group_by="customer", inputs=["ticket"], seed=5)
    split_of = {i: name for name in SPLITS for i in _ids(outcome.files[name])}
    examples = [Example(r["id"], {"ticket": r["ticket"]}, {}) for r in rows]
    clusters = cluster_rows(examples, 0.5, [r["customer"] for r in rows])
    assert outcome.merged_rows == clusters.merged_rows > 0
    for members in clusters.members:
        assert len({split_of[rows[m]["id"]] for m in members}) == 1
    for copy in rows[120:]:  # every planted copy sits with its original
        assert split_of[copy["id"]] == split_of[copy["id"][:-1]]
    by_customer: dict[str, set[str]] = {}
    for r in rows:
        by_customer.setdefault(r["customer"], set()).add(split_of[r["id"]])
    assert all(len(s) == 1 for s in by_customer.values())


def _distinct_rows(sizes: dict[str, int], seed: int = 0) -> list[dict[str, Any]]:
    """Rows of random letters (no two alike), `sizes[label]` of each label."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for label, n in sizes.items():
        for _ in range(n):
            words = ("".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(6))
            rows.append({"id": f"r{len(rows)}", "text": " ".join(words), "label": label})
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("ratios", [(0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (0.5, 0.3, 0.2)])
def test_stratified_shares_are_within_one_example_per_label(
    tmp_path: Path, ratios: tuple[float, ...]
) -> None:
    sizes = {"a": 37, "b": 23, "c": 11, "d": 5, "e": 101}
    data = write_jsonl(tmp_path / "all.jsonl", _distinct_rows(sizes))
    outcome = split_data([data], tmp_path / "out", ratios=ratios, stratify="label", inputs=["text"], seed=3)
    assert outcome.merged_rows == 0
    for label, n in sizes.items():
        for s, name in enumerate(SPLITS):
            assert abs(outcome.strata[label][name] - n * ratios[s]) <= 1, (label, name, outcome.strata)
    for s, name in enumerate(SPLITS):
        assert abs(outcome.sizes[name] - sum(sizes.values()) * ratios[s]) <= 1


def test_a_seed_gives_the_same_files_and_another_seed_others(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "all.jsonl", _leaky_rows())

    def files(seed: int, out: str) -> list[bytes]:
        outcome = split_data([data], tmp_path / out, seed=seed, stratify="category", inputs=["ticket"])
        return [outcome.files[name].read_bytes() for name in SPLITS]

    first = files(4, "a")
    assert first == files(4, "b")
    assert first != files(5, "c")


def _write_leaky_splits(tmp: Path) -> Path:
    """Three split files where train rows reappear (copied, near-copied) in val and test."""
    train, val, test = make_examples(60, 1), make_examples(20, 2, 100), make_examples(20, 3, 200)
    val += [dict(train[0], id="V-copy"), dict(train[1], id="V-near", ticket=train[1]["ticket"] + " asap")]
    test += [dict(train[2], id="T-copy", ticket=train[2]["ticket"].upper())]
    test += [dict(val[0], id="T-val")]
    (tmp / "orig").mkdir()
    for name, rows in zip(SPLITS, (train, val, test), strict=True):
        write_jsonl(tmp / "orig" / f"{name}.jsonl", rows)
    return tmp / "orig"


def test_repair_moves_only_rows_of_clusters_that_straddle_splits(tmp_path: Path) -> None:
    orig = _write_leaky_splits(tmp_path)
    config = _config(tmp_path, orig)
    assert not check(load_config(config)).ok
    outcome = repair_splits(config, tmp_path / "fixed")
    moved = {m.id: (m.moved_from, m.moved_to) for m in outcome.moves}
    assert moved == {
        "V-copy": ("val", "train"),
        "V-near": ("val", "train"),
        "T-copy": ("test", "train"),
        "T-val": ("test", "val"),
    }
    for name in SPLITS:
        before = set(_ids(orig / f"{name}.jsonl")) - set(moved)
        after = set(_ids(outcome.files[name]))
        assert before <= after and after - before == {i for i, (_, to) in moved.items() if to == name}
    assert check(load_config(_config(tmp_path, tmp_path / "fixed", name="fixed.yaml"))).ok
    result = runner.invoke(app, ["split", "--from-config", str(config), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "4 row(s) moved" in result.output and "T-val" in result.output


def test_csv_without_ids_is_numbered_and_stays_csv(tmp_path: Path) -> None:
    rows = _distinct_rows({"x": 20, "y": 20})
    data = tmp_path / "all.csv"
    data.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    outcome = split_data([data], tmp_path / "out")
    assert outcome.added_ids and outcome.inputs == ("text",)
    assert outcome.files["train"].suffix == ".csv"
    assert outcome.files["train"].read_text().startswith("id,text,label\n")


def test_refuses_to_overwrite_and_never_leaves_half_a_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_jsonl(tmp_path / "all.jsonl", _leaky_rows())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "test.jsonl").write_text("mine\n")
    result = runner.invoke(app, ["split", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "test.jsonl: already exists" in result.output and "--force" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["test.jsonl"]
    calls: Counter[str] = Counter()

    def failing(handle: Any, rows: list[dict[str, Any]], columns: list[str], suffix: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        handle.write("partial\n")

    monkeypatch.setattr(split_files, "_write_rows", failing)
    result = runner.invoke(app, ["split", str(data), "--out", str(tmp_path / "out"), "--force"])
    assert result.exit_code == 2 and "cannot write the splits" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["test.jsonl"]
    assert (tmp_path / "out" / "test.jsonl").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ratios", "0.5,x,0.2"], "not numbers"),
        (["--ratios", "0.8,0.2,0"], "three positive numbers"),
        (["--stratify", "nope"], "no column 'nope'"),
        (["--group-by", "nope"], "no column 'nope'"),
        (["--input", "nope"], "no input column 'nope'"),
        (["--from-config", "x.yaml"], "not both"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(tmp_path: Path, args: list[str], message: str) -> None:
    data = write_jsonl(tmp_path / "all.jsonl", _leaky_rows())
    result = runner.invoke(app, ["split", str(data), "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "fix:" in result.output
    assert not (tmp_path / "out").exists()


def test_duplicate_ids_and_too_few_rows_exit_2(tmp_path: Path) -> None:
    rows = _leaky_rows()
    rows.append(dict(rows[5], ticket="something else entirely"))
    data = write_jsonl(tmp_path / "dupes.jsonl", rows)
    result = runner.invoke(app, ["split", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "appears twice" in result.output
    tiny = write_jsonl(tmp_path / "tiny.jsonl", make_examples(2, 1))
    result = runner.invoke(app, ["split", str(tiny), "--out", str(tmp_path / "out"), "--input", "ticket"])
    assert result.exit_code == 2 and "would be empty" in result.output
