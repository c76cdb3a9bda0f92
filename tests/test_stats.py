"""Intervals and tests of promptc.evaluation.stats: known values, small-sample guarantees, seeded coverage."""

from __future__ import annotations

import math
import random

import pytest

from promptc.evaluation.stats import (
    mcnemar_exact_p,
    mean_interval,
    mean_method,
    paired_interval,
    paired_method,
    significantly_better,
)


def pairs(wins: int, losses: int, both_right: int, both_wrong: int) -> tuple[list[float], list[float]]:
    cand = [1.0] * wins + [0.0] * losses + [1.0] * both_right + [0.0] * both_wrong
    ref = [0.0] * wins + [1.0] * losses + [1.0] * both_right + [0.0] * both_wrong
    return cand, ref


def test_clopper_pearson_known_values() -> None:
    # All n correct: the lower bound solves p**n = alpha/2.
    assert mean_interval([1.0] * 10, 0.95) == pytest.approx((0.025 ** (1 / 10), 1.0))
    assert mean_interval([0.0] * 10, 0.95) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)))
    low, high = mean_interval([1.0] * 20 + [0.0] * 20, 0.95)
    assert (low, high) == pytest.approx((0.338018, 0.661982), abs=1e-6)  # scipy beta.ppf
    assert mean_method([1.0, 0.0]) == "Clopper-Pearson"


def test_one_example_says_almost_nothing() -> None:
    low, high = mean_interval([1.0], 0.95)
    assert low == pytest.approx(0.025) and high == 1.0
    assert low < 0.9  # a 1-example slice can never pass `min: 0.9`
    assert mean_interval([0.0], 0.95) == pytest.approx((0.0, 0.975))
    assert mean_interval([], 0.95) == (-math.inf, math.inf)
    assert mean_interval([3.5], 0.95) == (-math.inf, math.inf)  # no spread from one score


def test_fractional_and_unbounded_scores() -> None:
    low, high = mean_interval([0.5] * 40, 0.95)
    assert low < 0.5 < high and mean_method([0.5]) == "Clopper-Pearson on the mean"
    # Student t: mean 3, s.d. 1.5811, t(0.975, 4) = 2.776445.
    low, high = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0], 0.95)
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert (low, high) == pytest.approx((3 - half, 3 + half), abs=1e-5)
    assert mean_interval([1.0, 12.0], 0.95)[1] - 6.5 == pytest.approx(12.706205 * 5.5, abs=1e-4)
    assert mean_method([2.0, 3.0]) == "Student t"


def test_mcnemar_exact_p() -> None:
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(1, 0) == 0.5
    assert mcnemar_exact_p(5, 0) == 1 / 32
    assert mcnemar_exact_p(10, 3) == pytest.approx(0.046142578125)
    assert mcnemar_exact_p(3, 10) == pytest.approx(1 - mcnemar_exact_p(11, 2))
    with pytest.raises(ValueError):
        mcnemar_exact_p(-1, 0)


