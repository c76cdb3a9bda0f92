"""Rendering for the command line: the consoles, progress bars, errors, and the tables of the
commands that check, compile and evaluate (splits, trials, slices, gates, usage)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from promptc.config.load import Config
from promptc.evaluation.field_scores import FieldRow, evaluation_rows
from promptc.release.gate_table import GateRow, Verdict, interval, tabulate
from promptc.release.gates import GateReport
from promptc.reports.progress import Advance
from promptc.results import OVERALL, Evaluation, scope_name
from promptc.usage import Usage

if TYPE_CHECKING:
    from promptc.data.leakage import SplitReport
    from promptc.optimizers.estimate import CompileEstimate
    from promptc.outcomes import CompileOutcome

# Logs (CI, pipes) get wide tables instead of 80-column wrapping; terminals keep their width.
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


class StatusProgress(Progress):
    """Progress bars with a status line under them (best score so far, calls, tokens)."""

    status_line = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        """The bars, then the status line."""
        yield from super().get_renderables()
        if self.status_line:
            yield Text(self.status_line)


class RichReporter:
    """Progress bars on stderr for each stage of long work, and a live search status line."""

    def __init__(self, progress: StatusProgress) -> None:
        self.progress = progress

    def stage(self, name: str, total: int) -> Advance:
        """Add a bar; return its advance callback."""
        task = self.progress.add_task(escape(name), total=total)
        return lambda: self.progress.advance(task)

    def status(self, best: float | None, calls: int, tokens: int) -> None:
        """Show the best validation score so far, model calls made and tokens spent."""
        score = "-" if best is None else f"{best:.3f}"
        self.progress.status_line = f"best val score {score} | model calls made {calls:,} | tokens {tokens:,}"


@contextmanager
def progress_bars() -> Iterator[RichReporter]:
    """A live progress display for the duration of a command."""
    progress = StatusProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    with progress:
        yield RichReporter(progress)


def _scope_cell(scope: str) -> str:
    """A scope as a table cell: overall in bold, a slice by its name (printed as text)."""
    name = escape(scope_name(scope))
    return f"[bold]{name}[/]" if scope == OVERALL else name


def _fmt(summary: Any) -> str:
    return f"{summary.mean:.3f}{interval(summary.ci_low, summary.ci_high, digits=2)}"


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
            _scope_cell(name),
            str(cand.n),
            _fmt(base) if base else "-",
            _fmt(cand),
            f"[{colour}]{delta:+.3f}[/]",
        )
    return table


def field_table(title: str, rows: tuple[FieldRow, ...], labels: tuple[str, str], confidence: float) -> Table:
    """Per output scored apart: n, its mean [CI] before and after, and the change [CI]."""
    level = f"{confidence:.0%}"
    table = Table(title=title)
    for col in (
        "output",
        "n",
        f"{labels[0]} [{level} CI]",
        f"{labels[1]} [{level} CI]",
        f"change [{level} CI]",
    ):
        table.add_column(escape(col), justify="left" if col == "output" else "right")
    for row in rows:
        n = row.after.n if row.after else row.before.n if row.before else 0
        change = "-"
        if row.change is not None:
            delta, low, high = row.change
            colour = "green" if delta > 0 else "red" if delta < 0 else "white"
            change = f"[{colour}]{delta:+.3f}[/]{interval(low, high, signed=True, digits=2)}"
        table.add_row(
            escape(row.name),
            str(n),
            _fmt(row.before) if row.before else "-",
            _fmt(row.after) if row.after else "-",
            change,
        )
    return table


def print_field_scores(baseline: Evaluation, candidate: Evaluation, confidence: float) -> None:
    """The per-output table of a holdout evaluation, where the metric scores outputs apart."""
    rows = evaluation_rows(baseline, candidate, confidence=confidence)
    if rows:
        labels = ("baseline", "candidate")
        out.print(field_table("holdout scores per output (baseline vs candidate)", rows, labels, confidence))


_VERDICTS = {
    Verdict.PASS: "[green]pass[/]",
    Verdict.FAIL: "[bold red]FAIL[/]",
    Verdict.UNGATED: "[yellow]ungated[/]",
}


def _gate_cells(row: GateRow) -> tuple[str, ...]:
    """A gate row's cells as rich markup: slice and rule printed as text, the verdict coloured."""
    return (
        _scope_cell(row.scope),
        row.n,
        row.score,
        row.reference,
        row.change,
        _VERDICTS[row.verdict],
        escape(row.decided_by),
    )


