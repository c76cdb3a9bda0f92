"""The commands for a user's own data: init (a config from a data file) and split (leak-free splits).

Each is a plain typer command function; `DATA_COMMANDS` names them and promptc.cli.app registers them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from promptc.errors import BadInput
from promptc.reports.terminal import err, leak_table, out, progress_bars, split_table

if TYPE_CHECKING:
    from promptc.config.init import ConfigPlan
    from promptc.data.split_files import SplitOutcome

InputOpt = Annotated[
    list[str] | None,
    typer.Option("--input", help="An input column (repeat for several); guessed when omitted."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace files that already exist.")]
SHOWN_MOVES = 20


def _ratios(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise BadInput(
            f"--ratios {text}: not numbers", fix="give train,val,test shares such as 0.6,0.2,0.2"
        ) from None


def split(
    data: Annotated[
        list[Path] | None, typer.Argument(help="Data file(s); their rows are pooled.", show_default=False)
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for train, val and test.")] = None,
    ratios: Annotated[str, typer.Option(help="train,val,test shares.")] = "0.6,0.2,0.2",
    seed: Annotated[int, typer.Option(help="Seed for the order of equal-size clusters.")] = 0,
    group_by: Annotated[
        str | None, typer.Option(help="Rows with one value of this column stay together.")
    ] = None,
    stratify: Annotated[
        str | None, typer.Option(help="Keep this label column's shares in every split.")
    ] = None,
    inputs: InputOpt = None,
    threshold: Annotated[
        float, typer.Option(help="Near-duplicate threshold (the config's, for check).")
    ] = 0.5,
    from_config: Annotated[
        Path | None, typer.Option(help="Repair a config's splits: move only clusters that straddle splits.")
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Write train/val/test files that pass `promptc check`: near-duplicates and groups stay in one split."""
    from promptc.data.split_files import repair_splits, split_data

    if out_dir is None:
        raise BadInput("split needs --out", fix="name the folder for train, val and test with --out DIR")
    if bool(data) == (from_config is not None):
        raise BadInput("split takes DATA files or --from-config CONFIG, not both", fix="pass one of the two")
    with progress_bars() as reporter:
        if from_config is not None:
            if stratify or inputs:
                raise BadInput(
                    "--stratify and --input go with DATA files", fix="drop them with --from-config"
                )
            outcome = repair_splits(from_config, out_dir, group_by=group_by, force=force, reporter=reporter)
        else:
            outcome = split_data(
                data or [],
                out_dir,
                ratios=_ratios(ratios),
                seed=seed,
                group_by=group_by,
                stratify=stratify,
                inputs=inputs,
                threshold=threshold,
                force=force,
                reporter=reporter,
            )
    _print_split(outcome, from_config)


def _print_split(outcome: SplitOutcome, from_config: Path | None) -> None:
    sizes = Table(title="splits written")
    for column in ("split", "rows", "file"):
        sizes.add_column(column, justify="right" if column == "rows" else "left")
    for name, path in outcome.files.items():
        sizes.add_row(name, str(outcome.sizes[name]), escape(str(path)))
    out.print(sizes)
    if outcome.strata:
        by_label = Table(title="rows per label")
        for column in ("label", *outcome.sizes):
            by_label.add_column(column, justify="left" if column == "label" else "right")
        for label, counts in outcome.strata.items():
            by_label.add_row(escape(label or "(empty)"), *(str(n) for n in counts.values()))
        out.print(by_label)
    out.print(
        f"{outcome.merged_rows} of {outcome.rows} rows merged into {outcome.merged_clusters} clusters "
        f"(inputs: {escape(', '.join(outcome.inputs))}); largest cluster: {outcome.largest} rows"
        + (escape(f" ({', '.join(outcome.largest_ids)}, ...)") if outcome.largest > 1 else "")
    )
    if outcome.added_ids:
        out.print("no id column: the rows are numbered in a new column 'id'")
    if from_config is not None:
        _print_moves(outcome)
    lines = "\n".join(f"  {name}: {path}" for name, path in outcome.files.items())
    out.print(
        f"next: point the config's data: at\n{escape(lines)}\nthen run promptc check CONFIG", soft_wrap=True
    )


