"""The promptc command line: parse, call one core function, render with rich."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from promptc import __version__
from promptc.config import Config, load_config
from promptc.errors import PromptcError
from promptc.evaluate import OVERALL, Evaluation
from promptc.gates import GateReport
from promptc.lm import Usage
from promptc.progress import Advance

app = typer.Typer(
    help="Compile, evaluate, gate and release LLM prompt programs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

ConfigArg = Annotated[Path, typer.Argument(help="The promptc YAML config.", show_default=False)]


def handles_errors(fn: F) -> F:
    """Turn PromptcError into a message and its exit code; Ctrl-C into 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PromptcError as exc:
            if os.environ.get("PROMPTC_DEBUG") == "1":
                raise
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
            if exc.fix:
                err.print(f"[bold]fix:[/] {exc.fix}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; cached model calls are kept, re-run to continue")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


class RichReporter:
    """Progress bars on stderr for each stage of long work."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def stage(self, name: str, total: int) -> Advance:
        """Add a bar; return its advance callback."""
        task = self.progress.add_task(name, total=total)
        return lambda: self.progress.advance(task)


@contextmanager
def progress_bars() -> Iterator[RichReporter]:
    """A live progress display for the duration of a command."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    with progress:
        yield RichReporter(progress)


def _config(path: Path) -> Config:
    return load_config(path)


def _fmt(summary: Any) -> str:
    return f"{summary.mean:.3f} [{summary.ci_low:.2f}, {summary.ci_high:.2f}]"


def slice_table(title: str, baseline: Evaluation, candidate: Evaluation) -> Table:
    """Per-slice n, baseline and candidate scores with CIs, and the change."""
    table = Table(title=title)
    for col in ("slice", "n", "baseline [95% CI]", "candidate [95% CI]", "change"):
        table.add_column(col, justify="left" if col == "slice" else "right")
    for name, cand in candidate.summaries.items():
        base = baseline.summaries.get(name)
        delta = cand.mean - base.mean if base else 0.0
        colour = "green" if delta > 0 else "red" if delta < 0 else "white"
        table.add_row(
            "[bold]overall[/]" if name == OVERALL else name,
            str(cand.n),
            _fmt(base) if base else "-",
            _fmt(cand),
            f"[{colour}]{delta:+.3f}[/]",
        )
    return table


def gate_table(report: GateReport) -> Table:
    """Each gate check and its verdict."""
    table = Table(title="release gates")
    table.add_column("scope")
    table.add_column("rule")
    table.add_column("verdict")
    table.add_column("detail")
    for c in report.checks:
        verdict = "[green]pass[/]" if c.passed else "[bold red]FAIL[/]"
        table.add_row("overall" if c.scope == OVERALL else c.scope, c.rule, verdict, c.message)
    for name in report.ungated:
        table.add_row(name, "-", "[yellow]ungated[/]", "no gate covers this slice")
    return table


def usage_line(usage: Usage) -> str:
    """Model calls (fresh and cached) and tokens."""
    return (
        f"model calls: {usage.calls} made, {usage.cached} from cache; "
        f"tokens: {usage.prompt_tokens + usage.completion_tokens:,}"
        + (f"; cost: ${usage.cost_usd:.4f}" if usage.cost_usd else "")
    )


@app.command()
@handles_errors
def check(config: ConfigArg) -> None:
    """Check the splits fit the signature and do not leak into each other."""
    from promptc.lifecycle import check as check_config

    cfg = _config(config)
    report = check_config(cfg)
    table = Table(title=f"splits of {cfg.program.name}")
    table.add_column("slice")
    for name in report.sizes:
        table.add_column(name, justify="right")
    for name, counts in report.slices.items():
        table.add_row(name, *(str(counts[s]) for s in report.sizes))
    table.add_row("[bold]total[/]", *(f"[bold]{n}[/]" for n in report.sizes.values()))
    out.print(table)
    if report.ok:
        out.print("[green]no leakage: ids, normalised inputs and near-duplicates are disjoint[/]")
        return
    leaks = Table(title=f"[red]{len(report.leaks)} leak(s) between splits[/]")
    for col in ("kind", "row", "id", "other row", "other id", "similarity"):
        leaks.add_column(col)
    for leak in report.leaks:
        leaks.add_row(leak.kind, leak.a.source, leak.a.id, leak.b.source, leak.b.id, f"{leak.similarity:.2f}")
    out.print(leaks)
    err.print("[bold red]error:[/] the splits are not disjoint")
    err.print("[bold]fix:[/] remove each leaked example from one of its two splits")
    raise typer.Exit(1)


