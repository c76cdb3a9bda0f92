"""Release gates per slice: floors, changes versus a reference, slice sizes.

Two modes, one semantics. A floor (`min`, `max`) is met at or beyond its threshold; a gain
rule (`min_gain`, `min_rel_gain`) asks for strictly more than its threshold, so `min_gain: 0`
means "better"; a drop rule (`max_drop`, `max_rel_drop`) is met when the change is no worse
than minus its threshold. `point` mode applies this to point estimates. `confidence` mode
applies it to the bound of a two-sided interval at `confidence` from promptc.evaluation.stats: floors
use the interval for the mean (Clopper-Pearson for scores in [0, 1]), changes the paired
interval over the examples both evaluations share (Tango's score interval with exact
McNemar for 0/1 scores, paired t otherwise). Relative rules divide the change's bound by
the reference mean, treating that mean as fixed (an approximation: it ignores the
reference's own sampling error). Every check records the rule, threshold and value that
decided it, and in confidence mode which interval produced the value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from promptc.config.load import GateRule, Gates
from promptc.evaluation.stats import (
    discordant,
    gains_and_losses,
    is_binary,
    is_unit,
    mean,
    mean_interval,
    mean_method,
    paired_interval,
    paired_method,
)
from promptc.results import OVERALL, ScoreSet, json_safe, scope_name

# Means of a few hundred scores carry rounding error around 1e-16; a threshold met "exactly" is met.
_EPS = 1e-12


@dataclass(frozen=True)
class GateCheck:
    """One rule applied to one slice (or overall)."""

    scope: str
    rule: str
    threshold: float | None
    value: float | None
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data; an infinite value (a relative change from a reference of 0) is null."""
        return json_safe(dict(self.__dict__))


