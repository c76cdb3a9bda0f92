"""Gate rules over per-example scores: floors, changes vs a reference, sizes, confidence mode."""

from __future__ import annotations

import random

import pytest

from promptc.config.load import GateRule, Gates
from promptc.evaluation.stats import mean_interval
from promptc.release.gates import check_gates
from promptc.results import OVERALL, ScoreSet


def scores(per_slice: dict[str, list[float]]) -> ScoreSet:
    values, slices = {}, {}
    for name, items in per_slice.items():
        for i, score in enumerate(items):
            values[f"{name}-{i}"] = score
            slices[f"{name}-{i}"] = name
    return ScoreSet(values, slices)


def bernoulli(p: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [1.0 if rng.random() < p else 0.0 for _ in range(n)]


CAND = scores({"email": [1.0] * 8 + [0.0] * 2, "chat": [1.0] * 5 + [0.0] * 5, "phone": [1.0] * 3})
BASE = scores({"email": [1.0] * 7 + [0.0] * 3, "chat": [1.0] * 6 + [0.0] * 4, "phone": [0.0] * 3})


def by_scope(report):  # type: ignore[no-untyped-def]
    return {s.scope: s for s in report.slices}


def test_overall_and_slice_floors() -> None:
    gates = Gates(overall=GateRule(min=0.6), slices={"chat": GateRule(min=0.6)})
    report = check_gates(gates, CAND, BASE)
    results = by_scope(report)
    assert results[OVERALL].passed and results[OVERALL].score == pytest.approx(16 / 23, abs=1e-6)
    assert not results["chat"].passed and results["chat"].decided_by == "min"
    assert set(report.ungated) == {"email", "phone"}
    assert not report.passed


def test_max_drop_absolute_and_relative() -> None:
    report = check_gates(Gates(default=GateRule(max_drop=0.05)), CAND, BASE)
    assert {c.scope for c in report.failures} == {"chat"}  # 0.6 -> 0.5
    assert "gain -0.100 vs baseline beyond max_drop 0.050" in report.failures[0].message
    relative = check_gates(Gates(default=GateRule(max_rel_drop=0.2)), CAND, BASE)
    assert relative.passed  # chat fell by 1/6 of its reference score
    strict = check_gates(Gates(default=GateRule(max_rel_drop=0.1)), CAND, BASE)
    assert [c.scope for c in strict.failures] == ["chat"]


def test_min_gain_and_lower_is_better_metrics() -> None:
    gates = Gates(overall=GateRule(min_gain=0.05))
    assert check_gates(gates, CAND, BASE).passed  # 16/23 vs 13/23
    # With a lower-is-better metric (say an error rate) the same numbers are a regression.
    lower = Gates(overall=GateRule(min_gain=0.0, max=0.5), higher_is_better=False)
    report = check_gates(lower, CAND, BASE)
    assert {c.rule for c in report.failures} == {"min_gain", "max"}


def test_min_n_and_a_named_slice_overrides_the_default() -> None:
    gates = Gates(default=GateRule(min=0.5, min_n=5), slices={"phone": GateRule(min_n=3)})
    report = check_gates(gates, CAND, BASE)
    assert report.passed
    phone = by_scope(report)["phone"]
    assert [(c.rule, c.threshold) for c in phone.checks] == [("min_n", 3), ("min", 0.5)]
    small = check_gates(Gates(default=GateRule(min_n=5)), CAND, BASE)
    assert [(c.scope, c.rule) for c in small.failures] == [("phone", "min_n")]


def test_a_gated_slice_missing_from_the_data_fails() -> None:
    report = check_gates(Gates(slices={"fax": GateRule(min=0.1)}), CAND, BASE)
    assert [(c.scope, c.rule, c.passed) for c in report.failures] == [("fax", "present", False)]


def test_change_rules_without_reference_scores_fail() -> None:
    report = check_gates(Gates(overall=GateRule(max_drop=0.1)), CAND, None)
    assert "max_drop cannot be judged" in report.failures[0].message


def test_confidence_mode_uses_the_interval_not_the_point() -> None:
    cand = scores({"s": [1.0] * 14 + [0.0] * 6})  # 0.70 on 20 examples
    point = check_gates(Gates(overall=GateRule(min=0.6)), cand, None)
    confident = check_gates(Gates(overall=GateRule(min=0.6), mode="confidence"), cand, None)
    assert point.passed and not confident.passed
    result = by_scope(confident)[OVERALL]
    assert result.ci_low < 0.6 < result.score < result.ci_high
    assert "CI lower bound" in confident.failures[0].message


def test_the_paired_interval_sees_a_consistent_gain_that_unpaired_noise_would_hide() -> None:
    base = bernoulli(0.6, 200, seed=1)
    # The candidate fixes 16 of the reference's errors and changes nothing else: a real, consistent gain.
    cand, fixed = list(base), 0
    for i, v in enumerate(cand):
        if v == 0.0 and fixed < 16:
            cand[i], fixed = 1.0, fixed + 1
    report = check_gates(
        Gates(overall=GateRule(min_gain=0.0), mode="confidence"), scores({"s": cand}), scores({"s": base})
    )
    overall = by_scope(report)[OVERALL]
    assert overall.delta == pytest.approx(0.08)
    assert overall.delta_low is not None and overall.delta_low > 0.04  # paired: the interval is tight
    # Two independent 200-example means differ by ~0.05 (1 s.d.) by chance, so an unpaired comparison
    # could not separate +0.08 from zero at 95%; the paired interval does.
    assert report.passed


def test_an_identical_candidate_is_not_better() -> None:
    base = bernoulli(0.7, 200, seed=2)
    gates = Gates(overall=GateRule(min_gain=0.0), mode="confidence")
    report = check_gates(gates, scores({"s": base}), scores({"s": base}))
    overall = by_scope(report)[OVERALL]
    # The old percentile bootstrap gave [+0.00, +0.00] here and passed; the paired interval is not empty.
    assert overall.delta == 0 and overall.delta_low is not None and overall.delta_low < 0
    assert not report.passed
    assert "0 better, 0 worse of 200 pairs" in report.failures[0].message
    # Point mode is strict too: no change is not a gain.
    point = check_gates(Gates(overall=GateRule(min_gain=0.0)), scores({"s": base}), scores({"s": base}))
    assert not point.passed and "gain +0.000 vs baseline <= min_gain +0.000" in point.failures[0].message


def test_one_fixed_example_in_high_agreement_is_not_a_gain() -> None:
    base = bernoulli(0.7, 200, seed=2)
    cand = list(base)
    cand[base.index(0.0)] = 1.0  # 1 win, 0 losses: exact McNemar p = 0.5
    report = check_gates(
        Gates(overall=GateRule(min_gain=0.0), mode="confidence"), scores({"s": cand}), scores({"s": base})
    )
    low = by_scope(report)[OVERALL].delta_low
    assert not report.passed and low is not None and low <= 0.0
    assert "<= min_gain +0.000" in report.failures[0].message


def test_a_one_example_slice_cannot_pass_a_high_floor() -> None:
    cand = scores({"big": [1.0] * 45 + [0.0] * 5, "tiny": [1.0]})
    report = check_gates(Gates(slices={"tiny": GateRule(min=0.9)}, mode="confidence"), cand, None)
    tiny = by_scope(report)["tiny"]
    assert tiny.score == 1.0 and tiny.ci_low == pytest.approx(0.025) and tiny.ci_high == 1.0
    assert not report.passed and "Clopper-Pearson" in report.failures[0].message


def test_a_clearly_better_candidate_passes() -> None:
    base = bernoulli(0.6, 200, seed=5)
    cand, fixed, broken = list(base), 0, 0
    for i, v in enumerate(base):
        if v == 0.0 and fixed < 30:
            cand[i], fixed = 1.0, fixed + 1
        elif v == 1.0 and broken < 3:
            cand[i], broken = 0.0, broken + 1
    gates = Gates(overall=GateRule(min_gain=0.0, min=0.55), mode="confidence")
    report = check_gates(gates, scores({"s": cand}), scores({"s": base}))
    assert report.passed, [c.message for c in report.failures]
    assert "30 better, 3 worse of 200 pairs" in by_scope(report)[OVERALL].checks[1].message


def test_max_drop_passes_for_an_identical_candidate() -> None:
    same = scores({name: bernoulli(0.7, 50, seed=i) for i, name in enumerate(("email", "chat", "phone"))})
    report = check_gates(Gates(default=GateRule(max_drop=0.1), mode="confidence"), same, same)
    assert report.passed
    assert all(s.delta_low is not None and -0.1 < s.delta_low < 0 for s in report.slices)
    # ... but "no worse at all" cannot be shown from 50 identical examples.
    assert not check_gates(Gates(default=GateRule(max_drop=0.0), mode="confidence"), same, same).passed


def test_relative_rules_divide_the_bound_by_the_reference_mean() -> None:
    base = [1.0] * 100 + [0.0] * 100
    cand = [1.0] * 100 + [1.0] * 40 + [0.0] * 60  # 40 wins, no losses: 0.5 -> 0.7
    gates = Gates(overall=GateRule(min_gain=0.1, min_rel_gain=0.2), mode="confidence")
    overall = by_scope(check_gates(gates, scores({"s": cand}), scores({"s": base})))[OVERALL]
    gain, rel = overall.checks
    assert rel.value == pytest.approx(gain.value / 0.5, abs=1e-5)
    assert gain.passed and rel.passed


def test_lower_is_better_metrics_flip_the_interval() -> None:
    errors_ref = [1.0] * 60 + [0.0] * 140
    errors_cand = [0.0] * 30 + [1.0] * 30 + [0.0] * 140  # 30 fewer errors, none new
    gates = Gates(overall=GateRule(min_gain=0.0, max=0.3), higher_is_better=False, mode="confidence")
    report = check_gates(gates, scores({"s": errors_cand}), scores({"s": errors_ref}))
    overall = by_scope(report)[OVERALL]
    assert report.passed and overall.delta_high is not None and overall.delta_high < 0
    assert "30 better, 0 worse" in overall.checks[1].message


def test_intervals_are_the_ones_stats_gives() -> None:
    rng = random.Random(4)
    values = [rng.random() for _ in range(40)]
    report = check_gates(Gates(overall=GateRule(min=0.5), mode="confidence"), scores({"s": values}), None)
    assert (report.slices[0].ci_low, report.slices[0].ci_high) == pytest.approx(
        mean_interval(values, 0.95), abs=1e-6
    )


def test_two_half_point_gains_do_not_pass_min_gain() -> None:
    """Two examples scoring 0.5 vs 0 had a zero-width paired t-interval and passed `min_gain: 0.45`."""
    gates = Gates(overall=GateRule(min_gain=0.45), mode="confidence")
    cand, ref = scores({"a": [0.5, 0.5]}), scores({"a": [0.0, 0.0]})
    report = check_gates(gates, cand, ref)
    assert not report.passed
    assert "gains summing to 1, losses to 0, over 2 pairs" in report.failures[0].message


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"id": "a", "slice": None, "score": 5}, "score 5 is not a number in [0, 1]"),
        ({"id": "a", "slice": None, "score": -1.0}, "score -1.0 is not a number in [0, 1]"),
        ({"id": "a", "slice": None, "score": float("nan")}, "score nan is not a number in [0, 1]"),
        ({"id": "a", "slice": None, "score": 1e308}, "score 1e+308 is not a number in [0, 1]"),
        ({"id": "a", "slice": None, "score": "1"}, "score '1' is not a number"),
        ({"id": "a", "slice": "(overall)", "score": 1.0}, "slice '(overall)' is the overall row's name"),
    ],
)
def test_stored_records_with_impossible_scores_or_slices_are_refused(
    record: dict[str, object], expected: str
) -> None:
    from promptc.errors import ArtifactError

    good = {"id": "b", "slice": "x", "score": 0.5}
    with pytest.raises(ArtifactError) as info:
        ScoreSet.from_records([good, record], source="art.json")
    assert f"art.json: record 2 (id 'a'): {expected}" in info.value.message
    assert info.value.exit_code == 3 and info.value.fix


def test_json_reports_hold_no_infinity() -> None:
    """A relative change from a reference mean of 0 is infinite: JSON gets null and the reason."""
    import json

    gates = Gates(overall=GateRule(min_rel_gain=0.1), mode="point")
    report = check_gates(gates, scores({"a": [1.0, 1.0]}), scores({"a": [0.0, 0.0]}))
    text = json.dumps(report.to_dict(), allow_nan=False)
    check = json.loads(text)["slices"][0]["checks"][0]
    assert check["value"] is None and check["not_finite"] == {"value": "inf"}
    one = check_gates(Gates(mode="confidence"), ScoreSet({"x": 3.0}, {"x": None}), None)
    row = json.loads(json.dumps(one.to_dict(), allow_nan=False))["slices"][0]
    assert row["ci_low"] is None and row["not_finite"] == {"ci_low": "-inf", "ci_high": "inf"}


def test_an_unbounded_summary_is_null_in_json_and_reads_back() -> None:
    import json
    import math

    from promptc.results import Summary

    empty = Summary(0, 0.0, -math.inf, math.inf)
    data = json.loads(json.dumps(empty.to_dict(), allow_nan=False))
    assert data["ci_low"] is None and Summary.from_dict(data) == empty