def test_identical_vectors_are_never_significantly_better() -> None:
    for n in (1, 2, 5, 20, 200, 2000):
        same = [1.0] * (n - n // 3) + [0.0] * (n // 3)
        low, high = paired_interval(same, same, 0.95)
        assert low < 0 < high
        assert not significantly_better(same, same, 0.95)
    graded = [0.25, 0.5, 0.75, 1.0]
    low, high = paired_interval(graded, graded, 0.95)
    assert low < 0 < high  # ties carry no evidence either way, as with 0/1 scores
    assert not significantly_better(graded, graded, 0.95)


def test_few_wins_are_not_significant_and_many_are() -> None:
    assert not significantly_better(*pairs(1, 0, 150, 49), 0.95)
    # 5 wins and no losses: exact McNemar p = 1/32 > 0.025, so the lower bound stays at or below 0.
    assert paired_interval(*pairs(5, 0, 150, 45), 0.95)[0] <= 0.0
    assert not significantly_better(*pairs(5, 0, 150, 45), 0.95)
    assert significantly_better(*pairs(30, 5, 120, 45), 0.95)
    low, high = paired_interval(*pairs(30, 5, 120, 45), 0.95)
    assert 0 < low < 25 / 200 < high
    assert paired_method(*pairs(1, 0, 1, 1)) == "Tango paired score interval with exact McNemar"


def test_paired_interval_is_antisymmetric() -> None:
    cand, ref = pairs(12, 4, 30, 14)
    low, high = paired_interval(cand, ref, 0.9)
    assert paired_interval(ref, cand, 0.9) == pytest.approx((-high, -low))
    rng = random.Random(3)
    a = [rng.random() for _ in range(30)]
    b = [rng.random() for _ in range(30)]
    low, high = paired_interval(a, b, 0.95)
    assert paired_interval(b, a, 0.95) == pytest.approx((-high, -low))
    assert paired_method(a, b).endswith("on summed gains and losses")
    wide = [2 * x for x in a]
    low, high = paired_interval(wide, b, 0.95)
    assert paired_interval(b, wide, 0.95) == pytest.approx((-high, -low))
    assert paired_method(wide, b) == "paired t"


def test_two_half_point_gains_do_not_exclude_zero() -> None:
    # A paired t-interval gives [0.5, 0.5] here, and `min_gain: 0.45` passed on two examples.
    low, high = paired_interval([0.5, 0.5], [0.0, 0.0], 0.95)
    assert low <= 0.0 < 0.5 < high
    assert not significantly_better([0.5] * 5, [0.0] * 5, 0.95)  # 2.5 wins: p = 2**-2.5 > 0.025


def test_fractional_counts_agree_with_whole_ones() -> None:
    # Two half-point gains are worth one whole win; 0/1 scores take the unchanged path.
    halves = paired_interval([0.5, 0.5, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0], 0.95)
    whole = paired_interval([1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0], 0.95)
    assert halves == pytest.approx(whole)
    many = [0.5] * 40 + [1.0] * 60
    low, _ = paired_interval(many, [0.0] * 40 + [1.0] * 60, 0.95)
    assert 0.0 < low < 0.2  # 20 points of gain over 100 pairs with no losses is significant


def test_three_valued_scores_err_at_most_their_share_at_small_n() -> None:
    # Exact: every outcome of n pairs whose differences are 0 or +-0.5 or +-1 (fair, independent
    # 3-valued scores), weighted by its probability; the old paired t erred 0.049 at n=2.
    from itertools import product

    values = (0.0, 0.5, 1.0)
    for n in (1, 2, 3, 4):
        false_pass = 0.0
        for outcome in product(product(values, values), repeat=n):
            cand, ref = [c for c, _ in outcome], [r for _, r in outcome]
            false_pass += (1 / 9) ** n * (paired_interval(cand, ref, 0.95)[0] > 0.0)
        assert false_pass <= 0.025, (n, false_pass)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_interval([1.0], [1.0, 0.0], 0.95)
    with pytest.raises(ValueError, match="confidence"):
        mean_interval([1.0], 1.0)


def test_each_side_errs_at_most_its_share_in_a_seeded_simulation() -> None:
    rng = random.Random(11)
    draws, n = 1500, 25
    # Cell probabilities (win, loss, tie) chosen near the hard cases: few losses, a real gain.
    for p_win, p_loss in ((0.10, 0.01), (0.05, 0.05), (0.02, 0.12), (0.3, 0.2)):
        truth = p_win - p_loss
        below = above = 0
        for _ in range(draws):
            cand, ref = [], []
            for _ in range(n):
                u = rng.random()
                c, r = (1.0, 0.0) if u < p_win else (0.0, 1.0) if u < p_win + p_loss else (1.0, 1.0)
                cand.append(c)
                ref.append(r)
            low, high = paired_interval(cand, ref, 0.95)
            below += high < truth
            above += low > truth
        limit = 0.025 + 3 * math.sqrt(0.025 * 0.975 / draws)
        assert below / draws <= limit and above / draws <= limit, (p_win, p_loss, below, above)
    for p in (0.05, 0.5, 0.9):
        misses = 0
        for _ in range(draws):
            low, high = mean_interval([1.0 if rng.random() < p else 0.0 for _ in range(n)], 0.95)
            misses += not low <= p <= high
        assert misses / draws <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / draws)
