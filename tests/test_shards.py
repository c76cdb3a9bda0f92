"""Sharded evaluation: `eval --shard I/N --out FILE` and `merge`, judged exactly as one `eval`."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from promptc.errors import BadInput
from promptc.evaluation.shards import deal, parse_shard
from tests.conftest import ConfigWriter, make_examples, write_jsonl
from tests.test_cli import artifact_id, invoke

TIMING = ("latency_s", "cached")  # vary from run to run, sharded or not


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A JSON report without what differs between two runs of the same evaluation (call counts, timing)."""
    out = {k: v for k, v in report.items() if k != "usage"}
    for which in ("baseline", "candidate"):
        records = [{k: v for k, v in r.items() if k not in TIMING} for r in report[which]["records"]]
        out[which] = {**report[which], "records": records}
    return out


def run_shards(config: Path, n: int, folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    files = []
    for i in range(1, n + 1):
        path = folder / f"shard-{i}.json"
        result = invoke("eval", config, "--shard", f"{i}/{n}", "--out", path)
        assert result.exit_code == 0, result.output
        assert "no gates applied" in result.output
        files.append(path)
    return files


def without_calls(markdown: str) -> str:
    return "\n".join(line for line in markdown.splitlines() if "model calls" not in line)


def reports(command: list[Any], folder: Path, name: str) -> tuple[int, dict[str, Any], str, str]:
    """Run eval or merge with --json, --junit and --markdown: the exit code and comparable reports."""
    json_path, xml, md = (folder / f"{name}.{ext}" for ext in ("json", "xml", "md"))
    result = invoke(*command, "--json", json_path, "--junit", xml, "--markdown", md)
    assert result.exit_code in (0, 1), result.output
    data = comparable(json.loads(json_path.read_text()))
    return result.exit_code, data, xml.read_text(), without_calls(md.read_text())


def assert_merge_equals_eval(config: Path, tmp_path: Path, counts: tuple[int, ...]) -> bool:
    expected = reports(["eval", config], tmp_path, "whole")
    for n in counts:
        files = run_shards(config, n, tmp_path / f"n{n}")
        assert reports(["merge", config, *files], tmp_path, f"merged-{n}") == expected, f"n={n}"
    return bool(expected[1]["passed"])


@pytest.mark.parametrize("gates", ["passing", "failing"])
def test_shards_merged_equal_the_unsharded_eval(
    write_config: ConfigWriter, tmp_path: Path, gates: str
) -> None:
    edit = None if gates == "passing" else (lambda c: c["gates"].update(overall={"min": 0.99}))
    config = write_config(edit)
    assert invoke("compile", config).exit_code == 0
    passed = assert_merge_equals_eval(config, tmp_path, (1, 2, 3, 5))
    assert passed is (gates == "passing")


def test_shards_merged_equal_the_unsharded_eval_against_a_reference_artifact(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    against = write_config(
        lambda c: (c["gates"].update(reference="production"), c["optimizer"]["settings"].update(k=4)),
        name="against.yaml",
    )
    config = write_config()  # writing a config writes the data files too
    first = invoke("compile", config)
    assert invoke("promote", config, "--artifact", artifact_id(first.output)).exit_code == 0
    assert invoke("compile", against).exit_code == 0
    stored = tmp_path / "stored"  # the production artifact's stored scores, restricted to each shard
    stored.mkdir()
    assert_merge_equals_eval(against, stored, (3,))
    reference = json.loads((stored / "whole.json").read_text())["gates"]["reference"]
    assert reference == f"production ({artifact_id(first.output)})"
    # A new test split: the production artifact's stored scores no longer count; each shard
    # re-evaluates it on its own examples.
    write_jsonl(tmp_path / "data/test.jsonl", make_examples(30, seed=4, start=300))
    assert invoke("compile", against).exit_code == 0
    assert_merge_equals_eval(against, tmp_path, (2, 3))
    reference = json.loads((tmp_path / "whole.json").read_text())["gates"]["reference"]
    assert reference.startswith("production (") and "re-evaluated" in reference


def test_a_shard_with_no_examples_merges(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    write_jsonl(tmp_path / "data/test.jsonl", make_examples(4, seed=3, start=200))
    assert invoke("compile", config).exit_code == 0
    empty = tmp_path / "empty.json"
    result = invoke("eval", config, "--shard", "6/6", "--out", empty)
    assert result.exit_code == 0, result.output
    assert "0 of 4 test examples" in result.output
    assert json.loads(empty.read_text())["candidate"] == []
    assert_merge_equals_eval(config, tmp_path, (6,))


def test_deal_is_balanced_and_ignores_order() -> None:
    ids = [f"ex-{i}" for i in range(103)]
    shuffled = random.Random(0).sample(ids, len(ids))
    dealt = deal(ids, 4)
    assert deal(shuffled, 4) == dealt
    sizes = sorted(list(dealt.values()).count(s) for s in range(1, 5))
    assert sizes == [25, 26, 26, 26]


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3", "1/0", "-1/2", "1/3/3", "1/100000"])
def test_bad_shard_specs_are_refused(text: str) -> None:
    with pytest.raises(BadInput, match="--shard"):
        parse_shard(text)


@pytest.fixture
def sharded(write_config: ConfigWriter, tmp_path: Path) -> tuple[Path, list[Path]]:
    """A compiled config and its three shard files."""
    config = write_config()
    assert invoke("compile", config).exit_code == 0
    return config, run_shards(config, 3, tmp_path / "shards")


def refused(config: Path, tmp_path: Path, *files: Path) -> str:
    """Merge files, assert it exits 2 and writes no report; return what it said."""
    report = tmp_path / "refused.json"
    result = invoke("merge", config, *files, "--json", report)
    assert result.exit_code == 2, result.output
    assert "fix:" in result.output
    assert not report.exists()
    return " ".join(result.output.split())


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b"])
def test_eval_refuses_a_bad_shard_and_writes_nothing(
    sharded: tuple[Path, list[Path]], tmp_path: Path, text: str
) -> None:
    config, _ = sharded
    out = tmp_path / "bad.json"
    result = invoke("eval", config, "--shard", text, "--out", out)
    assert result.exit_code == 2
    assert "--shard" in result.output and "I/N" in result.output
    assert not out.exists()


def test_eval_shard_needs_out_and_refuses_reports(sharded: tuple[Path, list[Path]], tmp_path: Path) -> None:
    config, _ = sharded
    no_out = invoke("eval", config, "--shard", "1/2")
    assert no_out.exit_code == 2 and "needs --out" in no_out.output
    report = tmp_path / "r.json"
    with_report = invoke("eval", config, "--shard", "1/2", "--out", tmp_path / "s.json", "--json", report)
    assert with_report.exit_code == 2 and "promptc merge" in with_report.output
    assert not report.exists() and not (tmp_path / "s.json").exists()
    no_shard = invoke("eval", config, "--out", tmp_path / "s.json")
    assert no_shard.exit_code == 2 and "needs --shard I/N" in no_shard.output
    folder = invoke("eval", config, "--shard", "1/2", "--out", tmp_path)
    assert folder.exit_code == 2 and "is a folder" in folder.output
    assert not (tmp_path / "s.json").exists()


def test_merge_refuses_a_missing_shard(sharded: tuple[Path, list[Path]], tmp_path: Path) -> None:
    config, files = sharded
    said = refused(config, tmp_path, files[0], files[2])
    assert "1 of 3 shard(s) missing: 2/3" in said


def test_merge_refuses_a_duplicate_shard(sharded: tuple[Path, list[Path]], tmp_path: Path) -> None:
    config, files = sharded
    assert "is given twice" in refused(config, tmp_path, *files, files[1])
    copy = tmp_path / "copy.json"
    shutil.copy(files[1], copy)
    said = refused(config, tmp_path, *files, copy)
    assert "copy.json" in said and "are both shard 2/3" in said


def test_merge_refuses_a_shard_of_another_artifact(
    sharded: tuple[Path, list[Path]], write_config: ConfigWriter, tmp_path: Path
) -> None:
    config, files = sharded
    other = write_config(lambda c: c["optimizer"]["settings"].update(k=4), name="other.yaml")
    assert invoke("compile", other).exit_code == 0
    stray = tmp_path / "stray.json"
    assert invoke("eval", config, "--shard", "2/3", "--out", stray).exit_code == 0
    said = refused(config, tmp_path, files[0], stray, files[2])
    assert "stray.json evaluates artifact" in said


def test_merge_refuses_shards_of_another_config_or_count(
    sharded: tuple[Path, list[Path]], write_config: ConfigWriter, tmp_path: Path
) -> None:
    config, files = sharded
    stricter = write_config(lambda c: c["gates"].update(overall={"min": 0.6}), name="stricter.yaml")
    assert "written with another config" in refused(stricter, tmp_path, *files)
    halves = run_shards(config, 2, tmp_path / "halves")
    assert "different numbers of shards" in refused(config, tmp_path, files[0], halves[1], files[2])


def test_merge_refuses_a_tampered_shard(sharded: tuple[Path, list[Path]], tmp_path: Path) -> None:
    config, files = sharded
    data = json.loads(files[1].read_text())
    data["candidate"][0]["score"] = 1.0 - data["candidate"][0]["score"]
    files[1].write_text(json.dumps(data))
    said = refused(config, tmp_path, *files)
    assert "shard-2.json" in said and "does not match its sha256" in said


def test_merge_refuses_a_shard_that_is_not_a_shard_file(
    sharded: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    config, files = sharded
    data = json.loads(files[0].read_text())
    data["candidate"][0]["score"] = "1.0"
    files[0].write_text(json.dumps(data))
    said = refused(config, tmp_path, *files)
    assert "not a valid promptc shard file" in said and "candidate.0.score" in said
    files[0].write_text(files[0].read_text().replace('"score": 1.0', '"score": NaN', 1))
    assert "NaN is not a number" in refused(config, tmp_path, *files)
    files[0].write_text("{not json")
    assert "not JSON" in refused(config, tmp_path, *files)
    assert "no such shard file" in refused(config, tmp_path, tmp_path / "absent.json", *files[1:])


def rewrite(path: Path, data: dict[str, Any]) -> None:
    """Write shard data with a recomputed digest, as a deliberate forger would."""
    from promptc.evaluation.shards import _digest

    body = {k: v for k, v in data.items() if k != "sha256"}
    path.write_text(json.dumps({**body, "sha256": _digest(body)}))


def test_merge_refuses_records_moved_between_shards(sharded: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """Even with a recomputed digest, a record must sit in the shard its id is dealt to."""
    config, files = sharded
    a, b = (json.loads(f.read_text()) for f in files[:2])
    for key in ("baseline", "candidate", "reference_scores"):
        b[key].append(a[key].pop())
    rewrite(files[0], a)
    rewrite(files[1], b)
    assert "belongs to shard 1/3, not 2/3" in refused(config, tmp_path, *files)


def test_merge_refuses_a_dropped_or_foreign_record(sharded: tuple[Path, list[Path]], tmp_path: Path) -> None:
    config, files = sharded
    original = json.loads(files[1].read_text())
    dropped = json.loads(files[1].read_text())
    for key in ("baseline", "candidate", "reference_scores"):
        dropped[key].pop()
    rewrite(files[1], dropped)
    assert "baseline lacks 1 example(s) of shard 2/3" in refused(config, tmp_path, *files)
    foreign = dict(original, candidate=[{**original["candidate"][0], "id": "X999"}, *original["candidate"]])
    rewrite(files[1], foreign)
    assert "candidate example 'X999' is not in the test split" in refused(config, tmp_path, *files)
    relabelled = dict(
        original, candidate=[{**original["candidate"][0], "slice": "fax"}, *original["candidate"][1:]]
    )
    rewrite(files[1], relabelled)
    assert "has slice 'fax'" in refused(config, tmp_path, *files)


def test_merge_calls_no_model_and_does_not_import_litellm(sharded: tuple[Path, list[Path]]) -> None:
    config, files = sharded
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from promptc.cli.app import app\n"
        "result = CliRunner().invoke(app, ['merge', *sys.argv[1:]])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('litellm' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(config), *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("score", ["5", "-1", "1.0000001", "1e308", "1e400"])
def test_merge_refuses_a_score_outside_zero_to_one(
    sharded: tuple[Path, list[Path]], tmp_path: Path, score: str
) -> None:
    """A forged score of 5 passed the gates (overall 2.663); 1e308 crashed as an OverflowError."""
    config, files = sharded
    original = json.loads(files[1].read_text())
    for key in ("candidate", "reference_scores"):
        data = json.loads(json.dumps(original))
        data[key][0]["score"] = 0.123456789
        rewrite(files[1], data)
        # As written in the file, so that 1e400 reaches promptc as the float the JSON parser makes.
        files[1].write_text(files[1].read_text().replace("0.123456789", score))
        said = refused(config, tmp_path, *files)
        assert "shard-2.json" in said and f"{key} record 1" in said and "not a number in [0, 1]" in said
        assert "fix: re-run the sharded eval" in said


def test_per_output_scores_survive_shards_and_merge_equals_eval(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    from tests.test_field_scores import composite

    config = write_config(lambda c: composite(c, tmp_path))
    assert invoke("compile", config).exit_code == 0
    assert_merge_equals_eval(config, tmp_path, (2,))
    shard = json.loads((tmp_path / "n2" / "shard-1.json").read_text())
    assert all(set(r["field_scores"]) == {"category", "team"} for r in shard["candidate"])
    merged = reports(["merge", config, *sorted((tmp_path / "n2").glob("shard-*.json"))], tmp_path, "m")[1]
    assert [f["field"] for f in merged["fields"]] == ["category", "team"]
    said = invoke("merge", config, *sorted((tmp_path / "n2").glob("shard-*.json"))).output
    assert "holdout scores per output" in said


@pytest.mark.parametrize("score", ["5", "-1", "1e400", "true", '"1"'])
def test_merge_refuses_a_field_score_outside_zero_to_one(
    write_config: ConfigWriter, tmp_path: Path, score: str
) -> None:
    from tests.test_field_scores import composite

    config = write_config(lambda c: composite(c, tmp_path))
    assert invoke("compile", config).exit_code == 0
    files = run_shards(config, 2, tmp_path / "shards")
    data = json.loads(files[1].read_text())
    data["baseline"][1]["field_scores"]["team"] = 0.123456789
    rewrite(files[1], data)
    files[1].write_text(files[1].read_text().replace("0.123456789", score))
    said = refused(config, tmp_path, *files)
    assert "shard-2.json" in said and "fix: re-run the sharded eval" in said
    if score in ("5", "-1", "1e400"):  # a number: named with its record and output
        assert "baseline record 2" in said and "field score 'team'" in said
        assert "not a number in [0, 1]" in said
    else:  # not a number: the schema refuses it
        assert "baseline.1.field_scores.team" in said
