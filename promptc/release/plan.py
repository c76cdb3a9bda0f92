"""How many val and test examples a release needs: `promptc plan` and check's size warning.

For each place a gain must be confirmed, the plan gives the size at which a candidate that is
truly `gain` better than its reference passes with probability `power`, the chance it passes
at the size the split has now, and the smallest gain that size confirms with that power:

- val: selection (optimizers/base.py) keeps the configured program unless a finalist is
  significantly better on the confirmation half of val at optimizer.confidence, Bonferroni over
  up to CONFIRM_TOP finalists; the confirmation half is half of val, so val needs twice its size
  (searches that also confirm on unused training rows, such as auto, need less);
- test, overall and per gated slice: the gates' change rules in their mode, at gates.confidence
  or, under gates.holdout_looks, at the level of the next distinct candidate's look.

The numbers are exact for 0/1 scores (promptc.release.power: the gates' own interval, enumerated). They
need the reference's accuracy and how often candidate and reference disagree (the discordance):
both are read from the stored records of the latest artifact (its baseline, or the artifact
behind gates.reference, against its candidate) where there are some; else the accuracy is
assumed to be 0.7 and the errors independent (discordance p0(1 - p1) + p1(1 - p0), as large as
it plausibly gets, so the sizes err on the large side). Scores in [0, 1] that are not all 0/1
are planned as 0/1 pairs with the same mean gain and discordance (approximate; stated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from promptc.config.load import Config, GateRule
from promptc.errors import BadInput, PromptcError
from promptc.evaluation.stats import gains_and_losses, is_binary, mean
from promptc.optimizers.base import CONFIRM_TOP
from promptc.release.gates import merge_rules
from promptc.release.ledger import look_confidence, looks_so_far
from promptc.release.power import Rule, Thresholds, chance_of_passing, smallest_gain, smallest_n
from promptc.results import OVERALL, scope_name

DEFAULT_GAIN = 0.05
DEFAULT_POWER = 0.8
ASSUMED_ACCURACY = 0.7


@dataclass(frozen=True)
class Estimate:
    """The reference's accuracy and the candidate's discordance with it on one scope, and their source."""

    accuracy: float
    discordance: float | None  # None: not observed (no stored pairs, or no disagreement)
    binary: bool
    source: str

    def discordance_for(self, gain: float) -> float:
        """The discordance planned with: observed, else independent errors at this gain."""
        if self.discordance is not None:
            return max(self.discordance, gain)
        p0 = self.accuracy
        p1 = min(1.0, p0 + gain)
        return max(p0 * (1.0 - p1) + p1 * (1.0 - p0), gain)


ASSUMED = Estimate(ASSUMED_ACCURACY, None, True, f"assumed: accuracy {ASSUMED_ACCURACY}, independent errors")


@dataclass(frozen=True)
class PlanRow:
    """One place a gain must be confirmed: its size now and what the plan says about it."""

    split: str  # "val" or "test"
    scope: str  # overall or a slice name
    rule: str  # what must be shown, in words
    n_now: int
    n_needed: int | None  # None: not reachable (the gain does not exceed the threshold)
    power_now: float
    smallest_gain: float | None  # at n_now, with the plan's power; None: not even a gain of 1
    estimate: Estimate


@dataclass(frozen=True)
class Plan:
    """The sizes needed to confirm a gain with a power, per split and gated scope."""

    gain: float
    power: float
    rows: tuple[PlanRow, ...]
    notes: tuple[str, ...]


def _val_rule(config: Config) -> tuple[Rule, str]:
    level = 1.0 - (1.0 - config.optimizer.confidence) / CONFIRM_TOP
    text = f"significantly better on val's confirmation half at {level:.1%} (Bonferroni over {CONFIRM_TOP})"
    return Rule(0.0, True, level), text


def _test_rule(config: Config, rule: GateRule | None, accuracy: float, confidence: float) -> tuple[Rule, str]:
    """The binding change rule of a gate (the largest threshold on the gain), in the gates' mode."""
    options = [(0.0, True, "better (no change rule: planned as min_gain 0)")]
    if rule is not None:
        found = [
            (rule.min_gain, True, f"min_gain {rule.min_gain}"),
            (None if rule.min_rel_gain is None else rule.min_rel_gain * accuracy, True, "min_rel_gain"),
            (None if rule.max_drop is None else -rule.max_drop, False, f"max_drop {rule.max_drop}"),
            (None if rule.max_rel_drop is None else -rule.max_rel_drop * accuracy, False, "max_rel_drop"),
        ]
        options = [(t, s, w) for t, s, w in found if t is not None] or options
    threshold, strict, words = max(options, key=lambda o: (o[0], o[1]))
    point = config.gates.mode != "confidence"
    level = "point estimate" if point else f"lower bound at {confidence:.2%}"
    return Rule(threshold, strict, confidence, point), f"{words} ({level}; threshold {threshold:+.3f})"


