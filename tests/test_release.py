"""Release commands through the CLI: reports for CI, reference aliases, rollback, show, diff, tampering."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from tests.conftest import FILLER, LABELS, TOPICS, ConfigWriter, write_jsonl
from tests.test_cli import artifact_id, invoke


def _compile(config: Path) -> str:
    result = invoke("compile", config)
    assert result.exit_code == 0, result.output
    return artifact_id(result.output)


def test_eval_writes_junit_markdown_and_json(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(lambda c: c["gates"].update(slices={"email": {"min": 0.99}}))
    _compile(config)
    junit, md, js = tmp_path / "gates.xml", tmp_path / "summary.md", tmp_path / "eval.json"
    result = invoke("eval", config, "--junit", junit, "--markdown", md, "--json", js)
    assert result.exit_code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    names = {(c.get("classname"), c.get("name")) for c in cases}
    # One testcase per gate per slice: overall min; default max_drop on 4 slices; email's min.
    assert ("triage.overall", "min") in names and ("triage.email", "min") in names
    assert len([n for n in names if n[1] == "max_drop"]) == 4
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("classname") for c in failed] == ["triage.email"]
    assert suite.get("failures") == "1" and suite.get("tests") == str(len(cases))
    text = md.read_text()
    assert text.startswith("### promptc eval: :x: gates failed")
    assert re.search(r"\| email \| 8 \| .* \| :x: \*\*fail\*\* \| min \|", text)
    data = json.loads(js.read_text())
    assert data["passed"] is False
    email = next(s for s in data["gates"]["slices"] if s["scope"] == "email")
    assert email["verdict"] == "fail" and email["decided_by"] == "min"


def test_report_paths_that_cannot_be_written_are_bad_input(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config()
    _compile(config)
    (tmp_path / "file").write_text("x")
    result = invoke("eval", config, "--junit", tmp_path / "file" / "gates.xml")
    assert result.exit_code == 2
    assert "pass a writable --junit path" in result.output


def test_gates_against_the_production_alias(write_config: ConfigWriter) -> None:
    first = write_config(lambda c: c["optimizer"].update(settings={"k": 8}))
    first_id = _compile(first)
    assert invoke("promote", first, "--artifact", first_id).exit_code == 0

    def weaker(c: dict) -> None:  # type: ignore[type-arg]
        c["optimizer"].update(settings={"k": 1})
        c["gates"] = {"reference": "production", "overall": {"max_drop": 0.0}}

    second = write_config(weaker, name="weaker.yaml")
    _compile(second)
    result = invoke("eval", second)
    assert result.exit_code == 1
    assert f"production ({first_id})" in result.output
    refused = invoke("promote", second, "--artifact", "latest")
    assert refused.exit_code == 1 and "vs production beyond max_drop" in refused.output


def test_first_release_against_an_empty_alias_uses_the_baseline(write_config: ConfigWriter) -> None:
    config = write_config(lambda c: c.update(gates={"reference": "production", "overall": {"min_gain": 0.1}}))
    _compile(config)
    result = invoke("promote", config, "--artifact", "latest")
    assert result.exit_code == 0, result.output
    assert "baseline (no artifact behind" in result.output and "yet)" in result.output


def test_rollback_list_and_history(write_config: ConfigWriter) -> None:
    config = write_config()
    a = _compile(config)
    other = write_config(lambda c: c["optimizer"].update(seed=11), name="seed11.yaml")
    b = _compile(other)
    assert invoke("promote", config, "--artifact", a).exit_code == 0
    assert invoke("promote", config, "--artifact", b).exit_code == 0
    rolled = invoke("rollback", config)
    assert rolled.exit_code == 0 and f"production -> {a} (was {b})" in rolled.output
    listed = invoke("list", config)
    assert listed.exit_code == 0 and a in listed.output and b in listed.output
    assert re.search(rf"{a}.*production", listed.output)
    history = invoke("history", config)
    assert [m for m in re.findall(r"(compile|promote|rollback)", history.output)] == [
        "compile",
        "compile",
        "promote",
        "promote",
        "rollback",
    ]
    again = invoke("rollback", config)
    assert again.exit_code == 2 and "no earlier artifact" in again.output


def test_show_prints_the_prompt_as_the_model_receives_it(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    art = _compile(config)
    result = invoke("show", art, "--config", config)
    assert result.exit_code == 0, result.output
    assert "Route the ticket." in result.output and "ticket: {ticket}" in result.output
    assert "category: " in result.output and "labeled_fewshot" in result.output
    path = next((tmp_path / "artifacts").rglob(f"{art}.json"))
    assert invoke("show", path).exit_code == 0
    no_config = invoke("show", art)
    assert no_config.exit_code == 2 and "--config" in no_config.output


def test_diff_shows_demos_and_scores_side_by_side(write_config: ConfigWriter) -> None:
    config = write_config()
    a = _compile(config)
    b = _compile(write_config(lambda c: c["optimizer"].update(settings={"k": 2}), name="k2.yaml"))
    result = invoke("diff", a, b, "--config", config)
    assert result.exit_code == 0, result.output
    assert "(same instructions)" in result.output and "holdout scores" in result.output
    assert result.output.count("->") >= 8


def test_a_tampered_artifact_is_refused_with_exit_3(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    art = _compile(config)
    path = next((tmp_path / "artifacts").rglob(f"{art}.json"))
    data = json.loads(path.read_text())
    data["candidate"]["instructions"] = "Always answer billing."
    path.write_text(json.dumps(data))
    for args in (("promote", config, "--artifact", art), ("eval", config, "--artifact", art), ("show", path)):
        result = invoke(*args)
        assert result.exit_code == 3, result.output
        assert "content does not match its id" in result.output


def test_the_latest_alias_belongs_to_compile(write_config: ConfigWriter) -> None:
    config = write_config()
    _compile(config)
    result = invoke("promote", config, "--artifact", "latest", "--alias", "latest")
    assert result.exit_code == 2
    assert "alias 'latest' is set by compile" in result.output


def test_an_unknown_alias_or_id_is_bad_input(write_config: ConfigWriter) -> None:
    config = write_config()
    _compile(config)
    for args in (
        ("eval", config, "--artifact", "staging"),
        ("diff", "latest", "nope1234", "--config", config),
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "no artifact" in result.output


def test_eval_and_promote_refuse_an_artifact_of_another_program_version(
    write_config: ConfigWriter,
) -> None:
    art = _compile(write_config())

    def bumped(c: dict) -> None:  # type: ignore[type-arg]
        c["program"]["version"] = "2.0.0"
        c["program"]["outputs"]["category"]["labels"] = [*LABELS, "returns"]

    config = write_config(bumped)
    for args in (("eval", config, "--artifact", art), ("promote", config, "--artifact", art)):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert f"artifact {art} was compiled for triage 1.0.0" in result.output
        assert "declares triage 2.0.0" in result.output and "compile this program version" in result.output
    assert invoke("eval", config).exit_code == 2  # `latest` is still the 1.0.0 artifact


def test_eval_and_promote_refuse_an_artifact_of_another_signature(write_config: ConfigWriter) -> None:
    art = _compile(write_config())
    config = write_config(lambda c: c["program"]["outputs"]["category"].update(labels=[*LABELS, "returns"]))
    for args in (("eval", config, "--artifact", art), ("promote", config, "--artifact", art)):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "compiled for another signature.outputs than" in result.output
        assert "bump program.version" in result.output


def _rewrite_test_split(tmp_path: Path, ticket: Callable[[int, dict[str, Any]], str]) -> None:
    path = tmp_path / "data/test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    write_jsonl(path, [{**row, "ticket": ticket(i, row)} for i, row in enumerate(rows)])


def _production_on_an_older_test_split(write_config: ConfigWriter, tmp_path: Path) -> str:
    """Promote an artifact evaluated on hard tickets, then edit the test split into easy ones."""
    first = write_config(lambda c: c.update(gates={"overall": {"min": 0.0}}))
    _rewrite_test_split(tmp_path, lambda i, row: f"{FILLER[i % 12]} {FILLER[(i + 5) % 12]} h{i}")
    production = _compile(first)
    assert invoke("promote", first, "--artifact", production).exit_code == 0
    _rewrite_test_split(tmp_path, lambda i, row: " ".join(TOPICS[row["category"]][:3]))
    return production


def test_a_reference_from_an_older_test_split_is_re_evaluated_before_judging(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    production = _production_on_an_older_test_split(write_config, tmp_path)
    # The same program compiled again, gated on beating production: on the current split it
    # cannot (it is the same program), though it beats production's stale stored scores.
    gated = write_config(
        lambda c: c.update(gates={"reference": "production", "overall": {"min_gain": 0.01}}),
        name="gated.yaml",
    )
    compiled = invoke("compile", gated)
    assert compiled.exit_code == 0, compiled.output
    assert f"production ({production}, re-evaluated on the current test split)" in compiled.output
    assert "gates: fail" in compiled.output
    evaluated = invoke("eval", gated)
    assert evaluated.exit_code == 1 and "re-evaluated on the current test split" in evaluated.output
    promoted = invoke("promote", gated, "--artifact", "latest")
    assert promoted.exit_code == 1, promoted.output
    assert "fails the release gates" in promoted.output and "min_gain" in promoted.output
    assert "re-run promptc compile" not in promoted.output


def test_a_candidate_passing_a_re_evaluated_reference_is_promoted(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    production = _production_on_an_older_test_split(write_config, tmp_path)
    gated = write_config(
        lambda c: c.update(gates={"reference": "production", "overall": {"max_drop": 0.0}}), name="gated.yaml"
    )
    compiled = invoke("compile", gated)
    assert compiled.exit_code == 0 and "gates: pass" in compiled.output, compiled.output
    assert invoke("eval", gated).exit_code == 0
    promoted = invoke("promote", gated, "--artifact", "latest")
    assert promoted.exit_code == 0, promoted.output
    assert (
        "re-evaluated on the current test split" in promoted.output
        and f"(was {production})" in promoted.output
    )


def test_promoting_the_same_artifact_again_keeps_rollback_working(write_config: ConfigWriter) -> None:
    config = write_config()
    a = _compile(config)
    b = _compile(write_config(lambda c: c["optimizer"].update(seed=11), name="seed11.yaml"))
    for art in (a, b):
        assert invoke("promote", config, "--artifact", art).exit_code == 0
    again = invoke("promote", config, "--artifact", b)
    assert again.exit_code == 0, again.output
    assert f"production already at {b}" in again.output and "nothing changed" in again.output
    assert invoke("history", config).output.count("promote") == 2
    rolled = invoke("rollback", config)
    assert rolled.exit_code == 0 and f"production -> {a} (was {b})" in rolled.output


def test_the_html_report_of_an_eval_against_a_re_evaluated_reference(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # The reference's stored answers are from an older test split; the gates judged its
    # re-evaluated scores. The report's chart draws what the gates judged and never fails on it.
    _production_on_an_older_test_split(write_config, tmp_path)
    gated = write_config(
        lambda c: c.update(gates={"reference": "production", "overall": {"min_gain": 0.01}}),
        name="gated.yaml",
    )
    assert invoke("compile", gated).exit_code == 0
    page = tmp_path / "eval.html"
    evaluated = invoke("eval", gated, "--html", str(page))
    assert evaluated.exit_code == 1, evaluated.output  # the gate fails; the report is written
    assert "re-evaluated on the current test split" in evaluated.output
    html = page.read_text()
    assert "<svg" in html and "Release gates" in html
