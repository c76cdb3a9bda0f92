"""Release gates per slice: floors, changes versus a reference, slice sizes.

Two modes. `point` compares point estimates. `confidence` asks the bootstrap
interval to clear each threshold: a floor needs the interval's lower bound above
it, and a change versus the reference is judged by a paired bootstrap over the
examples both evaluations share (resampling example ids, not two independent
means). Every check records the rule, threshold and value that decided it.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

from promptc.config import GateRule, Gates
from promptc.evaluate import OVERALL


@dataclass(frozen=True)
class ScoreSet:
    """Per-example scores of one evaluation: id -> score, id -> slice."""

    scores: dict[str, float]
    slices: dict[str, str | None]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> ScoreSet:
        """From evaluation records (dicts with id, slice and score)."""
        return cls(
            scores={r["id"]: float(r["score"]) for r in records},
            slices={r["id"]: r.get("slice") for r in records},
        )

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


class _Resampler:
    """Seeded bootstrap resampling of one group's examples (paired when a reference is given)."""

    def __init__(self, cand: list[float], ref: list[float] | None, gates: Gates, scope: str) -> None:
        import numpy as np

        # A per-scope seed keeps each slice's interval independent of which other slices exist.
        rng = np.random.default_rng([gates.seed, zlib.crc32(scope.encode())])
        n = len(cand)
        idx = rng.integers(0, n, size=(gates.resamples, n)) if n else np.zeros((gates.resamples, 0), int)
        self.cand = np.asarray(cand, dtype=float)[idx].mean(axis=1) if n else np.zeros(gates.resamples)
        self.ref = np.asarray(ref, dtype=float)[idx].mean(axis=1) if ref is not None and n else None
        self.alpha = (1 - gates.confidence) / 2

    def interval(self, values: Any) -> tuple[float, float]:
        import numpy as np

        return float(np.quantile(values, self.alpha)), float(np.quantile(values, 1 - self.alpha))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _slice_result(
    scope: str, ids: list[str], rule: GateRule | None, cand: ScoreSet, ref: ScoreSet | None, gates: Gates
) -> SliceResult:
    import numpy as np

    label = "overall" if scope == OVERALL else f"slice {scope!r}"
    confident = gates.mode == "confidence"
    sign = 1.0 if gates.higher_is_better else -1.0
    c_scores = [cand.scores[i] for i in ids]
    paired = [i for i in ids if ref is not None and i in ref.scores]
    rs = _Resampler(c_scores, None, gates, scope)
    score, (low, high) = _mean(c_scores), rs.interval(rs.cand)

    ref_mean = delta = d_low = d_high = None
    gain_bounds: tuple[float, float] | None = None
    rel_bounds: tuple[float, float] | None = None
    rel = None
    if ref is not None and paired:
        pc = [cand.scores[i] for i in paired]
        pr = [ref.scores[i] for i in paired]
        pair = _Resampler(pc, pr, gates, scope)
        assert pair.ref is not None
        ref_mean, delta = _mean(pr), _mean(pc) - _mean(pr)
        d_low, d_high = pair.interval(pair.cand - pair.ref)
        gain = sign * delta
        gain_bounds = (min(sign * d_low, sign * d_high), max(sign * d_low, sign * d_high))
        # From a reference of 0 any gain is infinitely large in relative terms (and no change is 0).
        rel = gain / abs(ref_mean) if ref_mean != 0 else (math.copysign(math.inf, gain) if gain else 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = sign * (pair.cand - pair.ref) / np.abs(pair.ref)
        rel_bounds = pair.interval(np.nan_to_num(ratios, nan=0.0, posinf=1e6, neginf=-1e6))

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
            what = f"CI lower bound {_fmt(low)}" if confident else f"score {_fmt(score)}"
            ok = value >= rule.min
            add("min", rule.min, value, ok, f"{what} {'>=' if ok else '<'} min {_fmt(rule.min)}")
        if rule.max is not None:
            value = high if confident else score
            what = f"CI upper bound {_fmt(high)}" if confident else f"score {_fmt(score)}"
            ok = value <= rule.max
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
            if delta is None:
                add(
                    name, threshold, None, False, f"{name} cannot be judged: no {gates.reference} scores here"
                )
                continue
            point = rel if relative else sign * delta
            bounds = rel_bounds if relative else gain_bounds
            assert point is not None and bounds is not None
            unit = " (relative)" if relative else ""
            value = bounds[0] if confident else point
            what = f"gain lower bound {value:+.3f}" if confident else f"gain {value:+.3f}"
            if name.startswith("max"):
                # A drop is a negative gain: the worst plausible gain must not fall below -threshold.
                ok = value >= -threshold - 1e-12
                verdict = f"{'within' if ok else 'beyond'} {name} {threshold:.3f}"
            else:
                ok = value >= threshold - 1e-12
                verdict = f"{'>=' if ok else '<'} {name} {threshold:+.3f}"
            add(name, threshold, value, ok, f"{what}{unit} vs {gates.reference} {verdict}")

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
