"""Release gates over per-slice summaries, and the report of which rule decided what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptc.config import GateRule, Gates
from promptc.evaluate import OVERALL, Summary


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
class GateReport:
    """Every gate check, plus the slices in the data that no gate covers."""

    checks: tuple[GateCheck, ...]
    ungated: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[GateCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "ungated_slices": list(self.ungated),
        }


def _merge(default: GateRule | None, named: GateRule | None) -> GateRule | None:
    if default is None:
        return named
    if named is None:
        return default
    return GateRule(
        min=named.min if named.min is not None else default.min,
        max_drop=named.max_drop if named.max_drop is not None else default.max_drop,
        min_n=named.min_n if named.min_n is not None else default.min_n,
    )


def _apply(scope: str, rule: GateRule, summary: Summary, baseline: Summary | None) -> list[GateCheck]:
    label = "overall" if scope == OVERALL else f"slice {scope!r}"
    checks = []
    if rule.min_n is not None:
        ok = summary.n >= rule.min_n
        checks.append(
            GateCheck(
                scope,
                "min_n",
                rule.min_n,
                summary.n,
                ok,
                f"{label}: n={summary.n} {'>=' if ok else '<'} min_n {rule.min_n}",
            )
        )
    if rule.min is not None:
        ok = summary.mean >= rule.min
        checks.append(
            GateCheck(
                scope,
                "min",
                rule.min,
                summary.mean,
                ok,
                f"{label}: score {summary.mean:.3f} {'>=' if ok else '<'} min {rule.min:.3f}",
            )
        )
    if rule.max_drop is not None:
        if baseline is None:
            checks.append(
                GateCheck(
                    scope,
                    "max_drop",
                    rule.max_drop,
                    None,
                    False,
                    f"{label}: no baseline score to compare with",
                )
            )
        else:
            drop = baseline.mean - summary.mean
            ok = drop <= rule.max_drop + 1e-12
            checks.append(
                GateCheck(
                    scope,
                    "max_drop",
                    rule.max_drop,
                    round(-drop, 6),
                    ok,
                    f"{label}: change {-drop:+.3f} vs baseline {baseline.mean:.3f} "
                    f"({'within' if ok else 'beyond'} max_drop {rule.max_drop:.3f})",
                )
            )
    return checks


def check_gates(
    gates: Gates, candidate: dict[str, Summary], baseline: dict[str, Summary] | None
) -> GateReport:
    """Apply the configured gates to the candidate's summaries (and the baseline's, for changes)."""
    base = baseline or {}
    checks: list[GateCheck] = []
    if gates.overall is not None:
        checks += _apply(OVERALL, gates.overall, candidate[OVERALL], base.get(OVERALL))
    data_slices = [s for s in candidate if s != OVERALL]
    for name in sorted(gates.slices):
        if name not in candidate:
            checks.append(
                GateCheck(
                    name,
                    "present",
                    None,
                    None,
                    False,
                    f"slice {name!r} is named in the gates but has no examples in the test split",
                )
            )
    ungated = []
    for name in data_slices:
        rule = _merge(gates.default, gates.slices.get(name))
        if rule is None:
            ungated.append(name)
            continue
        checks += _apply(name, rule, candidate[name], base.get(name))
    return GateReport(checks=tuple(checks), ungated=tuple(ungated))
