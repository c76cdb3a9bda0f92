"""Confidence intervals and tests for scores: the one home of the gates' and reports' statistics.

Every interval here is two-sided at `confidence`, so each side errs at most (1 - confidence) / 2
(exactly, or as nearly as the method allows; the docstrings say which).

- A mean of 0/1 scores: Clopper-Pearson (exact binomial). Wilson's score interval is
  narrower but its one-sided error can exceed the nominal level: 10 of 10 correct gives a
  95% Wilson lower bound of 0.72, and a classifier that is truly 0.70 scores 10 of 10 with
  probability 0.028 > 0.025. Clopper-Pearson never errs more than (1 - confidence) / 2 on
  either side.
- A mean of scores in [0, 1] that are not all 0/1: Clopper-Pearson at x = sum of scores
  (the beta form takes a fractional x). A score in [0, 1] with mean m has variance at most
  m(1 - m), the binomial's, so this is at least as wide as the binomial case; approximate.
- A mean of other scores: Student t (n >= 2; a single score gives no interval).
- A paired change of 0/1 scores: Tango's score interval (Tango 1998) for the difference of
  paired proportions with a continuity correction of half a pair, found by bisection, then
  widened twice: each bound stays within its discordant cell's exact Clopper-Pearson bound
  (the gain cannot exceed the win rate), and where the exact one-sided McNemar test does
  not reject "equal" at (1 - confidence) / 2 the bound on that side does not exclude 0.
  Only discordant pairs (wins, losses) and n matter. Exact enumeration over n 1-300,
  accuracies 0.05-0.95, true changes 0-0.3 and correlations 0-0.99 found no one-sided
  error above 0.024 at 0.025 (without the correction and widening: up to 0.034).
- A paired change of scores in [0, 1] that are not all 0/1 (label_accuracy over several
  outputs gives 0, 0.5, 1): the same Tango/McNemar interval at fractional counts, wins = the
  sum of the pairs' gains (cand - ref where positive) and losses = the sum of their losses. A
  gain of d is a win with probability d after randomised rounding, which keeps the mean and
  gives 0/1 pairs; the fractional counts are that rounding's expected counts, and the exact
  McNemar tail is the binomial's continuous extension (the regularised incomplete beta). Ties
  add nothing, so agreement still narrows the interval; a half-point difference counts half a
  discordant pair, so two pairs of 0.5 vs 0 never exclude 0 (a paired t-interval there has zero
  width). Approximate: exact enumeration with 3-valued scores (0, 0.5, 1), n 1-30, scores'
  means 0.2-0.8 and correlations 0-0.99, found no one-sided error above the nominal level
  (bench/gate_simulation.py prints it); with 0/1 scores it is the interval above, unchanged.
- A paired change of scores outside [0, 1]: a paired t-interval on the differences
  (approximate; no finite-sample guarantee).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from statistics import NormalDist

Bounds = tuple[float, float]
UNBOUNDED: Bounds = (-math.inf, math.inf)


def tail_level(confidence: float) -> float:
    """The one-sided error level of a two-sided interval: (1 - confidence) / 2."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return (1.0 - confidence) / 2.0


def is_binary(scores: Sequence[float]) -> bool:
    """True when every score is exactly 0 or 1."""
    return all(s in (0.0, 1.0) for s in scores)


def is_unit(scores: Sequence[float]) -> bool:
    """True when every score lies in [0, 1]."""
    return all(0.0 <= s <= 1.0 for s in scores)


def mean(scores: Sequence[float]) -> float:
    """The arithmetic mean; 0.0 for no scores."""
    return sum(scores) / len(scores) if scores else 0.0


def mean_method(scores: Sequence[float]) -> str:
    """The name of the interval mean_interval uses for these scores."""
    if not scores:
        return "no interval (n=0)"
    if is_unit(scores):
        return "Clopper-Pearson" if is_binary(scores) else "Clopper-Pearson on the mean"
    return "Student t" if len(scores) > 1 else "no interval (n=1)"


