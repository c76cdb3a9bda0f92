"""Gate rules over per-slice summaries."""

from __future__ import annotations

from promptc.config import GateRule, Gates
from promptc.evaluate import OVERALL, Summary
from promptc.gates import check_gates


def s(mean: float, n: int = 50) -> Summary:
    return Summary(n=n, mean=mean, ci_low=mean - 0.1, ci_high=mean + 0.1)


CAND = {OVERALL: s(0.7, 150), "email": s(0.8), "chat": s(0.55), "phone": s(0.75, 5)}
BASE = {OVERALL: s(0.6, 150), "email": s(0.7), "chat": s(0.62), "phone": s(0.5, 5)}


def test_overall_and_slice_minimums() -> None:
    report = check_gates(Gates(overall=GateRule(min=0.65), slices={"chat": GateRule(min=0.6)}), CAND, BASE)
    assert [(c.scope, c.rule, c.passed) for c in report.checks] == [
        (OVERALL, "min", True),
        ("chat", "min", False),
    ]
    assert not report.passed
    assert set(report.ungated) == {"email", "phone"}


def test_max_drop_against_the_baseline() -> None:
    report = check_gates(Gates(default=GateRule(max_drop=0.05)), CAND, BASE)
    failed = {c.scope for c in report.failures}
    assert failed == {"chat"}  # 0.62 -> 0.55 is a drop of 0.07
    assert "change -0.070 vs baseline 0.620" in report.failures[0].message


def test_max_drop_without_a_baseline_fails() -> None:
    report = check_gates(Gates(overall=GateRule(max_drop=0.1)), CAND, None)
    assert not report.passed and "no baseline" in report.failures[0].message


def test_min_n_and_named_slice_overrides_default() -> None:
    gates = Gates(default=GateRule(min=0.5, min_n=10), slices={"phone": GateRule(min_n=3)})
    report = check_gates(gates, CAND, BASE)
    assert report.passed
    assert any(c.scope == "phone" and c.rule == "min_n" and c.threshold == 3 for c in report.checks)


def test_a_gated_slice_missing_from_the_data_fails() -> None:
    report = check_gates(Gates(slices={"fax": GateRule(min=0.1)}), CAND, BASE)
    assert [(c.scope, c.rule, c.passed) for c in report.checks] == [("fax", "present", False)]
