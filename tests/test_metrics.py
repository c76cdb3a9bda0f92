"""Metrics with feedback: built-in explanations, custom returns (number, dict, tuple), hostile returns."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

from promptc.config.load import load_config
from promptc.data.load import Example
from promptc.evaluation.evaluate import judge_prediction
from promptc.metrics import (
    MAX_FEEDBACK_CHARS,
    TRUNCATED,
    Verdict,
    load_metric,
    metric_fingerprint,
    metric_label,
    parse_metric,
    verdict_of,
)
from promptc.results import Prediction, Record
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
    from promptc.prompting.program import Field, Signature

    output = Field(name="category", type="enum", labels=("billing", "technical"))
    return Signature(
        inputs=(Field(name="ticket", type="str"),),
        outputs=(output if enum else Field(name="answer", type="str"),),
        instructions="",
    )


# --- metrics beyond labels ------------------------------------------------------------------


def _one(name: Any, kind: str = "str") -> Any:
    """The metric `name` on a program with one output, `answer`."""
    from promptc.prompting.program import Field, Signature

    output = Field(name="answer", type=kind, labels=("A", "B") if kind == "enum" else ())  # type: ignore[arg-type]
    signature = Signature(inputs=(Field(name="q", type="str"),), outputs=(output,), instructions="")
    metric = load_metric(name if isinstance(name, str) else parse_metric(name), signature, Path("."))
    return lambda gold, predicted: metric({"answer": gold}, {"answer": predicted})


@pytest.mark.parametrize(
    ("gold", "predicted", "score"),
    [
        ("The Eiffel-Tower!", "eiffeltower", 1.0),  # case, punctuation, articles
        ("  New   York ", "new york", 1.0),
        (["Paris", "the City of Light"], "city of light", 1.0),  # best over the gold list
        (["Paris", "Lyon"], "Marseille", 0.0),
        ("A", "the", 0.0),  # an answer that is only an article keeps it
        ("A", "a.", 1.0),
        (3, 3.0, 1.0),  # numbers by value
        (["a", "b"], ["A", "b"], 1.0),  # a list field: compared whole
        (["a", "b"], ["b", "a"], 0.0),
        ([], "", 1.0),  # no gold answer: the empty answer is right
    ],
)
def test_exact_match_normalises_like_squad_and_takes_the_best_gold(
    gold: Any, predicted: Any, score: float
) -> None:
    assert _one("exact_match")(gold, predicted).score == score


@pytest.mark.parametrize(
    ("gold", "predicted", "score"),
    [
        ("the cat sat on the mat", "a cat on a mat", 6 / 7),  # 3 shared of 4 gold and 3 predicted words
        ("Lyon", "Lyon France", 2 / 3),
        (["Paris", "Lyon"], "Lyon France", 2 / 3),  # best over the gold list
        ("the the", "", 0.0),
        ("", "", 1.0),
        ("a a b", "a b b", 2 / 3),  # words are a multiset: 2 shared of 3 and 3
    ],
)
def test_token_f1_on_hand_computed_cases(gold: Any, predicted: Any, score: float) -> None:
    assert _one("token_f1")(gold, predicted).score == pytest.approx(score)


def test_token_f1_feedback_names_the_missing_and_extra_words() -> None:
    verdict = _one("token_f1")("Lyon", "Lyon France")
    assert verdict.feedback == "answer: token F1 0.67 against Lyon; extra words: france"
    assert _one("token_f1")("Eiffel Tower", "tower").feedback == (
        "answer: token F1 0.67 against Eiffel Tower; missing words: eiffel"
    )


@pytest.mark.parametrize(
    ("gold", "predicted", "score"),
    [
        (["Paris", "Rome", "Berlin"], ["paris", "Madrid"], 2 * 1 / (2 + 3)),
        (["a", "a"], ["A"], 1.0),  # sets: duplicates count once
        ([], [], 1.0),
        ([], None, 1.0),
        (["a"], [], 0.0),
        ([1, 2], [2.0, 1], 1.0),
        ("Paris", ["paris"], 1.0),  # one value is a one-item list
    ],
)
def test_set_f1_on_hand_computed_cases(gold: Any, predicted: Any, score: float) -> None:
    assert _one("set_f1")(gold, predicted).score == pytest.approx(score)


def test_set_f1_feedback_names_missing_and_unexpected_items() -> None:
    verdict = _one("set_f1")(["Paris", "Rome"], ["paris", "Madrid"])
    assert verdict.feedback == "answer: set F1 0.50; missing: Rome; unexpected: Madrid"


def test_json_f1_scores_key_paths_with_list_items_as_sets() -> None:
    gold = {"city": "Boston", "date": "monday", "tags": ["a", "b"]}
    predicted = {"city": "the boston", "date": "tuesday", "tags": ["b"], "x": 1}
    verdict = _one("json_f1")(gold, predicted)
    # gold pairs: city, date, tags[]=a, tags[]=b; predicted: city, date, tags[]=b, x; 2 shared
    assert verdict.score == pytest.approx(2 * 2 / (4 + 4))
    assert verdict.feedback == (
        "answer: field F1 0.50; missing date = monday, tags[] = a; unexpected date = tuesday, x = 1"
    )


@pytest.mark.parametrize(
    ("gold", "predicted", "score"),
    [
        ({}, {}, 1.0),
        ({"n": 1}, {"n": 1.0}, 1.0),  # numbers by value
        ({"n": 1}, {"n": "1"}, 0.0),  # a string is not a number
        ({"a": {"b": "X"}}, {"a": {"b": "x"}}, 1.0),  # nested keys, strings normalised
        ({"a": {"b": 1}}, {"a": {"b": 2}}, 0.0),
        ({"a": 1, "b": 2}, {"a": 1}, 2 * 1 / (1 + 2)),
        ({"ents": [{"t": "PER", "v": "Ann"}]}, {"ents": [{"v": "ann", "t": "per"}]}, 1.0),  # items whole
        ({"a": 1}, "a: 1", 0.0),
        ({"a": 1}, None, 0.0),
    ],
)
def test_json_f1_on_hand_computed_cases(gold: Any, predicted: Any, score: float) -> None:
    assert _one("json_f1")(gold, predicted).score == pytest.approx(score)


def test_json_f1_says_when_an_object_was_expected() -> None:
    assert "expected an object, got str" in str(_one("json_f1")({"a": 1}, "a: 1").feedback)


@pytest.mark.parametrize(
    ("metric", "gold", "predicted", "score"),
    [
        ("numeric", 0.3, 0.1 + 0.2, 1.0),  # default: float noise only
        ("numeric", 10, 10.001, 0.0),
        ({"numeric": {"abs_tol": 0.5}}, 10, "10.4", 1.0),  # numeric strings are read
        ({"numeric": {"abs_tol": 0.5}}, 10, 10.6, 0.0),
        ({"numeric": {"rel_tol": 0.1}}, 100, 109, 1.0),
        ({"numeric": {"rel_tol": 0.1}}, -100, -111, 0.0),
        ({"numeric": {"abs_tol": 1, "rel_tol": 0.01}}, 1000, 1009, 1.0),  # the larger tolerance
        ("numeric", [1, 2], 2, 1.0),  # best over the gold list
        ("numeric", 5, True, 0.0),  # a bool is not a number
        ("numeric", 5, "five", 0.0),
    ],
)
def test_numeric_within_a_tolerance(metric: Any, gold: Any, predicted: Any, score: float) -> None:
    assert _one(metric)(gold, predicted).score == score


def test_numeric_feedback_says_how_far_and_the_tolerance() -> None:
    assert (
        _one({"numeric": {"abs_tol": 0.5}})(10, 11).feedback == "answer: expected 10, got 11 (tolerance 0.5)"
    )
    assert _one("numeric")(math.nan, 1).feedback == "answer: the gold value nan is not a finite number"
    assert _one("numeric")(1, "x").feedback == "answer: expected a number, got x"


def _deep(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


HOSTILE = [
    None,
    "",
    [],
    {},
    math.nan,
    -math.inf,
    True,
    10**5000,  # str() of it raises
    "x " * 500_000,
    _deep(5000),
    {1: None, (2, 3): [math.nan, {"": []}]},
    [None, [], {}, "", 0],
    object(),
]


@pytest.mark.parametrize(
    "name", ["exact_match", "label_accuracy", "token_f1", "set_f1", "json_f1", "numeric"]
)
def test_every_builtin_metric_scores_hostile_values_as_a_miss_without_raising(name: str) -> None:
    metric = _one(name, "enum" if name == "label_accuracy" else "str")
    for gold in [*HOSTILE, "A", ["A", "b"]]:
        for predicted in [*HOSTILE, "A"]:
            verdict = metric(gold, predicted)
            assert 0.0 <= verdict.score <= 1.0, (gold, predicted)
            assert verdict.feedback is None or len(verdict.feedback) <= MAX_FEEDBACK_CHARS
            if verdict.score < 1.0:
                assert verdict.feedback, (name, gold, predicted)


@pytest.mark.parametrize("name", ["exact_match", "token_f1", "set_f1", "json_f1", "numeric"])
def test_a_missing_or_non_mapping_prediction_is_a_miss_with_a_reason(name: str) -> None:
    metric = load_metric(name, _signature(enum=False), Path("."))
    assert metric({"answer": "x"}, {}) == Verdict(0.0, "answer: expected x, got no value")
    assert metric({"answer": "x"}, None).score == 0.0  # type: ignore[arg-type]


def _triage_signature() -> Any:
    from promptc.prompting.program import Field, Signature

    return Signature(
        inputs=(Field(name="q", type="str"),),
        outputs=(
            Field(name="intent", type="enum", labels=("book", "play")),
            Field(name="slots", type="json"),
            Field(name="note", type="str"),
        ),
        instructions="",
    )


COMPOSITE = {"fields": {"intent": "label_accuracy", "slots": "json_f1"}, "weights": {"intent": 1, "slots": 2}}


def test_a_composite_metric_is_the_weighted_mean_with_per_field_scores() -> None:
    metric = load_metric(metric_label(parse_metric(COMPOSITE)), _triage_signature(), Path("."))
    gold = {"intent": "book", "slots": {"city": "Boston", "date": "monday"}, "note": "n/a"}
    verdict = metric(gold, {"intent": "play", "slots": {"city": "boston"}, "note": "whatever"})
    # intent 0 (weight 1), slots F1 2*1/(1+2) (weight 2); note is not scored
    assert verdict.score == pytest.approx((0 + 2 * (2 / 3)) / 3)
    assert verdict.field_scores == pytest.approx({"intent": 0.0, "slots": 2 / 3})
    assert verdict.feedback == (
        "intent: expected book, got play; slots: field F1 0.67; missing date = monday"
    )
    perfect = metric(gold, {"intent": "book", "slots": {"date": "Monday", "city": "boston"}})
    assert perfect == Verdict(1.0, None, {"intent": 1.0, "slots": 1.0})
    assert metric(gold, {"slots": {}}).feedback == (
        "intent: expected book, got no value; slots: field F1 0.00; missing city = Boston, date = monday"
    )


def test_a_composite_field_may_weigh_0_and_take_settings() -> None:
    spec = {
        "fields": {"intent": "label_accuracy", "note": {"numeric": {"abs_tol": 1}}},
        "weights": {"note": 0},
    }
    metric = load_metric(parse_metric(spec), _triage_signature(), Path("."))
    verdict = metric({"intent": "book", "note": 5}, {"intent": "book", "note": 9})
    assert verdict.score == 1.0 and verdict.field_scores == {"intent": 1.0, "note": 0.0}


def test_a_composite_field_may_be_a_custom_metric_that_sees_its_field_alone(tmp_path: Path) -> None:
    (tmp_path / "one_field.py").write_text(
        "def score(gold, predicted):\n    return (0.5, f'saw {sorted(gold)} and {sorted(predicted)}')\n"
    )
    spec = parse_metric({"fields": {"intent": "label_accuracy", "note": "one_field:score"}})
    metric = load_metric(spec, _triage_signature(), tmp_path)
    verdict = metric({"intent": "book", "note": "x"}, {"intent": "book"})
    assert verdict.score == 0.75
    assert verdict.feedback == "note: saw ['note'] and []"


def test_single_metrics_over_several_outputs_report_each_field() -> None:
    metric = load_metric("exact_match", _triage_signature(), Path("."))
    verdict = metric({"slots": {"a": 1}, "note": "x"}, {"slots": {"a": 1}, "note": "y"})
    assert verdict == Verdict(0.0, "note: expected x, got y", {"slots": 1.0, "note": 0.0})


def test_records_store_per_field_scores() -> None:
    p = Prediction({"intent": "book"}, None, "intent: book", None, 3, 1, False, 0.0)
    record = Record("E1", None, p, 0.5, "slots: field F1 0.00", {"intent": 1.0, "slots": 0.0})
    assert record.to_dict()["field_scores"] == {"intent": 1.0, "slots": 0.0}


def test_the_metric_label_reads_back_to_the_same_metric() -> None:
    spec = parse_metric({"fields": {"slots": "json_f1", "intent": {"numeric": {"abs_tol": 2}}}})
    label = metric_label(spec)
    fields = '"fields":{"intent":{"numeric":{"abs_tol":2.0}},"slots":"json_f1"}'
    assert label == "{" + fields + ',"weights":{"intent":1.0,"slots":1.0}}'
    assert parse_metric(label) == spec
    assert metric_label(parse_metric({"numeric": {"rel_tol": 1e-9}})) == "numeric"  # the default is left out
    assert metric_label(parse_metric("label_accuracy")) == "label_accuracy"


def test_the_metric_fingerprint_changes_with_the_metric_and_the_custom_module(tmp_path: Path) -> None:
    (tmp_path / "fp_metric.py").write_text("def score(gold, predicted):\n    return 1.0\n")
    before = metric_fingerprint("fp_metric:score", tmp_path)
    assert before == metric_fingerprint("fp_metric:score", tmp_path)
    assert metric_fingerprint("exact_match", tmp_path) != metric_fingerprint("token_f1", tmp_path)
    assert metric_fingerprint("numeric", tmp_path) != metric_fingerprint(
        {"numeric": {"abs_tol": 1}}, tmp_path
    )
    (tmp_path / "fp_metric.py").write_text("def score(gold, predicted):\n    return 0.0\n")
    assert metric_fingerprint("fp_metric:score", tmp_path) != before
    composite = {"fields": {"intent": "fp_metric:score"}}
    assert metric_fingerprint(composite, tmp_path) != metric_fingerprint(
        {"fields": {"intent": "exact_match"}}, tmp_path
    )


# --- config validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("f1", "metric: unknown metric 'f1'"),
        ("a:b:c", "metric: 'a:b:c' is not module:function"),
        ([1], "metric: must be a metric (exact_match"),
        ({"f1": {}}, "metric.f1: unknown metric 'f1'"),
        (
            {"numeric": {"tol": 1}},
            "metric.numeric: Additional properties are not allowed ('tol' was unexpected)",
        ),
        ({"numeric": {"abs_tol": -1}}, "metric.numeric.abs_tol: -1 is less than the minimum of 0"),
        ({"numeric": {"abs_tol": math.nan}}, "metric.numeric.abs_tol: must be a finite number"),
        ({"numeric": {}, "exact_match": {}}, "metric: must be one metric with its settings"),
        (
            {"fields": {"nope": "json_f1"}},
            "metric.fields.nope: 'nope' is not an output of the program (outputs: category)",
        ),
        ({"fields": {"category": "f1"}}, "metric.fields.category: unknown metric 'f1'"),
        ({"fields": {}}, "metric.fields: {} should be non-empty"),
        (
            {"fields": {"category": "label_accuracy"}, "weights": {"category": -1}},
            "metric.weights.category: -1 is less than",
        ),
        (
            {"fields": {"category": "label_accuracy"}, "weights": {"category": "two"}},
            "metric.weights.category: 'two' is not of type 'number'",
        ),
        (
            {"fields": {"category": "label_accuracy"}, "weights": {"other": 1}},
            "metric.weights.other: 'other' is not under metric.fields",
        ),
        (
            {"fields": {"category": "label_accuracy"}, "weights": {"category": 0}},
            "metric.weights: every weight is 0",
        ),
        (
            {"fields": {"category": "label_accuracy"}, "weight": {}},
            "metric: Additional properties are not allowed ('weight' was unexpected)",
        ),
        ({"weights": {"category": 1}}, "metric.weights: weights need fields"),
        (
            {"fields": {"category": {"fields": {"category": "exact_match"}}}},
            "metric.fields.category: a field's metric is one metric",
        ),
    ],
)
def test_check_refuses_a_bad_metric_naming_the_key(
    write_config: ConfigWriter, metric: Any, expected: str
) -> None:
    result = invoke("check", write_config(lambda c: c.update(metric=metric)))
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert "fix:" in result.output


def test_check_refuses_label_accuracy_on_a_field_that_is_not_an_enum(write_config: ConfigWriter) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["program"]["outputs"]["why"] = {"type": "str"}
        c["metric"] = {"fields": {"category": "label_accuracy", "why": "label_accuracy"}}

    result = invoke("check", write_config(edit))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "metric.fields.why: label_accuracy needs an output of type enum; why is str" in text
    assert "fix: use exact_match" in text


def test_a_composite_metric_loads_as_its_canonical_text(write_config: ConfigWriter) -> None:
    cfg = load_config(write_config(lambda c: c.update(metric={"fields": {"category": "label_accuracy"}})))
    assert cfg.metric == '{"fields":{"category":"label_accuracy"},"weights":{"category":1.0}}'
    assert invoke("check", cfg.path).exit_code == 0


# --- custom metrics: loaded by path, never exiting ------------------------------------------


def test_a_custom_metric_leaves_sys_path_alone_so_local_files_shadow_nothing(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    import importlib.util

    (tmp_path / "local_metric.py").write_text("def score(gold, predicted):\n    return 1.0\n")
    (tmp_path / "bm25s.py").write_text("raise RuntimeError('the local bm25s.py shadows the library')\n")
    path = write_config(lambda c: c.update(metric="local_metric:score"))
    cfg = load_config(path)
    before = list(sys.path)
    metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
    assert metric({"category": "billing"}, {"category": "billing"}).score == 1.0
    assert sys.path == before and str(tmp_path) not in sys.path
    assert "local_metric" not in sys.modules
    spec = importlib.util.find_spec("bm25s")
    assert spec is None or tmp_path not in Path(str(spec.origin)).parents


def test_a_metric_that_calls_sys_exit_stops_compile_with_exit_3_naming_the_example(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    (tmp_path / "exit_metric.py").write_text("import sys\n\ndef score(gold, predicted):\n    sys.exit(0)\n")
    result = invoke("compile", write_config(lambda c: c.update(metric="exit_metric:score")))
    assert result.exit_code == 3, result.output  # before: SystemExit(0) escaped as success
    text = " ".join(result.output.split())
    assert "metric exit_metric:score raised SystemExit(0)" in text and "on example E" in text
    assert not list((tmp_path / "artifacts").rglob("*.json"))


def test_a_metric_module_that_exits_on_import_is_a_config_error(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    (tmp_path / "exit_on_import.py").write_text("raise SystemExit(0)\n")
    result = invoke("compile", write_config(lambda c: c.update(metric="exit_on_import:score")))
    assert result.exit_code == 2, result.output
    assert "importing module 'exit_on_import' raised SystemExit" in " ".join(result.output.split())


def test_a_metric_interrupted_by_the_user_is_not_swallowed(tmp_path: Path) -> None:
    (tmp_path / "ctrl_c.py").write_text("def score(gold, predicted):\n    raise KeyboardInterrupt\n")
    metric = load_metric("ctrl_c:score", _signature(), tmp_path)
    with pytest.raises(KeyboardInterrupt):
        metric({"category": "billing"}, {"category": "billing"})