@app.command(name="compile")
@handles_errors
def compile_cmd(config: ConfigArg) -> None:
    """Compile the program on train+val, evaluate it on test, write an artifact."""
    from promptc.lifecycle import compile_config

    cfg = _config(config)
    with progress_bars() as reporter:
        outcome = compile_config(cfg, reporter)
    trials = Table(title="trials (validation split)")
    for col in ("trial", "val score", "requests"):
        trials.add_column(col)
    for t in outcome.trials:
        trials.add_row(t.name, f"{t.val_score:.3f}", str(t.calls))
    out.print(trials)
    out.print(
        slice_table(f"holdout: {cfg.program.name} {cfg.program.version}", outcome.baseline, outcome.candidate)
    )
    out.print(gate_table(outcome.gates))
    out.print(usage_line(outcome.usage))
    out.print(f"artifact [bold]{outcome.artifact.id}[/] written to {outcome.artifact.path}", soft_wrap=True)
    out.print(
        "gates: " + ("[green]pass[/]" if outcome.gates.passed else "[red]fail[/] (promote will refuse it)")
    )


@app.command(name="eval")
@handles_errors
def eval_cmd(
    config: ConfigArg,
    artifact: Annotated[str, typer.Option(help="Artifact id or alias.")] = "latest",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON report here.")] = None,
) -> None:
    """Evaluate an artifact and the baseline on the test split; exit 1 if a gate fails."""
    from promptc.lifecycle import evaluate_config
    from promptc.report import eval_report, write_json

    cfg = _config(config)
    with progress_bars() as reporter:
        outcome = evaluate_config(cfg, artifact, reporter)
    out.print(slice_table(f"holdout: artifact {outcome.artifact.id}", outcome.baseline, outcome.candidate))
    out.print(gate_table(outcome.gates))
    out.print(usage_line(outcome.usage))
    if json_path is not None:
        write_json(json_path, eval_report(outcome))
        out.print(f"JSON report written to {json_path}")
    if not outcome.gates.passed:
        err.print(f"[bold red]gates failed:[/] {len(outcome.gates.failures)} check(s)")
        for check in outcome.gates.failures:
            err.print(f"  - {check.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print("[green]gates passed[/]")


@app.command()
@handles_errors
def promote(
    config: ConfigArg,
    artifact: Annotated[str, typer.Option(help="Artifact id or alias to promote.")],
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
) -> None:
    """Point an alias at an artifact, if it passes the gates for this exact model revision."""
    from promptc.lifecycle import promote as promote_artifact

    cfg = _config(config)
    outcome = promote_artifact(cfg, artifact, alias)
    out.print(gate_table(outcome.gates))
    was = f" (was {outcome.previous})" if outcome.previous else ""
    out.print(
        f"[green]{outcome.alias}[/] -> {outcome.artifact.id} for "
        f"{outcome.artifact.model}@{outcome.artifact.revision}{was}"
    )


@app.command()
@handles_errors
def run(
    config: ConfigArg,
    inputs: Annotated[
        list[str], typer.Option("--input", "-i", help="An input as NAME=VALUE; repeat per field.")
    ],
    alias: Annotated[str, typer.Option(help="Alias (or artifact id) to serve.")] = "production",
) -> None:
    """Answer one input with the artifact behind an alias."""
    from promptc.errors import BadInput
    from promptc.lifecycle import run_program

    values = {}
    for item in inputs:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadInput(
                f"--input {item!r} is not NAME=VALUE", fix="write e.g. --input ticket='my order is late'"
            )
        values[name.strip()] = value
    cfg = _config(config)
    prediction = run_program(cfg, values, alias)
    if prediction.outputs is None:
        err.print(f"[bold red]could not parse the model's reply:[/] {prediction.error}")
        err.print(f"raw reply: {prediction.raw!r}")
        raise typer.Exit(3)
    for name, value in prediction.outputs.items():
        out.print(f"[bold]{name}[/]: {value}", highlight=False)


def _version(value: bool) -> None:
    if value:
        out.print(f"promptc {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Compile, evaluate, gate and release LLM prompt programs."""


def main() -> None:
    """Console-script entry point."""
    app()