def _print_moves(outcome: SplitOutcome) -> None:
    if not outcome.moves:
        out.print("no cluster straddled splits: every row kept its split")
        return
    out.print(f"{len(outcome.moves)} row(s) moved to their cluster's split; every other row kept its split")
    moves = Table(title="rows moved")
    for column in ("id", "row", "from", "to"):
        moves.add_column(column)
    for move in outcome.moves[:SHOWN_MOVES]:
        moves.add_row(*map(escape, (move.id, move.source, move.moved_from, move.moved_to)))
    out.print(moves)
    if len(outcome.moves) > SHOWN_MOVES:
        out.print(f"... and {len(outcome.moves) - SHOWN_MOVES} more")


def _describe(plan: ConfigPlan) -> None:
    roles = plan.roles
    table = Table(title=escape(f"config from {plan.data} ({plan.rows} rows)"))
    for column in ("role", "column", "type"):
        table.add_column(column)
    for role, columns in (("input", roles.inputs), ("output", roles.outputs)):
        for c in columns:
            kind = f"enum: {', '.join(c.labels)}" if c.kind == "enum" else c.kind
            table.add_row(role, escape(c.name), escape(kind[:200]))
    if roles.slice_column:
        table.add_row("slice", escape(roles.slice_column), "")
    for name in roles.ignored:
        table.add_row("[dim]left out[/]", escape(name[:80]), "")
    out.print(table)


def _plan_interactively(data: Path, plan: ConfigPlan, splits: Path) -> ConfigPlan:
    """Ask, on a terminal, whether the guessed roles are right; otherwise which columns to use."""
    from promptc.config.init import plan_config

    while not typer.confirm("Write this config?", default=True):
        outputs = typer.prompt("Output column(s), comma-separated").split(",")
        inputs = typer.prompt("Input column(s), comma-separated").split(",")
        plan = plan_config(
            data,
            inputs=[c.strip() for c in inputs if c.strip()],
            outputs=[c.strip() for c in outputs if c.strip()],
            splits_dir=splits,
        )
        _describe(plan)
    return plan


def init(
    data: Annotated[Path | None, typer.Argument(help="A data file (CSV, TSV, JSONL, JSON, Parquet).")] = None,
    config: Annotated[Path, typer.Option("--config", "-c", help="The config to write.")] = Path(
        "promptc.yaml"
    ),
    outputs: Annotated[
        list[str] | None,
        typer.Option("--output", help="An output column (repeat for several); guessed when omitted."),
    ] = None,
    inputs: InputOpt = None,
    splits: Annotated[Path, typer.Option(help="Folder the split files are (or will be) in.")] = Path(
        "splits"
    ),
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Ask nothing (scripts); on a terminal init asks.")
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Write a commented config from a data file's columns, check it, and print the next command."""
    from promptc.config.init import check_config, plan_config, write_config

    interactive = not yes and sys.stdin.isatty()
    if data is None:
        if not interactive:
            raise BadInput("init needs a data file", fix="pass its path: promptc init DATA")
        data = Path(typer.prompt("Data file"))
    plan = plan_config(data, inputs=inputs, outputs=outputs, splits_dir=splits)
    _describe(plan)
    if interactive:
        plan = _plan_interactively(data, plan, splits)
    write_config(plan, config, force=force)
    out.print(f"wrote {escape(str(config))}")
    checked = check_config(plan, config)
    if checked.report is None:
        out.print(f"{checked.rows_checked} rows fit the signature; the split files are not written yet")
    else:
        out.print(split_table(plan.name, checked.report))
    next_lines = "\n".join(f"  {command}" for command in checked.next_commands)
    if checked.report is not None and not checked.report.ok:
        if len(checked.report.leaks) <= SHOWN_MOVES:
            out.print(leak_table(checked.report))
        err.print(f"[bold red]error:[/] {len(checked.report.leaks)} example(s) leak between the splits")
        err.print(
            f"[bold]fix:[/] repair them, moving only the rows that straddle splits:\n{escape(next_lines)}"
        )
        raise typer.Exit(1)
    out.print(f"next:\n{escape(next_lines)}", soft_wrap=True)


DATA_COMMANDS: dict[str, Callable[..., Any]] = {"init": init, "split": split}
