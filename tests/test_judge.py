"""The judge metric: a pinned model scoring replies against a rubric, through the real litellm path
to a fake OpenAI-compatible server (tests/fake_openai.py) that reports a model id of its choosing."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptc.config.load import load_config
from promptc.evaluation.judge_check import spearman
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.metrics import Judge, JudgeSpec, load_metric, metric_fingerprint, parse_metric
from promptc.metrics.judge import UnreadableReply, read_reply, score_grammar
from tests.conftest import ConfigWriter
from tests.fake_openai import FakeOpenAI
from tests.test_cli import artifact_id, invoke

KEY_ENV = "PROMPTC_JUDGE_KEY"
JUDGE_MODEL, JUDGE_REVISION = "openai/judge-test", "judge-snapshot-1"
REPLY = "reason: it names the team the ticket is about\nscore: 4"
RUBRIC = "Score how well the category fits the ticket."


@pytest.fixture
def judge_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible judge reporting judge-snapshot-1 and always answering REPLY."""
    monkeypatch.setenv(KEY_ENV, "sk-judge-test-key")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "PROMPTC_VIA_LITELLM"):
        monkeypatch.delenv(name, raising=False)
    with FakeOpenAI(model=JUDGE_REVISION) as fake:
        fake.start()
        fake.reply_text = REPLY
        yield fake


def judge_block(api_base: str, **overrides: Any) -> dict[str, Any]:
    block = {
        "model": JUDGE_MODEL,
        "revision": JUDGE_REVISION,
        "rubric": RUBRIC,
        "scale": [1, 5],
        "api_base": api_base,
        "api_key_env": KEY_ENV,
    }
    return block | overrides


def judged(api_base: str, **overrides: Any) -> Any:
    """A config edit: the metric is the judge at api_base."""

    def edit(cfg: dict[str, Any]) -> None:
        cfg["metric"] = {"judge": judge_block(api_base, **overrides)}
        cfg["data"]["test"] = "data/test_small.jsonl"

    return edit