def plan_row(
    split: str, scope: str, rule: tuple[Rule, str], n_now: int, est: Estimate, gain: float, power: float
) -> PlanRow:
    """The plan for one place: the size needed, the power now, the smallest confirmable gain now."""
    check, words = rule
    discordance = est.discordance_for(gain)
    needed = smallest_n(check, gain, discordance, power) if gain > check.threshold else None
    now = chance_of_passing(Thresholds(check, n_now), gain, discordance) if n_now else 0.0
    low = smallest_gain(check, n_now, est.discordance_for, power) if n_now else None
    return PlanRow(split, scope, words, n_now, needed, now, low, est)


def plan_sizes(config: Config, gain: float = DEFAULT_GAIN, power: float = DEFAULT_POWER) -> Plan:
    """The val and test sizes the configured selection and gates need to confirm gain with power."""
    from promptc.commands.lifecycle import checked_splits

    check_goal(gain, power)
    splits = checked_splits(config)
    estimates = stored_estimates(config)
    overall = estimates.get(OVERALL, ASSUMED)
    confidence, note = _test_confidence(config, splits.hashes()["test"])
    val_n = len(splits.val) // 2
    row = plan_row("val", "overall", _val_rule(config), val_n, overall, gain, power)
    rows = [PlanRow(row.split, row.scope, row.rule, len(splits.val), _twice(row.n_needed), *_rest(row))]
    sizes = _test_sizes(config, slice_counts([e.slice for e in splits.test]), len(splits.test))
    for scope, (n_now, gate) in sizes.items():
        est = estimates.get(scope, overall)
        rule = _test_rule(config, gate, est.accuracy, confidence)
        rows.append(plan_row("test", scope_name(scope), rule, n_now, est, gain, power))
    notes = [note] if note else []
    if not all(r.estimate.binary for r in rows):
        notes.append("scores are not all 0/1: planned as 0/1 pairs with the same mean gain and discordance")
    return Plan(gain, power, tuple(rows), tuple(notes))


def _twice(n: int | None) -> int | None:
    return None if n is None else 2 * n


def _rest(row: PlanRow) -> tuple[float, float | None, Estimate]:
    return row.power_now, row.smallest_gain, row.estimate


def check_goal(gain: float, power: float) -> None:
    """Refuse a gain or power that is not a fraction strictly between 0 and 1."""
    for name, value in (("--gain", gain), ("--power", power)):
        if not 0.0 < value < 1.0:
            raise BadInput(
                f"{name} {value}: not a fraction strictly between 0 and 1", fix=f"e.g. {name} 0.05"
            )


def _test_confidence(config: Config, test_split: str) -> tuple[float, str | None]:
    """The gates' level for the next distinct candidate on this test split, and a note when it differs."""
    gates = config.gates
    if gates.holdout_looks == "none":
        return gates.confidence, None
    look = looks_so_far(config, test_split) + 1
    level = look_confidence(gates, look)
    if level is None:
        return (
            gates.confidence,
            f"the test split is spent ({look - 1} looks under bonferroni): draw a fresh one",
        )
    return (
        level,
        f"test: the next candidate is look {look} on this split, judged at {level:.3%} (holdout_looks)",
    )


