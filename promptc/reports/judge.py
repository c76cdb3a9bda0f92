"""How `promptc eval --judge-check` is shown: the judge's agreement with human scores."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from promptc.evaluation.judge_check import JudgeAgreement, Rate


def _interval(rate: Rate) -> str:
    return f"{rate.ci_low:.3f} to {rate.ci_high:.3f}"


def judge_check_table(agreement: JudgeAgreement) -> Table:
    """One row per agreement measure, with its interval at the gates' confidence."""
    judge = agreement.judge
    low, high = judge.scale
    title = Text(
        f"judge {judge.model}@{judge.revision} (scale {low}-{high}) against human scores, {agreement.n} rows"
    )
    table = Table(title=title)
    table.add_column("agreement")
    table.add_column("value", justify="right")
    table.add_column(f"{agreement.confidence:.0%} interval", justify="right")
    for name, rate in (
        ("exact: same score", agreement.exact),
        ("within one step", agreement.within_one),
        ("mean |judge - human| on [0, 1]", agreement.mean_abs_diff),
    ):
        table.add_row(name, f"{rate.value:.3f}", _interval(rate))
    rho = agreement.spearman
    table.add_row("Spearman's rank correlation", "n/a" if rho is None else f"{rho:.3f}", "")
    if agreement.unread:
        table.add_row("judge replies that could not be read", str(agreement.unread), "")
    return table
