"""Metrics with feedback: built-in explanations, custom returns (number, dict, tuple), hostile returns."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

from promptc.config import load_config
from promptc.data import Example
from promptc.evaluate import Prediction, Record, judge_prediction
from promptc.metrics import MAX_FEEDBACK_CHARS, TRUNCATED, Verdict, load_metric, verdict_of
from tests.conftest import ConfigWriter
from tests.test_cli import invoke


def test_label_accuracy_says_what_was_expected_and_what_came() -> None:
    metric = load_metric("label_accuracy", _signature(), Path("."))
    assert metric({"category": "billing"}, {"category": "billing"}) == Verdict(1.0, None)
    assert metric({"category": "billing"}, {"category": "technical"}) == Verdict(
        0.0, "category: expected billing, got technical"
    )
    assert metric({"category": "billing"}, {}).feedback == "category: expected billing, got no value"


def test_exact_match_feedback_folds_case_like_its_score() -> None:
    metric = load_metric("exact_match", _signature(enum=False), Path("."))
    assert metric({"answer": "Paris"}, {"answer": "paris."}) == Verdict(1.0, None)
    assert metric({"answer": "Paris"}, {"answer": "Lyon"}).feedback == "answer: expected Paris, got Lyon"


def test_a_parse_failure_scores_0_with_feedback_on_what_was_wrong() -> None:
    example = Example(id="E1", inputs={"ticket": "x"}, outputs={"category": "billing"}, slice=None)
    failed = Prediction(None, None, "I think billing?", "parse: no line 'category:'", 3, 4, False, 0.0)
    verdict = judge_prediction(load_metric("exact_match", _signature(), Path(".")), example, failed)
    assert verdict.score == 0.0
    assert verdict.feedback == "parse: no line 'category:'; the reply was: 'I think billing?'"


def test_records_store_feedback() -> None:
    p = Prediction({"category": "technical"}, None, "category: technical", None, 3, 1, False, 0.0)
    assert Record("E1", None, p, 0.0, "category: expected billing, got technical").to_dict()["feedback"] == (
        "category: expected billing, got technical"
    )
    assert "feedback" not in Record("E1", None, p, 1.0).to_dict()


@pytest.mark.parametrize(
    ("returned", "verdict"),
    [
        (1, Verdict(1.0)),
        (0.5, Verdict(0.5)),
        (True, Verdict(1.0)),
        (
            {"score": 0.0, "feedback": "expected billing: the ticket mentions a refund"},
            Verdict(0.0, "expected billing: the ticket mentions a refund"),
        ),
        ({"score": 1}, Verdict(1.0)),
        ((0.25, "partly"), Verdict(0.25, "partly")),
        ((0.25, None), Verdict(0.25)),
        ((0.0, ""), Verdict(0.0)),
    ],
)
def test_custom_metrics_may_return_a_number_a_dict_or_a_tuple(returned: Any, verdict: Verdict) -> None:
    assert verdict_of("m:score", returned) == verdict


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (math.nan, "returned nan; a score must be a finite number"),
        (math.inf, "returned inf; a score must be a finite number"),
        ("0.5", "returned 0.5; a score must be a finite number"),
        (None, "returned None; a score must be a finite number"),
        (1.5, "returned the score 1.5, outside 0 to 1"),
        (-0.1, "returned the score -0.1, outside 0 to 1"),
        ({"score": math.nan, "feedback": "x"}, "a score must be a finite number"),
        ({"feedback": "no score"}, "returned a dict with no 'score' key"),
        ({"score": 1, "why": "x"}, "returned a dict with unknown keys ['why']"),
        ((1.0, "a", "b"), "returned a tuple of 3 values"),
        ((1.0, 42), "returned feedback of type int; feedback must be a string or None"),
        ({"score": 0, "feedback": ["a"]}, "returned feedback of type list"),
    ],
)
def test_hostile_returns_are_refused_with_a_clear_error(returned: Any, message: str) -> None:
    with pytest.raises(ValueError, match="metric m:score") as err:
        verdict_of("m:score", returned)
    assert message in str(err.value)


def test_huge_feedback_is_truncated() -> None:
    verdict = verdict_of("m:score", (0.0, "why " * 100_000))
    assert verdict.feedback is not None and len(verdict.feedback) == MAX_FEEDBACK_CHARS
    assert verdict.feedback.endswith(TRUNCATED)


def test_a_custom_metric_with_feedback_is_loaded_from_beside_the_config(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    (tmp_path / "fb_metric.py").write_text(
        "def score(gold, predicted):\n"
        "    ok = gold == predicted\n"
        "    return {'score': float(ok), 'feedback': None if ok else 'expected ' + gold['category']}\n"
    )
    path = write_config(lambda c: c.update(metric="fb_metric:score"))
    cfg = load_config(path)
    try:
        metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
        assert metric({"category": "billing"}, {"category": "account"}) == Verdict(0.0, "expected billing")
    finally:
        sys.modules.pop("fb_metric", None)


def test_a_metric_returning_an_out_of_range_score_stops_compile_with_exit_3(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    (tmp_path / "big_metric.py").write_text("def score(gold, predicted):\n    return 7\n")
    path = write_config(lambda c: c.update(metric="big_metric:score"))
    try:
        result = invoke("compile", str(path))
    finally:
        sys.modules.pop("big_metric", None)
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "big_metric:score returned the score 7.0, outside 0 to 1" in text and "on example E" in text


def _signature(enum: bool = True) -> Any:
    from promptc.program import Field, Signature

    output = Field(name="category", type="enum", labels=("billing", "technical"))
    return Signature(
        inputs=(Field(name="ticket", type="str"),),
        outputs=(output if enum else Field(name="answer", type="str"),),
        instructions="",
    )