@dataclass(frozen=True)
class SliceResult:
    """A slice's numbers (with intervals), versus the reference, and its checks."""

    scope: str
    n: int
    score: float
    ci_low: float
    ci_high: float
    reference: float | None
    delta: float | None
    delta_low: float | None
    delta_high: float | None
    checks: tuple[GateCheck, ...]
    gated: bool

    @property
    def passed(self) -> bool:
        """True when every check on this slice passed."""
        return all(c.passed for c in self.checks)

    @property
    def decided_by(self) -> str:
        """The rule behind the verdict: the first failing one, else all that passed."""
        if not self.gated:
            return "ungated"
        failed = [c.rule for c in self.checks if not c.passed]
        return ", ".join(failed) if failed else ", ".join(c.rule for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        out = json_safe({k: v for k, v in self.__dict__.items() if k != "checks"})
        out["scope"] = scope_name(self.scope)
        out["verdict"] = "ungated" if not self.gated else "pass" if self.passed else "fail"
        out["decided_by"] = self.decided_by
        out["checks"] = [c.to_dict() for c in self.checks]
        return out


@dataclass(frozen=True)
class GateReport:
    """The verdict: per-slice results, plus gated slices absent from the data."""

    mode: str
    confidence: float
    reference: str
    slices: tuple[SliceResult, ...]
    missing: tuple[GateCheck, ...]
    reference_artifact: str | None = None  # whose scores the changes were judged against (None: baseline)

    @property
    def checks(self) -> tuple[GateCheck, ...]:
        """Every check, missing slices included."""
        return tuple(c for s in self.slices for c in s.checks) + self.missing

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[GateCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    @property
    def ungated(self) -> tuple[str, ...]:
        """Slices in the data that no gate covers."""
        return tuple(s.scope for s in self.slices if not s.gated)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "passed": self.passed,
            "mode": self.mode,
            "confidence": self.confidence,
            "reference": self.reference,
            "reference_artifact": self.reference_artifact,
            "slices": [s.to_dict() for s in self.slices],
            "missing_slices": [c.to_dict() for c in self.missing],
            "ungated_slices": list(self.ungated),
        }


def merge_rules(default: GateRule | None, named: GateRule | None) -> GateRule | None:
    """A named slice's rule, with unset thresholds taken from the default rule."""
    if default is None or named is None:
        return named or default
    return GateRule(
        **{
            k: getattr(named, k) if getattr(named, k) is not None else getattr(default, k)
            for k in GateRule.__dataclass_fields__
        }
    )


def _relative(value: float, reference: float) -> float:
    """A change as a fraction of the reference; from a reference of 0 any change is infinite."""
    if reference != 0:
        return value / abs(reference)
    return math.copysign(math.inf, value) if value else 0.0


def _clears(value: float, threshold: float, *, strict: bool) -> bool:
    """value > threshold (strict) or value >= threshold, up to float rounding of the means."""
    return value > threshold + _EPS if strict else value >= threshold - _EPS


def _fmt(x: float) -> str:
    return f"{x:.3f}"


@dataclass(frozen=True)
class _Numbers:
    """One slice's interval step: the candidate's mean and interval, and the paired change."""

    n: int
    score: float
    low: float
    high: float
    floor_method: str
    ref_mean: float | None = None
    delta: float | None = None
    d_low: float | None = None
    d_high: float | None = None
    gain_low: float | None = None  # lower bound of the gain, in the metric's better direction
    change_method: str = ""


def _numbers(ids: list[str], cand: ScoreSet, ref: ScoreSet | None, gates: Gates) -> _Numbers:
    """The slice's mean with its interval, and versus the reference over the ids both share."""
    c_scores = [cand.scores[i] for i in ids]
    low, high = mean_interval(c_scores, gates.confidence)
    own = _Numbers(len(ids), mean(c_scores), low, high, mean_method(c_scores))
    paired = [i for i in ids if ref is not None and i in ref.scores]
    if ref is None or not paired:
        return own
    pc = [cand.scores[i] for i in paired]
    pr = [ref.scores[i] for i in paired]
    d_low, d_high = paired_interval(pc, pr, gates.confidence)
    method = paired_method(pc, pr)
    if is_binary(pc) and is_binary(pr):
        wins, losses = discordant(pc, pr)
        better, worse = (wins, losses) if gates.higher_is_better else (losses, wins)
        method += f"; {better} better, {worse} worse of {len(paired)} pairs"
    elif is_unit(pc) and is_unit(pr):
        gains, drops = gains_and_losses(pc, pr)
        up, down = (gains, drops) if gates.higher_is_better else (drops, gains)
        method += f"; gains summing to {up:g}, losses to {down:g}, over {len(paired)} pairs"
    return replace(
        own,
        ref_mean=mean(pr),
        delta=mean(pc) - mean(pr),
        d_low=d_low,
        d_high=d_high,
        # For a lower-is-better metric the gain is the fall in the score: its lower bound is -d_high.
        gain_low=d_low if gates.higher_is_better else -d_high,
        change_method=method,
    )


@dataclass(frozen=True)
class _Judge:
    """What every check on one slice needs: its label, the mode and the numbers."""

    scope: str
    gates: Gates
    numbers: _Numbers

    @property
    def label(self) -> str:
        return "overall" if self.scope == OVERALL else f"slice {self.scope!r}"

    @property
    def confident(self) -> bool:
        return self.gates.mode == "confidence"

    @property
    def level(self) -> str:
        return f"{self.gates.confidence * 100:g}%"

    def check(self, rule: str, threshold: float, value: float | None, ok: bool, text: str) -> GateCheck:
        rounded = None if value is None else round(value, 6)
        return GateCheck(self.scope, rule, threshold, rounded, ok, f"{self.label}: {text}")


def _check_min_n(judge: _Judge, min_n: int) -> GateCheck:
    n = judge.numbers.n
    ok = n >= min_n
    return judge.check("min_n", min_n, n, ok, f"n={n} {'>=' if ok else '<'} min_n {min_n}")


def _check_floor(judge: _Judge, name: str, threshold: float) -> GateCheck:
    """`min` (at or above) or `max` (at or below), on the score or on its interval's bound."""
    x = judge.numbers
    lower = name == "min"
    bound, side = (x.low, "lower") if lower else (x.high, "upper")
    value = bound if judge.confident else x.score
    what = (
        f"{judge.level} CI {side} bound {_fmt(bound)} ({x.floor_method})"
        if judge.confident
        else f"score {_fmt(x.score)}"
    )
    if lower:
        ok = _clears(value, threshold, strict=False)
        relation = ">=" if ok else "<"
    else:
        ok = _clears(-value, -threshold, strict=False)
        relation = "<=" if ok else ">"
    return judge.check(name, threshold, value, ok, f"{what} {relation} {name} {_fmt(threshold)}")


def _check_change(judge: _Judge, name: str, threshold: float) -> GateCheck:
    """A gain or drop rule, absolute or relative to the reference mean."""
    x, gates = judge.numbers, judge.gates
    if x.delta is None or x.gain_low is None or x.ref_mean is None:
        return judge.check(
            name, threshold, None, False, f"{name} cannot be judged: no {gates.reference} scores here"
        )
    relative = "_rel_" in name
    point = x.delta if gates.higher_is_better else -x.delta
    bound = x.gain_low
    if relative:
        point, bound = _relative(point, x.ref_mean), _relative(bound, x.ref_mean)
    unit = " (relative)" if relative else ""
    value = bound if judge.confident else point
    what = f"gain {point:+.3f}{unit}"
    if judge.confident:
        what += f", {judge.level} CI lower bound {bound:+.3f} ({x.change_method})"
    if name.startswith("max"):
        # A drop is a negative gain: the (worst plausible) gain must not fall below -threshold.
        ok = _clears(value, -threshold, strict=False)
        verdict = f"{'within' if ok else 'beyond'} {name} {threshold:.3f}"
    else:
        # A gain rule asks for strictly more than the threshold: min_gain 0 means better.
        ok = _clears(value, threshold, strict=True)
        verdict = f"{'>' if ok else '<='} {name} {threshold:+.3f}"
    return judge.check(name, threshold, value, ok, f"{what} vs {gates.reference} {verdict}")


def _checks(judge: _Judge, rule: GateRule) -> list[GateCheck]:
    """The rule's checks in a fixed order: size, floors, then changes."""
    checks = [] if rule.min_n is None else [_check_min_n(judge, rule.min_n)]
    for name in ("min", "max"):
        threshold = getattr(rule, name)
        if threshold is not None:
            checks.append(_check_floor(judge, name, threshold))
    for name in ("max_drop", "min_gain", "max_rel_drop", "min_rel_gain"):
        threshold = getattr(rule, name)
        if threshold is not None:
            checks.append(_check_change(judge, name, threshold))
    return checks


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _slice_result(
    scope: str, ids: list[str], rule: GateRule | None, cand: ScoreSet, ref: ScoreSet | None, gates: Gates
) -> SliceResult:
    """The interval step, then each of the rule's checks."""
    x = _numbers(ids, cand, ref, gates)
    checks = () if rule is None else tuple(_checks(_Judge(scope, gates, x), rule))
    return SliceResult(
        scope=scope,
        n=x.n,
        score=round(x.score, 6),
        ci_low=round(x.low, 6),
        ci_high=round(x.high, 6),
        reference=_rounded(x.ref_mean),
        delta=_rounded(x.delta),
        delta_low=_rounded(x.d_low),
        delta_high=_rounded(x.d_high),
        checks=checks,
        gated=rule is not None,
    )


def check_gates(
    gates: Gates,
    candidate: ScoreSet,
    reference: ScoreSet | None,
    *,
    reference_label: str | None = None,
    reference_artifact: str | None = None,
) -> GateReport:
    """Judge the candidate's per-example scores (against the reference's, for changes)."""
    groups = candidate.groups()
    results = []
    for scope, ids in groups.items():
        rule = gates.overall if scope == OVERALL else merge_rules(gates.default, gates.slices.get(scope))
        results.append(_slice_result(scope, ids, rule, candidate, reference, gates))
    missing = tuple(
        GateCheck(
            name,
            "present",
            None,
            None,
            False,
            f"slice {name!r} is named in the gates but has no examples in the test split",
        )
        for name in sorted(gates.slices)
        if name not in groups
    )
    return GateReport(
        mode=gates.mode,
        confidence=gates.confidence,
        reference=reference_label or gates.reference,
        slices=tuple(results),
        missing=missing,
        reference_artifact=reference_artifact,
    )