def mean_interval(scores: Sequence[float], confidence: float) -> tuple[float, float]:
    """Two-sided interval for the mean: Clopper-Pearson for scores in [0, 1], else Student t."""
    alpha = tail_level(confidence)
    n = len(scores)
    if n == 0:
        return UNBOUNDED
    if is_unit(scores):
        return _clopper_pearson(min(math.fsum(scores), float(n)), n, alpha)
    return _t_interval(scores, alpha)


def paired_method(cand: Sequence[float], ref: Sequence[float]) -> str:
    """The name of the interval paired_interval uses for these scores."""
    if is_binary(cand) and is_binary(ref):
        return "Tango paired score interval with exact McNemar"
    if is_unit(cand) and is_unit(ref):
        return "Tango paired score interval with exact McNemar, on summed gains and losses"
    return "paired t"


def paired_interval(cand: Sequence[float], ref: Sequence[float], confidence: float) -> tuple[float, float]:
    """Two-sided interval for mean(cand - ref) over paired examples (Tango in [0, 1], else paired t)."""
    if len(cand) != len(ref):
        raise ValueError(f"paired scores differ in length: {len(cand)} candidate vs {len(ref)} reference")
    alpha = tail_level(confidence)
    n = len(cand)
    if n == 0:
        return UNBOUNDED
    if is_binary(cand) and is_binary(ref):
        return _tango_mcnemar(*discordant(cand, ref), n, alpha)
    if is_unit(cand) and is_unit(ref):
        return _tango_mcnemar(*gains_and_losses(cand, ref), n, alpha)
    return _t_interval([c - r for c, r in zip(cand, ref, strict=True)], alpha)


def paired_interval_from_counts(wins: float, losses: float, n: int, confidence: float) -> Bounds:
    """paired_interval for scores in [0, 1] given only its counts: wins and losses (or summed gains
    and losses) over n pairs; what power planning enumerates (promptc.release.power)."""
    if n <= 0:
        return UNBOUNDED
    return _tango_mcnemar(float(wins), float(losses), n, tail_level(confidence))


def discordant(cand: Sequence[float], ref: Sequence[float]) -> tuple[int, int]:
    """Pairs where the candidate scores higher (wins) and lower (losses) than the reference."""
    wins = sum(1 for c, r in zip(cand, ref, strict=True) if c > r)
    losses = sum(1 for c, r in zip(cand, ref, strict=True) if c < r)
    return wins, losses


def gains_and_losses(cand: Sequence[float], ref: Sequence[float]) -> tuple[float, float]:
    """The candidate's summed gains and summed losses over the pairs; for 0/1 scores, wins and losses."""
    gains = math.fsum(c - r for c, r in zip(cand, ref, strict=True) if c > r)
    losses = math.fsum(r - c for c, r in zip(cand, ref, strict=True) if c < r)
    return gains, losses


def significantly_better(cand: Sequence[float], ref: Sequence[float], confidence: float) -> bool:
    """True only when the paired interval's lower bound is strictly above 0."""
    return paired_interval(cand, ref, confidence)[0] > 0.0


def mcnemar_exact_p(wins: int, losses: int) -> float:
    """One-sided exact McNemar p-value that the candidate is better: P(Binomial(wins+losses, 1/2) >= wins)."""
    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses must be >= 0, got {wins} and {losses}")
    return _binomial_half_upper_tail(wins, wins + losses)


def _mcnemar_p(wins: float, losses: float) -> float:
    """mcnemar_exact_p, continued to fractional counts by the binomial's incomplete beta form."""
    if float(wins).is_integer() and float(losses).is_integer():
        return _binomial_half_upper_tail(int(wins), int(wins + losses))
    if wins <= 0.0:
        return 1.0
    # P(Binomial(m, 1/2) >= k) = I_{1/2}(k, m - k + 1) for whole k and m; the same for fractional ones.
    return _betainc(wins, losses + 1.0, 0.5)


