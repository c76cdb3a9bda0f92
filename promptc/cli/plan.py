"""`promptc plan`: the val and test sizes a release needs (promptc.release.plan); `PLAN_COMMANDS` names it
and promptc.cli.app registers it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from promptc.cli.options import ConfigArg, TargetOpt
from promptc.reports.terminal import out


def plan(
    config: ConfigArg,
    gain: Annotated[float, typer.Option(help="The true gain over the reference to confirm.")] = 0.05,
    power: Annotated[float, typer.Option(help="The chance of confirming it.")] = 0.8,
    target: TargetOpt = None,
) -> None:
    """The val and test sizes that confirm a gain with a power; the smallest gain the splits confirm now."""
    from promptc.config.load import load_config
    from promptc.release.plan import check_goal, plan_sizes

    check_goal(gain, power)
    result = plan_sizes(load_config(config, target), gain, power)
    table = Table(title=f"examples needed to confirm a gain of {gain:g} with {power:.0%} power")
    for column in ("split", "scope", "must show", "n now", "n needed", "power now", "smallest gain now"):
        table.add_column(
            column, justify="right" if column.startswith(("n ", "power", "smallest")) else "left"
        )
    for row in result.rows:
        needed = "-" if row.n_needed is None else str(row.n_needed)
        smallest = "> 1" if row.smallest_gain is None else f"{row.smallest_gain:.3f}"
        table.add_row(
            row.split,
            escape(row.scope),
            escape(row.rule),
            str(row.n_now),
            needed,
            f"{row.power_now:.0%}",
            smallest,
        )
    out.print(table)
    for source in dict.fromkeys(f"{r.split} {r.scope}: {r.estimate.source}" for r in result.rows):
        out.print(source, markup=False, soft_wrap=True)
    for note in result.notes:
        out.print(note, markup=False, soft_wrap=True)
    if any(r.n_needed is None for r in result.rows):
        out.print("-: the gain does not exceed the rule's threshold, so no size confirms it", markup=False)


PLAN_COMMANDS: dict[str, Callable[..., Any]] = {"plan": plan}
