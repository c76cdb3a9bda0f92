"""The gate table: one row per slice, and one per gated slice the test split lacks, its cells
formatted once for the terminal, Markdown and HTML writers, its verdict typed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from promptc.release.gates import GateCheck, GateReport, SliceResult
from promptc.results import scope_name


class Verdict(Enum):
    """A row's verdict: every check passed, one failed, or no gate covers the slice."""

    PASS = "pass"
    FAIL = "fail"
    UNGATED = "ungated"


def verdict_of(result: SliceResult) -> Verdict:
    """The verdict of a slice in the data."""
    if not result.gated:
        return Verdict.UNGATED
    return Verdict.PASS if result.passed else Verdict.FAIL


def interval(low: float | None, high: float | None, *, signed: bool = False, digits: int = 3) -> str:
    """' [low, high]' at `digits` decimals, signed for a change; '' where a bound is unknown."""
    if low is None or high is None:
        return ""
    spec = f"{'+' if signed else ''}.{digits}f"
    return f" [{low:{spec}}, {high:{spec}}]"


@dataclass(frozen=True)
class GateRow:
    """One slice's row: its cells as plain text (each writer escapes them), the change as a
    number (for trend bars), the verdict, and the checks behind it."""

    scope: str  # the key: OVERALL for the whole test split, else the slice's name
    name: str  # the scope as shown: 'overall' or the slice's name
    n: str
    score: str  # mean [interval]
    reference: str
    change: str  # change [interval], '-' where there is no reference
    delta: float | None
    verdict: Verdict
    decided_by: str
    checks: tuple[GateCheck, ...]
    present: bool = True  # False: the gates name this slice, the test split has no example of it


@dataclass(frozen=True)
class GateTable:
    """The release gates as a table: the mode, the interval level, the reference and the rows."""

    mode: str
    level: str  # the confidence as a percentage, as the column headers show it
    reference: str
    rows: tuple[GateRow, ...]


def _slice_row(s: SliceResult, digits: int) -> GateRow:
    change = "-"
    if s.delta is not None:
        change = f"{s.delta:+.3f}{interval(s.delta_low, s.delta_high, signed=True, digits=digits)}"
    return GateRow(
        scope=s.scope,
        name=scope_name(s.scope),
        n=str(s.n),
        score=f"{s.score:.3f}{interval(s.ci_low, s.ci_high, digits=digits)}",
        reference="-" if s.reference is None else f"{s.reference:.3f}",
        change=change,
        delta=s.delta,
        verdict=verdict_of(s),
        decided_by=s.decided_by,
        checks=s.checks,
    )


def _missing_row(check: GateCheck) -> GateRow:
    return GateRow(
        scope=check.scope,
        name=scope_name(check.scope),
        n="0",
        score="-",
        reference="-",
        change="-",
        delta=None,
        verdict=Verdict.FAIL,
        decided_by=check.rule,
        checks=(check,),
        present=False,
    )


def tabulate(report: GateReport, *, digits: int = 3) -> GateTable:
    """The table of a gate report, intervals at `digits` decimals (means and changes at three)."""
    rows = tuple(_slice_row(s, digits) for s in report.slices) + tuple(map(_missing_row, report.missing))
    return GateTable(report.mode, f"{report.confidence:.0%}", report.reference, rows)