@lru_cache(maxsize=4096)
def _binomial_half_upper_tail(k: int, m: int) -> float:
    """P(Binomial(m, 1/2) >= k), exactly (integer arithmetic, one rounding at the end)."""
    if k <= 0:
        return 1.0
    if k > m:
        return 0.0
    term, total = 1, 0  # term = C(m, j), walked down from j = m
    for j in range(m, k - 1, -1):
        total += term
        term = term * j // (m - j + 1)
    return total / (1 << m)


@lru_cache(maxsize=65536)
def _clopper_pearson(x: float, n: int, alpha: float) -> Bounds:
    low = 0.0 if x <= 0 else _beta_quantile(alpha, x, n - x + 1)
    high = 1.0 if x >= n else _beta_quantile(1.0 - alpha, x + 1, n - x)
    return low, high


@lru_cache(maxsize=65536)
def _tango_mcnemar(wins: float, losses: float, n: int, alpha: float) -> Bounds:
    """Tango's interval for (wins - losses) / n, widened where exact tests say it is too narrow.

    wins and losses are counts of discordant pairs, or for scores in [0, 1] summed gains and losses.
    """
    z = NormalDist().inv_cdf(1.0 - alpha)
    estimate = (wins - losses) / n

    def statistic(delta: float, correction: float) -> float:
        # Tango (1998): score statistic with the constrained MLE of the loss-cell probability.
        a = 2.0 * n
        b = -wins - losses + (2.0 * n - wins + losses) * delta
        c = -losses * delta * (1.0 - delta)
        q = (math.sqrt(max(b * b - 4.0 * a * c, 0.0)) - b) / (2.0 * a)
        variance = n * (2.0 * q + delta * (1.0 - delta))
        excess = wins - losses - n * delta + correction
        if variance <= 0.0:
            return math.copysign(math.inf, excess) if excess else 0.0
        return excess / math.sqrt(variance)

    # The statistic falls as delta rises: the bounds are where it crosses +z and -z. The
    # continuity correction (half a pair, toward the estimate) keeps each side's error at or
    # below alpha for small n, where the uncorrected interval errs up to 0.034 at alpha 0.025.
    low = _bisect(lambda d: statistic(d, -0.5) > z, -1.0, estimate)
    high = _bisect(lambda d: statistic(d, 0.5) >= -z, estimate, 1.0)
    # The change cannot exceed the win rate (nor fall below minus the loss rate): hold each bound
    # within its discordant cell's exact bound. Score intervals err too often on the side where
    # one kind of discordant pair is nearly absent; this widening removes that excess.
    low = min(low, _clopper_pearson(float(wins), n, alpha)[0])
    high = max(high, -_clopper_pearson(float(losses), n, alpha)[0])
    # Never exclude 0 on a side where the exact McNemar test cannot reject "equal" at alpha.
    if _mcnemar_p(wins, losses) > alpha:
        low = min(low, 0.0)
    if _mcnemar_p(losses, wins) > alpha:
        high = max(high, 0.0)
    return low, high


def _t_interval(values: Sequence[float], alpha: float) -> Bounds:
    """Student t interval for the mean; a single value gives no interval, no spread a point."""
    n = len(values)
    if n < 2:
        return UNBOUNDED
    mean = math.fsum(values) / n
    spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = _t_quantile(1.0 - alpha, n - 1) * spread / math.sqrt(n)
    return mean - half, mean + half


@lru_cache(maxsize=1024)
def _t_quantile(p: float, df: int) -> float:
    """Upper quantile (p > 1/2) of Student's t with df degrees of freedom."""
    upper = 1.0
    while _t_cdf(upper, df) < p:
        upper *= 2.0
    return _bisect(lambda t: _t_cdf(t, df) < p, 0.0, upper)


def _t_cdf(t: float, df: int) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def _beta_quantile(p: float, a: float, b: float) -> float:
    return _bisect(lambda x: _betainc(a, b, x) < p, 0.0, 1.0)


def _bisect(below: Callable[[float], bool], low: float, high: float) -> float:
    """The point in [low, high] where the monotone predicate `below` turns from True to False."""
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if below(mid):
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) by its continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 100_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return result