def gate_table(report: GateReport) -> Table:
    """Per slice: n, score and CI, reference, change and its CI, and the verdict with its rule."""
    model = tabulate(report, digits=2)
    table = Table(title=f"release gates ({model.mode} mode)", caption=escape(f"changes vs {model.reference}"))
    for col, justify in (
        ("slice", "left"),
        ("n", "right"),
        (f"score [{model.level} CI]", "right"),
        ("reference", "right"),
        (f"change [{model.level} CI]", "right"),
        ("verdict", "left"),
        ("decided by", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in model.rows:
        table.add_row(*_gate_cells(row))
    return table


def split_table(program: str, report: SplitReport) -> Table:
    """Examples per slice in each split, and the totals."""
    table = Table(title=f"splits of {escape(program)}")
    table.add_column("slice")
    for name in report.sizes:
        table.add_column(name, justify="right")
    for name, counts in report.slices.items():
        table.add_row(escape(name), *(str(counts[s]) for s in report.sizes))
    table.add_row("[bold]total[/]", *(f"[bold]{n}[/]" for n in report.sizes.values()))
    return table


def leak_table(report: SplitReport) -> Table:
    """Each leak between splits: its kind, both rows and ids, and their similarity."""
    leaks = Table(title=f"[red]{len(report.leaks)} leak(s) between splits[/]")
    for col in ("kind", "row", "id", "other row", "other id", "similarity"):
        leaks.add_column(col)
    for leak in report.leaks:
        cells = (leak.kind, leak.a.source, leak.a.id, leak.b.source, leak.b.id)
        leaks.add_row(*map(escape, cells), f"{leak.similarity:.2f}")
    return leaks


def print_error(message: str, fix: str | None = None) -> None:
    """An error and its fix on stderr, the text printed as it is (never read as markup)."""
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    if fix:
        err.print(Text.assemble(("fix: ", "bold"), fix), highlight=False, soft_wrap=True)


def print_failures(report: GateReport) -> None:
    """Each failed check on its own line (readable in CI logs)."""
    err.print(f"[bold red]gates failed:[/] {len(report.failures)} check(s)")
    for check in report.failures:
        err.print(f"  - {check.message}", markup=False, highlight=False, soft_wrap=True)


def usage_line(usage: Usage) -> str:
    """Model calls (fresh and cached) and tokens."""
    return (
        f"model calls: {usage.calls} made, {usage.cached} from cache; "
        f"tokens: {usage.prompt_tokens + usage.completion_tokens:,}"
        + (f"; cost: ${usage.cost_usd:.4f}" if usage.cost_usd else "")
        + (f"; time in the model: {usage.lm_seconds:.1f} s" if usage.calls else "")
        + (f"; retries: {usage.retries}, {usage.wait_seconds:.1f} s waiting" if usage.retries else "")
        + (f"; rate caps: {usage.cap_wait_seconds:.1f} s waiting" if usage.cap_wait_seconds >= 0.05 else "")
        + (f"; label scores from parsed answers: {usage.label_fallbacks}" if usage.label_fallbacks else "")
    )


def print_estimate(cfg: Config, estimate: CompileEstimate) -> None:
    """What a compile will call, stage by stage, its cost, and how the budget bears on it."""
    sizes = estimate.sizes
    out.print(
        f"dry run: {estimate.optimizer} on {cfg.target.model}@{cfg.target.revision} "
        f"(train {sizes['train']}, val {sizes['val']}, test {sizes['test']} examples); no model was called",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(title="model calls on a cold cache")
    table.add_column("stage")
    table.add_column("calls", justify="right")
    for name, n in estimate.search.stages:
        table.add_row(escape(name), f"{n:,}")
    out.print(table)
    out.print(f"search: {estimate.search.total:,} model calls", highlight=False)
    per = estimate.search.holdout_calls_per_example
    each = f"; at most {per} calls per example for the candidate (an ensemble)" if per > 1 else ""
    out.print(
        f"holdout: {estimate.holdout_calls:,} model calls (baseline and candidate on the "
        f"{sizes['test']} test examples{each}; not capped by the budget)",
        highlight=False,
    )
    out.print(f"total: {estimate.total_calls:,} model calls (cached calls are free)", highlight=False)
    out.print(
        f"tokens: about {estimate.prompt_tokens:,} prompt tokens (counted by {estimate.tokenizer}) "
        f"and at most {estimate.completion_tokens:,} completion tokens (max_tokens a reply)",
        markup=False,
        highlight=False,
    )
    if estimate.in_process:
        out.print("cost: $0 (local model)")
    elif estimate.cost_usd is None:
        unpriced = ", ".join(estimate.unpriced)
        out.print(f"cost: unknown (litellm has no price for {unpriced})", markup=False, highlight=False)
    else:
        out.print(f"cost: about ${estimate.cost_usd:.4f} (litellm's prices; replies counted at max_tokens)")
    budget = estimate.budget
    if budget.max_calls is not None:
        verdict = (
            f"[yellow]the search would stop at the cap, after {budget.max_calls:,} of "
            f"{estimate.search.total:,} calls[/]"
            if budget.max_calls < estimate.search.total
            else "the search fits"
        )
        out.print(f"budget: max_calls {budget.max_calls:,}: {verdict}", highlight=False)
    if budget.max_cost_usd is not None:
        fits = estimate.cost_usd is not None and estimate.cost_usd <= budget.max_cost_usd
        verdict = "the run fits" if fits else "[yellow]the search may stop at the cap[/]"
        out.print(f"budget: max_cost_usd {budget.max_cost_usd}: {verdict}", highlight=False)


def trial_table(outcome: CompileOutcome) -> Table:
    """Every candidate the optimizer scored on the validation split; the chosen one marked."""
    chosen = outcome.artifact.typed.candidate.to_dict()
    table = Table(title="trials (validation split)")
    for col in ("trial", "val score", "examples", "requests", ""):
        table.add_column(col)
    marked = False
    for t in outcome.trials:
        mark = ""
        # Only a fully scored trial can win, or the one kept unscored by a single-candidate optimizer.
        if not marked and (t.full or t.val_score is None) and t.candidate.to_dict() == chosen:
            mark, marked = "[green]chosen[/]", True
        if t.val_score is None:
            score, examples = "not scored", "0 (validate: false)"
        else:
            score, examples = f"{t.val_score:.3f}", str(t.n) + ("" if t.full else " (minibatch)")
        table.add_row(escape(t.name), score, examples, str(t.calls), mark)
    return table


def print_compiled(cfg: Config, outcome: CompileOutcome) -> None:
    """What compile prints: trials, notes, the gates, model calls and the artifact written."""
    out.print(trial_table(outcome))
    for note in outcome.notes:
        out.print(note, markup=False, highlight=False, soft_wrap=True)
    if outcome.stopped_by_budget:
        scored = sum(1 for t in outcome.trials if t.full)
        err.print(
            f"[bold yellow]stopped by budget:[/] {escape(outcome.stopped_by_budget)}; kept the best of "
            f"{scored} fully scored candidate(s) (lineage.stopped_by_budget: true)",
            highlight=False,
            soft_wrap=True,
        )
    if outcome.gates.reference_artifact is not None:
        # The gate table compares with another artifact; show the baseline comparison too.
        title = escape(f"holdout: {cfg.program.name} {cfg.program.version} vs baseline")
        out.print(slice_table(title, outcome.baseline, outcome.candidate))
    out.print(gate_table(outcome.gates))
    print_field_scores(outcome.baseline, outcome.candidate, outcome.gates.confidence)
    search, total = outcome.search_usage, outcome.usage
    out.print(
        f"search: {search.calls} model calls made, {search.cached} from cache"
        + (f", ${search.cost_usd:.6f}" if search.cost_usd else "")
        + "; "
        f"holdout: {total.calls - search.calls} made, {total.cached - search.cached} from cache",
        highlight=False,
    )
    out.print(usage_line(outcome.usage))
    out.print(
        f"artifact [bold]{outcome.artifact.id}[/] written to {escape(str(outcome.artifact.path))}",
        soft_wrap=True,
    )
    out.print(
        "gates: " + ("[green]pass[/]" if outcome.gates.passed else "[red]fail[/] (promote will refuse it)")
    )
