"""The power of the paired test the gates and selection use: exact for 0/1 scores.

A candidate is compared with its reference on n paired examples. Each pair is a win (the
candidate right, the reference wrong) with probability `p_win`, a loss with `p_loss`, else a tie;
the true gain is p_win - p_loss and the discordance p_win + p_loss. A `Rule` says what the
comparison must show: the lower bound of promptc.evaluation.stats' paired interval (Tango with exact
McNemar) at a confidence clears a threshold, or in point mode the observed gain does.

The pass/fail verdict depends only on (wins, losses, n), and for fixed n and wins + losses = m it
passes from some smallest number of wins w*(m) up (more wins and fewer losses never lower the
bound). So the chance of passing is, exactly,

    sum over m of P(Binomial(n, discordance) = m) * P(Binomial(m, p_win / discordance) >= w*(m)),

with each w*(m) found by the gates' own interval code. Terms beyond 7 standard deviations of m
(below 1e-11 together) are left out. Scores in [0, 1] that are not 0/1 are judged by the gates on
summed gains and losses; planned as 0/1 pairs with the same mean gain and discordance, which is
what randomised rounding of the fractional pairs gives (an approximation, stated where used).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from promptc.evaluation.stats import paired_interval_from_counts
from promptc.release.gates import _clears

# How far past the mean the number of discordant pairs is followed, in standard deviations.
_SPREAD = 7.0


@dataclass(frozen=True)
class Rule:
    """What a paired comparison must show to pass: its value clears threshold (strictly or not)."""

    threshold: float
    strict: bool  # gain rules ask for more than the threshold; drop rules allow it
    confidence: float  # the two-sided interval's level; ignored in point mode
    point: bool = False  # point mode: the observed gain, not the interval's lower bound

    def passes(self, wins: int, losses: int, n: int) -> bool:
        """Whether wins and losses over n pairs pass (the gates' own interval and comparison)."""
        if self.point:
            value = (wins - losses) / n
        else:
            value = paired_interval_from_counts(wins, losses, n, self.confidence)[0]
        return _clears(value, self.threshold, strict=self.strict)


@dataclass
class Thresholds:
    """w*(m) for one rule and n: the fewest wins among m discordant pairs that pass (m + 1: none)."""

    rule: Rule
    n: int
    known: dict[int, int] = field(default_factory=dict)

    def wins_needed(self, m: int) -> int:
        """The fewest wins among m discordant pairs that pass; m + 1 when no split of m passes."""
        if m not in self.known:
            self.known[m] = self._search(m)
        return self.known[m]

    def _search(self, m: int) -> int:
        passes = self._passes(m)
        near = [k for k in (m - 1, m + 1) if k in self.known]
        if near:  # w*(m) moves by about one per m: walk from the neighbour's value
            w = min(max(self.known[near[0]], 0), m + 1)
            if w <= m and passes(w):
                while w > 0 and passes(w - 1):
                    w -= 1
                return w
            while w <= m and not passes(w):
                w += 1
            return w
        low, high = 0, m + 1  # bisection: passes(high) is taken as True (m + 1 wins: none pass)
        while low < high:
            mid = (low + high) // 2
            if passes(mid):
                high = mid
            else:
                low = mid + 1
        return low

    def _passes(self, m: int) -> Callable[[int], bool]:
        return lambda w: self.rule.passes(w, m - w, self.n)


def chance_of_passing(thresholds: Thresholds, gain: float, discordance: float) -> float:
    """The exact chance that n pairs with this true gain and discordance pass the rule."""
    n = thresholds.n
    discordance = min(1.0, max(discordance, abs(gain)))
    if n <= 0 or discordance <= 0.0:
        return 0.0
    p_win = (discordance + gain) / 2.0 / discordance
    spread = _SPREAD * math.sqrt(n * discordance * (1.0 - discordance)) + 2
    first = max(0, math.floor(n * discordance - spread))
    last = min(n, math.ceil(n * discordance + spread))
    total = 0.0
    for m in range(first, last + 1):
        weight = _binomial_pmf(m, n, discordance)
        if weight < 1e-15:
            continue
        total += weight * _binomial_upper_tail(thresholds.wins_needed(m), m, p_win)
    return min(1.0, total)


def _binomial_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return math.exp(log + k * math.log(p) + (n - k) * math.log1p(-p))


def _binomial_upper_tail(k: int, m: int, p: float) -> float:
    """P(Binomial(m, p) >= k)."""
    if k <= 0:
        return 1.0
    if k > m:
        return 0.0
    return math.fsum(_binomial_pmf(j, m, p) for j in range(k, m + 1))


def smallest_n(
    rule: Rule, gain: float, discordance: float, power: float, *, most: int = 100_000
) -> int | None:
    """The smallest n (to within 1%) at which the rule passes with at least this power; None: not by most."""

    if gain <= rule.threshold:
        return None  # a candidate no better than the threshold passes at most at the error rate

    def enough(n: int) -> bool:
        return chance_of_passing(Thresholds(rule, n), gain, discordance) >= power

    high = max(8, _normal_guess(rule, gain, discordance, power))
    while not enough(high):
        if high >= most:
            return None
        high = min(most, high * 2)
    low = high // 2
    while low > 1 and enough(low):
        high, low = low, low // 2
    # enough(low) is False and enough(high) True: narrow to within 1% (power rises with n but
    # not monotonically at every step: discrete tests saw-tooth), then report high.
    while high - low > max(1, high // 100):
        mid = (low + high) // 2
        if enough(mid):
            high = mid
        else:
            low = mid
    return high


def smallest_gain(rule: Rule, n: int, discordance: Callable[[float], float], power: float) -> float | None:
    """The smallest true gain (to 0.001) that n pairs pass with this power; None: not even a gain of 1.

    discordance gives the discordance planned with at each gain."""
    if n <= 0:
        return None
    thresholds = Thresholds(rule, n)

    def enough(gain: float) -> bool:
        return chance_of_passing(thresholds, gain, discordance(gain)) >= power

    low, high = max(rule.threshold, 0.0), 1.0
    if not enough(high):
        return None
    while high - low > 0.0005:
        mid = (low + high) / 2.0
        if enough(mid):
            high = mid
        else:
            low = mid
    return math.ceil(high * 1000) / 1000


def _normal_guess(rule: Rule, gain: float, discordance: float, power: float) -> int:
    """A starting n from the normal approximation to McNemar's test."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    alpha = 0.5 if rule.point else (1.0 - rule.confidence) / 2.0
    effect = gain - rule.threshold
    if effect <= 0:
        return 8
    spread = math.sqrt(max(discordance - gain * gain, 1e-9))
    return math.ceil(((z(1 - alpha) + z(power)) * spread / effect) ** 2)