def _test_sizes(
    config: Config, counts: Mapping[str, int], total: int
) -> dict[str, tuple[int, GateRule | None]]:
    """Overall and each slice with a change rule: its size on test (counts: per slice) and its gate."""
    gates = config.gates
    out: dict[str, tuple[int, GateRule | None]] = {OVERALL: (total, gates.overall)}
    for name in sorted(set(counts) | set(gates.slices)):
        rule = merge_rules(gates.default, gates.slices.get(name))
        if rule is not None and _has_change_rule(rule):
            out[name] = (counts.get(name, 0), rule)
    return out


def slice_counts(slices: list[str | None]) -> dict[str, int]:
    """How many examples each slice has."""
    counts: dict[str, int] = {}
    for name in slices:
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _has_change_rule(rule: GateRule) -> bool:
    return any(getattr(rule, k) is not None for k in ("min_gain", "min_rel_gain", "max_drop", "max_rel_drop"))


def stored_estimates(config: Config) -> dict[str, Estimate]:
    """Per scope: the reference's accuracy and its disagreement with the latest candidate (stored records)."""
    from promptc.artifacts.resolve import resolve_artifact
    from promptc.release.reference import resolve_reference, stored_scores

    try:
        latest = resolve_artifact(config, "latest")
        cand = stored_scores(latest)
        reference = resolve_reference(config, stored_scores(latest, "baseline"), latest)
    except PromptcError:
        return {}  # nothing stored yet: the assumption is used
    ref, label = reference.scores, f"{reference.label} vs candidate records of artifact {latest.id}"
    out = {}
    for scope, ids in cand.groups().items():
        shared = [i for i in ids if i in ref.scores]
        if shared:
            c, r = [cand.scores[i] for i in shared], [ref.scores[i] for i in shared]
            gains, losses = gains_and_losses(c, r)
            observed = (gains + losses) / len(shared) or None
            how = "" if observed else "; no disagreement stored: independent errors assumed"
            binary = is_binary(c) and is_binary(r)
            out[scope] = Estimate(mean(r), observed, binary, f"stored: {label}, n={len(shared)}{how}")
    return out


def size_warning(config: Config, val_n: int, test_slices: Mapping[str, int], test_n: int) -> str | None:
    """One line when val or a test scope with a gain rule is too small to confirm a gain of
    DEFAULT_GAIN beyond its threshold with DEFAULT_POWER (check prints it); else None."""
    estimates = stored_estimates(config)
    overall = estimates.get(OVERALL, ASSUMED)
    margin = (config.gates.overall.min_gain or 0.0) if config.gates.overall else 0.0
    small = []
    val_rule, _ = _val_rule(config)
    if _power(val_rule, val_n // 2, margin + DEFAULT_GAIN, overall) < DEFAULT_POWER:
        small.append(f"val ({val_n} examples)")
    for scope, (n, gate) in _test_sizes(config, test_slices, test_n).items():
        if gate is None or (gate.min_gain is None and gate.min_rel_gain is None):
            continue
        est = estimates.get(scope, overall)
        rule, _ = _test_rule(config, gate, est.accuracy, config.gates.confidence)
        if _power(rule, n, max(rule.threshold, 0.0) + DEFAULT_GAIN, est) < DEFAULT_POWER:
            small.append(f"test {scope_name(scope)} ({n} examples)")
    if not small:
        return None
    return (
        f"warning: {', '.join(small)} too small to confirm a gain {DEFAULT_GAIN} above its threshold "
        f"(min_gain) with {DEFAULT_POWER:.0%} power; promptc plan {config.path} gives the sizes needed"
    )


def _power(rule: Rule, n: int, gain: float, est: Estimate) -> float:
    return chance_of_passing(Thresholds(rule, n), gain, est.discordance_for(gain)) if n > 0 else 0.0