@pytest.fixture
def small_test(tmp_path: Path) -> None:
    """A test split of 8 examples, so each compile makes few judge calls."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    from tests.conftest import make_examples, write_jsonl

    write_jsonl(data / "test_small.jsonl", make_examples(8, seed=3, start=200))


def cached_responses() -> list[str]:
    path = Path(os.environ["PROMPTC_HOME"]) / "cache.sqlite"
    if not path.exists():
        return []
    return [r for (r,) in sqlite3.connect(path).execute("SELECT response FROM calls")]


# Scoring, caching, drift and the artifact id, end to end through the CLI.


@pytest.mark.usefixtures("small_test")
def test_a_pinned_judge_scores_replies_and_its_calls_are_cached(
    judge_server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(judged(judge_server.url))
    compiled = invoke("compile", config)
    assert compiled.exit_code == 0, compiled.output
    request = judge_server.requests[-1]
    assert request["temperature"] == 0 and request["model"] == "judge-test"
    prompt = request["messages"][1]["content"]
    assert RUBRIC in prompt and "ticket: " in prompt and "Reply to grade:\ncategory: " in prompt
    assert "Reference answer:\ncategory: " in prompt

    calls = len(judge_server.requests)
    report = tmp_path / "eval.json"
    evaluated = invoke("eval", config, "--json", report)
    assert evaluated.exit_code == 0, evaluated.output
    assert "model calls: 0 made" in evaluated.output and len(judge_server.requests) == calls
    records = json.loads(report.read_text())["candidate"]["records"]
    assert {r["score"] for r in records} == {0.75}  # 4 on 1-5
    assert records[0]["feedback"] == "judge: 4 of 1-5: it names the team the ticket is about"


@pytest.mark.usefixtures("small_test")
def test_a_drifted_judge_is_refused_and_nothing_of_it_cached(
    judge_server: FakeOpenAI, write_config: ConfigWriter
) -> None:
    judge_server.model = "judge-snapshot-2"
    result = invoke("compile", write_config(judged(judge_server.url)))
    assert result.exit_code == 3, result.output
    assert "metric.judge" in result.output and "'judge-snapshot-2'" in result.output
    assert "metric.judge.revision is 'judge-snapshot-1'" in result.output
    assert judge_server.requests and not any("score: 4" in r for r in cached_responses())


@pytest.mark.usefixtures("small_test")
def test_the_judges_revision_is_part_of_the_artifact_id(
    judge_server: FakeOpenAI, write_config: ConfigWriter
) -> None:
    first = invoke("compile", write_config(judged(judge_server.url)))
    assert first.exit_code == 0, first.output
    judge_server.model = "judge-snapshot-2"
    second = invoke("compile", write_config(judged(judge_server.url, revision="judge-snapshot-2")))
    assert second.exit_code == 0, second.output
    assert artifact_id(first.output) != artifact_id(second.output)


def test_where_the_judge_is_served_is_not_part_of_the_artifact_id(write_config: ConfigWriter) -> None:
    def digest(api_base: str, key_env: str, **overrides: Any) -> str:
        edit = judged(api_base, api_key_env=key_env, **overrides)
        return load_config(write_config(edit, model="fake/learner")).digest

    here = digest("http://127.0.0.1:1/v1", KEY_ENV)
    assert digest("http://127.0.0.1:2/v1", "OTHER_JUDGE_KEY") == here
    assert digest("http://127.0.0.1:1/v1", KEY_ENV, rubric="Score the tone.") != here


def test_an_embedded_judge_of_another_revision_is_refused_before_any_call(
    write_config: ConfigWriter,
) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["metric"] = {
            "judge": {"model": "fake/learner", "revision": "fake11111111", "rubric": "r", "scale": [0, 1]}
        }

    result = invoke("compile", write_config(edit))
    assert result.exit_code == 2, result.output
    assert "metric.judge.revision is 'fake11111111'" in result.output


def test_an_unreadable_judge_reply_is_a_miss_with_a_reason_and_never_cached(
    judge_server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = load_config(write_config())
    spec = parse_metric({"judge": judge_block(judge_server.url)})
    assert isinstance(spec, JudgeSpec)
    judge = Judge(spec).bind(LM(config.target, CallCache(tmp_path / "cache.sqlite")))
    judge_server.reply_text = "I would rather not grade this."
    for _ in range(2):
        verdict = judge.judge({"ticket": "refund please"}, {"category": "billing"}, {"category": "billing"})
        assert verdict.score == 0.0
        assert verdict.feedback and "could not be read (no `score:` line)" in verdict.feedback
    assert judge.lm is not None and judge.lm.usage.calls == 2 and judge.lm.usage.cached == 0


# The metric's text and fingerprint.


def test_the_fingerprint_covers_the_judges_model_revision_rubric_and_scale(tmp_path: Path) -> None:
    base = judge_block("http://127.0.0.1:1/v1")
    prints = {
        metric_fingerprint({"judge": base | change}, tmp_path)
        for change in (
            {},
            {"model": "openai/judge-other"},
            {"revision": "judge-snapshot-2"},
            {"rubric": "Score the tone."},
            {"scale": [0, 10]},
        )
    }
    assert len(prints) == 5
    moved = judge_block("http://127.0.0.1:2/v1", api_key_env="OTHER_JUDGE_KEY")
    assert metric_fingerprint({"judge": moved}, tmp_path) == metric_fingerprint({"judge": base}, tmp_path)
    spec = parse_metric({"judge": base})
    assert parse_metric(json.dumps(spec.to_data())) == spec  # the canonical text reads back


@pytest.mark.parametrize(
    ("judge", "expected"),
    [
        ({"rubric": None}, "metric.judge: 'rubric' is a required property"),
        ({"scale": [5, 1]}, "metric.judge.scale: [5, 1] is not [lowest, highest]"),
        ({"scale": [1, 2, 3]}, "metric.judge.scale"),
        ({"rubric": "   "}, "metric.judge.rubric: is blank"),
        ({"temperature": 0.5}, "metric.judge: Additional properties are not allowed"),
        ({"max_tokens": 1}, "metric.judge.max_tokens"),
    ],
)
def test_a_malformed_judge_is_refused_naming_the_key(
    write_config: ConfigWriter, judge: dict[str, Any], expected: str
) -> None:
    block = {k: v for k, v in (judge_block("http://127.0.0.1:1/v1") | judge).items() if v is not None}
    result = invoke("check", write_config(lambda c: c.update(metric={"judge": block})))
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())


def test_a_judge_scores_the_whole_reply_not_one_field(write_config: ConfigWriter) -> None:
    fields = {"category": {"judge": judge_block("http://127.0.0.1:1/v1")}}
    result = invoke("check", write_config(lambda c: c.update(metric={"fields": fields})))
    assert result.exit_code == 2
    assert "metric.fields.category.judge: a judge scores the whole reply" in " ".join(result.output.split())


def test_a_judges_key_variable_is_never_echoed(write_config: ConfigWriter) -> None:
    block = judge_block("http://127.0.0.1:1/v1", api_key_env="sk-pasted-key-123")
    result = invoke("check", write_config(lambda c: c.update(metric={"judge": block})))
    assert result.exit_code == 2 and "metric.judge.api_key_env" in result.output
    assert "sk-pasted-key-123" not in result.output


# Reading the judge's reply.


@pytest.mark.parametrize(
    ("text", "score", "reason"),
    [
        ("reason: fine\nscore: 3", 3, "fine"),
        ("Reason: close enough\n\n**Score:** 5/5", 5, "close enough"),
        ('{"reason": "wrong team", "score": 1}', 1, "wrong team"),
        ('```json\n{"score": 2.0, "reason": "vague"}\n```', 2, "vague"),
    ],
)
def test_a_judge_reply_is_read_as_lines_or_json(text: str, score: int, reason: str) -> None:
    reply = read_reply(text, (1, 5))
    assert (reply.score, reply.reason) == (score, reason)
    assert reply.verdict((1, 5)).score == (score - 1) / 4


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("score: 7", "outside the scale 1-5"),
        ("score: 2.5", "not a whole number"),
        ('{"score": true}', "not a whole number"),
        ('{"reason": "x"}', "no score"),
        ("{not json", "not valid JSON"),
        ("looks good", "no `score:` line"),
    ],
)
def test_an_unreadable_judge_reply_says_why(text: str, why: str) -> None:
    with pytest.raises(UnreadableReply, match=why.replace("`", ".")):
        read_reply(text, (1, 5))


def test_a_long_reason_is_cut() -> None:
    reply = read_reply("reason: " + "x" * 5000 + "\nscore: 1", (1, 5))
    assert len(reply.reason) == 500 and reply.reason.endswith("...")


def test_the_score_grammar_allows_only_scores_on_the_scale() -> None:
    grammar = score_grammar((0, 3))
    assert grammar.startswith('root ::= "reason: " [^\\n]{1,300} "\\nscore: " (')
    assert '"3" | "2" | "1" | "0"' in grammar and '"4"' not in grammar


@pytest.mark.slow
def test_an_embedded_judges_every_reply_reads(tmp_path: Path) -> None:
    """The real embedded model as the judge: the grammar makes each reply a reason and a score."""
    pytest.importorskip("llama_cpp")
    from promptc.config.load import Target
    from promptc.lm.providers import provider_for

    provider = provider_for("local/smollm2-135m-instruct")
    assert provider is not None
    revision = provider.revision("smollm2-135m-instruct")[:12]
    block = {"model": "local/smollm2-135m-instruct", "revision": revision, "rubric": RUBRIC, "scale": [1, 5]}
    spec = parse_metric({"judge": block})
    assert isinstance(spec, JudgeSpec)
    judge = Judge(spec).bind(LM(Target("fake/learner", "fake00000000"), CallCache(tmp_path / "c.sqlite")))
    for answer in ("billing", "shipping"):
        gold, reply = {"category": "billing"}, {"category": answer}
        verdict = judge.judge({"ticket": "I was charged twice"}, gold, reply)
        assert verdict.feedback and verdict.feedback.startswith("judge: "), verdict.feedback


def test_a_judge_metric_loads_without_a_model_and_is_bound_by_evaluate(tmp_path: Path) -> None:
    from promptc.prompting.program import Field, Signature

    signature = Signature(inputs=(Field("q", "str"),), outputs=(Field("a", "str"),), instructions="")
    metric = load_metric(json.dumps({"judge": judge_block("http://127.0.0.1:1/v1")}), signature, tmp_path)
    assert isinstance(metric, Judge) and metric.lm is None


# promptc eval --judge-check


def write_labelled(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.usefixtures("small_test")
def test_judge_check_reports_agreement_with_an_interval(
    judge_server: FakeOpenAI, write_config: ConfigWriter, tmp_path: Path
) -> None:
    rows = [
        {"inputs": {"ticket": f"t{i}"}, "outputs": {"category": "billing"}, "human": human}
        for i, human in enumerate([4, 4, 3, 5])
    ]
    rows[0]["gold"] = {"category": "billing"}
    labelled = write_labelled(tmp_path / "labelled.jsonl", rows)
    config = write_config(judged(judge_server.url))
    result = invoke("eval", config, "--judge-check", labelled)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "4 rows" in text and "judge-snapshot-1" in text
    assert "exact: same score │ 0.500 │ 0.068 to 0.932" in text  # 2 of 4, Clopper-Pearson
    assert "within one step │ 1.000" in text and "0.125" in text  # |4-3|/4 and |4-5|/4 over 4 rows
    assert "Spearman's rank correlation │ n/a" in text  # the judge's scores do not vary
    assert "model calls: 4 made" in text
    again = invoke("eval", config, "--judge-check", labelled)
    assert "model calls: 0 made, 4 from cache" in again.output


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (['{"outputs": {"category": "billing"}, "human": 4}', "{oops"], "labelled.jsonl:2: not valid JSON"),
        ([{"outputs": {"category": "billing"}, "human": 9}], "labelled.jsonl:1: human: 9 is outside"),
        ([{"outputs": {"category": "billing"}}], "labelled.jsonl:1: human: missing"),
        ([{"outputs": "billing", "human": 3}], "labelled.jsonl:1: outputs: must be an object"),
        ([{"outputs": {"a": 1}, "human": 3, "score": 3}], "labelled.jsonl:1: unknown key 'score'"),
        ([], "labelled.jsonl: no rows"),
    ],
)
def test_a_malformed_labelled_file_is_refused_naming_the_row(
    write_config: ConfigWriter, tmp_path: Path, rows: list[Any], expected: str
) -> None:
    labelled = write_labelled(tmp_path / "labelled.jsonl", rows)
    result = invoke("eval", write_config(judged("http://127.0.0.1:1/v1")), "--judge-check", labelled)
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())


def test_judge_check_needs_a_judge_metric(write_config: ConfigWriter, tmp_path: Path) -> None:
    labelled = write_labelled(tmp_path / "labelled.jsonl", [{"outputs": {"a": 1}, "human": 1}])
    result = invoke("eval", write_config(), "--judge-check", labelled)
    assert result.exit_code == 2 and "--judge-check needs a judge metric" in result.output


def test_spearman_on_ranks_with_ties() -> None:
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833)
    assert spearman([1, 2], [1, 2]) is None and spearman([2, 2, 2], [1, 2, 3]) is None
