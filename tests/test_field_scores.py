"""Per-output scores (a composite metric) through compile, eval, its reports, report and diff;
the rows they are built from; hostile names rendered as text."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from promptc.evaluation.field_scores import Scored, field_rows, of_dicts, of_records
from promptc.results import Prediction, Record
from tests.conftest import ConfigWriter, write_jsonl
from tests.test_cli import artifact_id, invoke

TEAMS = {"billing": "finance", "technical": "engineering", "account": "support", "shipping": "logistics"}


def composite(cfg: dict[str, Any], tmp: Path) -> None:
    """Two outputs (category, team), scored apart by a composite metric."""
    cfg["program"]["outputs"]["team"] = {"type": "str", "description": "the team that answers"}
    cfg["metric"] = {"fields": {"category": "label_accuracy", "team": "exact_match"}}
    cfg["gates"] = {"overall": {"min": 0.0}}
    for split in ("train", "val", "test"):
        path = tmp / "data" / f"{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row["team"] = TEAMS[row["category"]]
        write_jsonl(path, rows)


@pytest.fixture
def composite_config(write_config: ConfigWriter, tmp_path: Path) -> Path:
    return write_config(lambda cfg: composite(cfg, tmp_path))


def _compile(config: Path, *extra: str) -> str:
    result = invoke("compile", config, *extra)
    assert result.exit_code == 0, result.output
    return artifact_id(result.output)


def _stored_records(tmp_path: Path, art: str) -> list[dict[str, Any]]:
    import gzip

    content = json.loads(next((tmp_path / "artifacts").rglob(f"{art}.json")).read_text())
    sidecar = content["evaluation"]["candidate"]["records"]["file"]
    path = next((tmp_path / "artifacts").rglob(sidecar))
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def test_compile_stores_per_output_scores_and_eval_shows_them(composite_config: Path, tmp_path: Path) -> None:
    art = _compile(composite_config)
    records = _stored_records(tmp_path, art)
    assert all(set(r["field_scores"]) == {"category", "team"} for r in records)
    result = invoke("eval", composite_config, "--json", tmp_path / "e.json", "--markdown", tmp_path / "e.md")
    assert result.exit_code == 0, result.output
    assert "holdout scores per output" in result.output
    assert re.search(r"category\s+│\s+32\s+│", result.output), result.output
    report = json.loads((tmp_path / "e.json").read_text())
    fields = {f["field"]: f for f in report["fields"]}
    assert set(fields) == {"category", "team"}
    cand = [r["field_scores"]["team"] for r in report["candidate"]["records"]]
    assert fields["team"]["candidate"]["mean"] == pytest.approx(sum(cand) / len(cand), abs=1e-6)
    assert fields["team"]["candidate"]["ci_low"] <= fields["team"]["candidate"]["mean"]
    assert fields["team"]["change"] is not None
    md = (tmp_path / "e.md").read_text()
    assert "**Scores per output**" in md and "| category | 32 |" in md and "| team | 32 |" in md


def test_diff_shows_each_output_change(
    write_config: ConfigWriter, composite_config: Path, tmp_path: Path
) -> None:
    first = _compile(composite_config)

    def fewer_demos(cfg: dict[str, Any]) -> None:
        composite(cfg, tmp_path)
        cfg["optimizer"]["settings"] = {"k": 1}

    second = _compile(write_config(fewer_demos, name="fewer.yaml"))
    result = invoke("diff", first, second, "--config", composite_config)
    assert result.exit_code == 0, result.output
    assert "holdout scores per output (candidate)" in result.output
    table = result.output.split("holdout scores per output (candidate)", 1)[1]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if line.count("│") >= 5}
    assert set(rows) == {"category", "team"}
    assert re.search(r"[+-]\d\.\d{3} \[[+-]\d\.\d\d, [+-]\d\.\d\d\]", rows["team"])  # paired: same split


def test_diff_of_artifacts_without_per_output_scores_shows_no_such_table(
    write_config: ConfigWriter,
) -> None:
    config = write_config()
    art = _compile(config)
    result = invoke("diff", art, art, "--config", config)
    assert result.exit_code == 0, result.output
    assert "per output" not in result.output


def _prediction(parsed: bool = True) -> Prediction:
    return Prediction(
        {"a": 1} if parsed else None, None, "raw", None if parsed else "parse: x", 1, 1, True, 0.0
    )


def test_rows_count_an_unparsed_reply_as_zero_on_every_output() -> None:
    before = [Scored("1", {"intent": 1.0, "slots": 0.5}, True), Scored("2", None, False)]
    after = [
        Scored("1", {"intent": 1.0, "slots": 1.0}, True),
        Scored("2", {"intent": 1.0, "slots": 0.0}, True),
    ]
    intent, slots = field_rows(before, after)
    assert (intent.name, intent.before and intent.before.mean, intent.after and intent.after.mean) == (
        "intent",
        0.5,
        1.0,
    )
    assert slots.before is not None and slots.before.mean == 0.25 and slots.before.n == 2
    assert slots.change is not None and slots.change[0] == pytest.approx(0.25)
    assert slots.change[1] <= 0.25 <= slots.change[2]


def test_rows_leave_out_examples_an_output_was_not_scored_on_and_pair_only_like_sets() -> None:
    before = [Scored("1", {"intent": 1.0}, True), Scored("2", {"intent": 0.0, "slots": 1.0}, True)]
    after = [
        Scored("1", {"intent": 1.0, "slots": 1.0}, True),
        Scored("2", {"intent": 1.0, "slots": 1.0}, True),
    ]
    intent, slots = field_rows(before, after)
    assert slots.before is not None and slots.before.n == 1 and slots.after is not None and slots.after.n == 2
    assert slots.change is None  # not the same examples
    assert intent.change is not None
    assert field_rows(before, after, paired=False)[0].change is None
    # a parsed reply a metric scored as a whole (no per-output scores) is left out, not a zero
    assert field_rows([Scored("1", None, True)], [Scored("1", {"x": 1.0}, True)])[0].before is None
    assert field_rows([Scored("1", None, True)], [Scored("1", None, False)]) == ()


def test_rows_read_fresh_and_stored_records_alike() -> None:
    records = [
        Record("1", None, _prediction(), 0.5, None, {"intent": 1.0, "slots": 0.0}),
        Record("2", None, _prediction(parsed=False), 0.0, "parse: x"),
    ]
    fresh = field_rows(of_records(records), of_records(records))
    stored = field_rows(of_dicts(r.to_dict() for r in records), of_dicts(r.to_dict() for r in records))
    assert fresh == stored and [r.name for r in fresh] == ["intent", "slots"]
    assert fresh[0].to_dict(("baseline", "candidate"))["baseline"]["mean"] == 0.5


HOSTILE = "<script>alert(1)</script>|*x*_\n$5 & `co`"


def test_hostile_output_names_render_as_text() -> None:
    from rich.console import Console

    from promptc.reports.charts import FieldBar, field_bars_svg
    from promptc.reports.ci import _field_lines
    from promptc.reports.html_scores import _table
    from promptc.reports.terminal import field_table

    rows = field_rows([Scored("1", {HOSTILE: 0.0}, True)], [Scored("1", {HOSTILE: 1.0}, True)])
    page = _table(rows, "95%")
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    line = _field_lines(rows, "95%")[-1]
    assert line.count("|") == 6 and "<script" not in line and "\n" not in line and "\\*x\\*" in line
    svg = field_bars_svg(
        [FieldBar(HOSTILE, (0.0, 0.0, 0.8), (1.0, 0.2, 1.0))], confidence=0.95, labels=("a", "b")
    )
    assert "<script" not in svg and "&lt;script&gt;" in svg
    console = Console(width=200, record=True)
    console.print(field_table("t", rows, ("[bold]a", "b"), 0.95))
    text = console.export_text()
    assert "<script>alert(1)</script>|*x*_" in text and "[bold]a" in text


@pytest.mark.parametrize(
    ("field_scores", "kept"),
    [
        (None, True),
        ({}, True),
        ({"a": 1, "b": 0.5}, True),
        ({"a": "1"}, False),
        ({"a": True}, False),
        ([1], False),
    ],
)
def test_a_sidecar_line_keeps_only_numeric_per_output_scores(field_scores: Any, kept: bool) -> None:
    from promptc.artifacts.sidecar import _parse_record

    line = {"id": "E1", "slice": None, "score": 0.5, "field_scores": field_scores}
    assert (_parse_record(json.dumps(line).encode()) is not None) is kept


def test_per_output_scores_survive_the_artifact_store(tmp_path: Path) -> None:
    from promptc.artifacts.store import Store

    record = Record("E1", "chat", _prediction(), 0.5, "slots: missed", {"intent": 1.0, "slots": 0.0})
    content = {
        "program": {"name": "p", "version": "1"},
        "target": {"model": "fake/learner", "revision": "fake0"},
        "evaluation": {"baseline": {}, "candidate": {}},
    }
    art = Store(tmp_path).write(content, {"baseline": [], "candidate": [record.to_dict()]})
    (stored,) = art.records("candidate")
    assert stored["field_scores"] == {"intent": 1.0, "slots": 0.0}
    assert (
        field_rows(of_dicts([]), of_dicts([stored]))[1].after == field_rows([], of_records([record]))[1].after
    )
