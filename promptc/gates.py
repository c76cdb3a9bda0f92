"""Release gates per slice: floors, changes versus a reference, slice sizes.

Two modes, one semantics. A floor (`min`, `max`) is met at or beyond its threshold; a gain
rule (`min_gain`, `min_rel_gain`) asks for strictly more than its threshold, so `min_gain: 0`
means "better"; a drop rule (`max_drop`, `max_rel_drop`) is met when the change is no worse
than minus its threshold. `point` mode applies this to point estimates. `confidence` mode
applies it to the bound of a two-sided interval at `confidence` from promptc.stats: floors
use the interval for the mean (Clopper-Pearson for scores in [0, 1]), changes the paired
interval over the examples both evaluations share (Tango's score interval with exact
McNemar for 0/1 scores, paired t otherwise). Relative rules divide the change's bound by
the reference mean, treating that mean as fixed (an approximation: it ignores the
reference's own sampling error). Every check records the rule, threshold and value that
decided it, and in confidence mode which interval produced the value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from promptc.config import GateRule, Gates
from promptc.evaluate import OVERALL
from promptc.stats import discordant, is_binary, mean_interval, mean_method, paired_interval, paired_method

# Means of a few hundred scores carry rounding error around 1e-16; a threshold met "exactly" is met.
_EPS = 1e-12


@dataclass(frozen=True)
class ScoreSet:
    """Per-example scores of one evaluation: id -> score, id -> slice."""

    scores: dict[str, float]
    slices: dict[str, str | None]

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> ScoreSet:
        """From evaluation records (dicts with id, slice and score), read in one pass."""
        scores: dict[str, float] = {}
        slices: dict[str, str | None] = {}
        for r in records:
            scores[r["id"]] = float(r["score"])
            slices[r["id"]] = r.get("slice")
        return cls(scores=scores, slices=slices)

    def groups(self) -> dict[str, list[str]]:
        """Example ids overall and per slice (slices sorted by name)."""
        by_slice: dict[str, list[str]] = {}
        for example_id, name in self.slices.items():
            if name is not None:
                by_slice.setdefault(name, []).append(example_id)
        return {OVERALL: list(self.scores), **{k: by_slice[k] for k in sorted(by_slice)}}


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
        """Plain data."""
        return dict(self.__dict__)


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
        out = {k: v for k, v in self.__dict__.items() if k != "checks"}
        out["scope"] = "overall" if self.scope == OVERALL else self.scope
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


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


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


def _slice_result(
    scope: str, ids: list[str], rule: GateRule | None, cand: ScoreSet, ref: ScoreSet | None, gates: Gates
) -> SliceResult:
    label = "overall" if scope == OVERALL else f"slice {scope!r}"
    confident = gates.mode == "confidence"
    level = f"{gates.confidence * 100:g}%"
    sign = 1.0 if gates.higher_is_better else -1.0
    c_scores = [cand.scores[i] for i in ids]
    paired = [i for i in ids if ref is not None and i in ref.scores]
    score, (low, high) = _mean(c_scores), mean_interval(c_scores, gates.confidence)
    floor_method = mean_method(c_scores)

    ref_mean = delta = d_low = d_high = None
    gain_bounds: tuple[float, float] | None = None
    change_method = ""
    if ref is not None and paired:
        pc = [cand.scores[i] for i in paired]
        pr = [ref.scores[i] for i in paired]
        ref_mean, delta = _mean(pr), _mean(pc) - _mean(pr)
        d_low, d_high = paired_interval(pc, pr, gates.confidence)
        # For a lower-is-better metric the gain is the fall in the score: negate and swap the bounds.
        gain_bounds = (d_low, d_high) if sign > 0 else (-d_high, -d_low)
        change_method = paired_method(pc, pr)
        if is_binary(pc) and is_binary(pr):
            wins, losses = discordant(pc, pr)
            better, worse = (wins, losses) if sign > 0 else (losses, wins)
            change_method += f"; {better} better, {worse} worse of {len(paired)} pairs"

    checks: list[GateCheck] = []

    def add(rule_name: str, threshold: float, value: float | None, ok: bool, text: str) -> None:
        checks.append(
            GateCheck(
                scope,
                rule_name,
                threshold,
                None if value is None else round(value, 6),
                ok,
                f"{label}: {text}",
            )
        )

    if rule is not None:
        if rule.min_n is not None:
            ok = len(ids) >= rule.min_n
            add("min_n", rule.min_n, len(ids), ok, f"n={len(ids)} {'>=' if ok else '<'} min_n {rule.min_n}")
        if rule.min is not None:
            value = low if confident else score
            what = (
                f"{level} CI lower bound {_fmt(low)} ({floor_method})"
                if confident
                else f"score {_fmt(score)}"
            )
            ok = _clears(value, rule.min, strict=False)
            add("min", rule.min, value, ok, f"{what} {'>=' if ok else '<'} min {_fmt(rule.min)}")
        if rule.max is not None:
            value = high if confident else score
            what = (
                f"{level} CI upper bound {_fmt(high)} ({floor_method})"
                if confident
                else f"score {_fmt(score)}"
            )
            ok = _clears(-value, -rule.max, strict=False)
            add("max", rule.max, value, ok, f"{what} {'<=' if ok else '>'} max {_fmt(rule.max)}")
        change_rules = [
            ("max_drop", rule.max_drop, False),
            ("min_gain", rule.min_gain, False),
            ("max_rel_drop", rule.max_rel_drop, True),
            ("min_rel_gain", rule.min_rel_gain, True),
        ]
        for name, threshold, relative in change_rules:
            if threshold is None:
                continue
            if delta is None or gain_bounds is None or ref_mean is None:
                add(
                    name, threshold, None, False, f"{name} cannot be judged: no {gates.reference} scores here"
                )
                continue
            point, bound = sign * delta, gain_bounds[0]
            if relative:
                point, bound = _relative(point, ref_mean), _relative(bound, ref_mean)
            unit = " (relative)" if relative else ""
            value = bound if confident else point
            what = (
                f"gain {point:+.3f}{unit}, {level} CI lower bound {bound:+.3f} ({change_method})"
                if confident
                else f"gain {point:+.3f}{unit}"
            )
            if name.startswith("max"):
                # A drop is a negative gain: the (worst plausible) gain must not fall below -threshold.
                ok = _clears(value, -threshold, strict=False)
                verdict = f"{'within' if ok else 'beyond'} {name} {threshold:.3f}"
            else:
                # A gain rule asks for strictly more than the threshold: min_gain 0 means better.
                ok = _clears(value, threshold, strict=True)
                verdict = f"{'>' if ok else '<='} {name} {threshold:+.3f}"
            add(name, threshold, value, ok, f"{what} vs {gates.reference} {verdict}")

    return SliceResult(
        scope=scope,
        n=len(ids),
        score=round(score, 6),
        ci_low=round(low, 6),
        ci_high=round(high, 6),
        reference=None if ref_mean is None else round(ref_mean, 6),
        delta=None if delta is None else round(delta, 6),
        delta_low=None if d_low is None else round(d_low, 6),
        delta_high=None if d_high is None else round(d_high, 6),
        checks=tuple(checks),
        gated=rule is not None,
    )


def check_gates(
    gates: Gates, candidate: ScoreSet, reference: ScoreSet | None, *, reference_label: str | None = None
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
    )
