"""The promptc command line: parse, call one core function, render with rich."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from promptc import __version__
from promptc.config import Config, load_config
from promptc.errors import PromptcError
from promptc.evaluate import OVERALL
from promptc.render import (
    err,
    gate_table,
    out,
    print_estimate,
    print_failures,
    progress_bars,
    slice_table,
    trial_table,
    usage_line,
)

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="Compile, evaluate, gate and release LLM prompt programs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
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


def _config(path: Path) -> Config:
    return load_config(path)


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
def compile_cmd(
    config: ConfigArg,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the model calls and cost compile would spend; call nothing."),
    ] = False,
) -> None:
    """Compile the program on train+val, evaluate it on test, write an artifact."""
    from promptc.lifecycle import compile_config, estimate_compile

    cfg = _config(config)
    if dry_run:
        print_estimate(cfg, estimate_compile(cfg))
        return
    with progress_bars() as reporter:
        outcome = compile_config(cfg, reporter)
    out.print(trial_table(outcome))
    for note in outcome.notes:
        out.print(note, highlight=False, soft_wrap=True)
    if outcome.stopped_by_budget:
        scored = sum(1 for t in outcome.trials if t.full)
        err.print(
            f"[bold yellow]stopped by budget:[/] {outcome.stopped_by_budget}; kept the best of "
            f"{scored} fully scored candidate(s) (lineage.stopped_by_budget: true)",
            highlight=False,
            soft_wrap=True,
        )
    if not outcome.gates.reference.startswith("baseline"):
        # The gate table compares with another artifact; show the baseline comparison too.
        title = f"holdout: {cfg.program.name} {cfg.program.version} vs baseline"
        out.print(slice_table(title, outcome.baseline, outcome.candidate))
    out.print(gate_table(outcome.gates))
    search, total = outcome.search_usage, outcome.usage
    out.print(
        f"search: {search.calls} model calls made, {search.cached} from cache; "
        f"holdout: {total.calls - search.calls} made, {total.cached - search.cached} from cache",
        highlight=False,
    )
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
    junit: Annotated[
        Path | None, typer.Option(help="Write JUnit XML (a testcase per gate per slice).")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown summary for a PR comment.")] = None,
) -> None:
    """Evaluate an artifact (and its reference) on the test split; exit 1 if a gate fails."""
    from promptc.lifecycle import evaluate_config
    from promptc.report import write_reports

    cfg = _config(config)
    with progress_bars() as reporter:
        outcome = evaluate_config(cfg, artifact, reporter)
    out.print(gate_table(outcome.gates))
    out.print(usage_line(outcome.usage))
    for path in write_reports(outcome, json_path=json_path, junit=junit, md=markdown):
        out.print(f"report written to {path}", soft_wrap=True)
    if not outcome.gates.passed:
        print_failures(outcome.gates)
        raise typer.Exit(1)
    out.print(f"[green]gates passed[/] for artifact {outcome.artifact.id}")


@app.command()
@handles_errors
def promote(
    config: ConfigArg,
    artifact: Annotated[str, typer.Option(help="Artifact id or alias to promote.")],
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Re-evaluate the artifact and the baseline on the test split first (cached calls are "
            "free); refuse unless the stored per-example scores are reproduced.",
        ),
    ] = False,
) -> None:
    """Point an alias at an artifact, if it passes the gates for this exact model revision."""
    from promptc.lifecycle import promote as promote_artifact

    cfg = _config(config)
    with progress_bars() as reporter:
        outcome = promote_artifact(cfg, artifact, alias, reporter, verify=verify)
    if outcome.verified is not None:
        out.print(f"verified: the stored evaluation reproduces on {outcome.verified} test examples")
    out.print(gate_table(outcome.gates))
    where = f"{outcome.artifact.model}@{outcome.artifact.revision}"
    if outcome.unchanged:
        out.print(f"[green]{outcome.alias}[/] already at {outcome.artifact.id} for {where}; nothing changed")
        return
    was = f" (was {outcome.previous})" if outcome.previous else ""
    out.print(f"[green]{outcome.alias}[/] -> {outcome.artifact.id} for {where}{was}")


@app.command()
@handles_errors
def rollback(
    config: ConfigArg,
    alias: Annotated[str, typer.Option(help="The alias to move back.")] = "production",
) -> None:
    """Move an alias back to the artifact it pointed at before its last promotion."""
    from promptc.lifecycle import rollback as rollback_alias

    cfg = _config(config)
    current, restored = rollback_alias(cfg, alias)
    out.print(f"[green]{alias}[/] -> {restored} (was {current}) for {cfg.target.model}@{cfg.target.revision}")


@app.command(name="list")
@handles_errors
def list_cmd(config: ConfigArg) -> None:
    """Artifacts and aliases of the program for the config's model revision."""
    from promptc.lifecycle import registry_view

    cfg = _config(config)
    view = registry_view(cfg)
    by_id: dict[str, list[str]] = {}
    for name, artifact_id in view.aliases.items():
        by_id.setdefault(artifact_id, []).append(name)
    table = Table(title=f"{cfg.program.name} for {cfg.target.model}@{cfg.target.revision}")
    table.add_column("artifact", no_wrap=True, min_width=16)
    for col in ("version", "optimizer", "baseline", "candidate", "aliases"):
        table.add_column(col)
    for art in view.artifacts:
        ev = art.content["evaluation"]
        table.add_row(
            art.id,
            art.content["program"]["version"],
            art.content["lineage"]["optimizer"]["name"],
            f"{ev['baseline']['summaries'][OVERALL]['mean']:.3f}",
            f"{ev['candidate']['summaries'][OVERALL]['mean']:.3f}",
            ", ".join(sorted(by_id.get(art.id, []))),
        )
    out.print(table)
    if not view.artifacts:
        out.print(f"no artifacts yet: run promptc compile {config}")


@app.command()
@handles_errors
def history(config: ConfigArg) -> None:
    """Every alias change (compiles, promotions, rollbacks) for the config's model revision."""
    from promptc.lifecycle import registry_view

    cfg = _config(config)
    table = Table(title=f"history of {cfg.program.name} for {cfg.target.model}@{cfg.target.revision}")
    table.add_column("time")
    for col in ("action", "alias", "artifact", "previous"):
        table.add_column(col, no_wrap=True)
    for event in registry_view(cfg).history:
        table.add_row(
            event["time"], event["action"], event["alias"], event["artifact"], event["previous"] or "-"
        )
    out.print(table)


ArtifactArg = Annotated[str, typer.Argument(help="An artifact .json file, or an id/alias with --config.")]
OptionalConfig = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config to resolve ids and aliases.")
]


@app.command()
@handles_errors
def show(artifact: ArtifactArg, config: OptionalConfig = None) -> None:
    """The compiled prompt exactly as the model receives it, the demos, lineage and scores."""
    from promptc.lifecycle import find_artifact, prompt_preview

    art = find_artifact(artifact, _config(config) if config else None)
    c = art.content
    out.print(
        f"[bold]artifact {art.id}[/]  {c['program']['name']} {c['program']['version']}  "
        f"{art.model}@{art.revision}",
        soft_wrap=True,
    )
    out.print(f"file: {art.path}", soft_wrap=True)
    out.rule("messages as the model receives them (inputs as {placeholders})")
    for message in prompt_preview(art):
        out.print(f"[bold cyan]{message['role']}[/]", highlight=False)
        out.print(message["content"], markup=False, highlight=False)
    out.rule("lineage")
    lineage = c["lineage"]
    for key in ("promptc_version", "config_sha256", "metric", "optimizer", "splits", "lm_requests", "tokens"):
        out.print(f"[bold]{key}[/]: {lineage.get(key)}", highlight=False, soft_wrap=True)
    table = Table(title="holdout scores")
    for col in ("slice", "n", "baseline", "candidate"):
        table.add_column(col)
    ev = c["evaluation"]
    for name, summary in ev["candidate"]["summaries"].items():
        base = ev["baseline"]["summaries"].get(name, {}).get("mean")
        table.add_row(
            "overall" if name == OVERALL else name,
            str(summary["n"]),
            "-" if base is None else f"{base:.3f}",
            f"{summary['mean']:.3f}",
        )
    out.print(table)


@app.command()
@handles_errors
def diff(a: ArtifactArg, b: ArtifactArg, config: OptionalConfig = None) -> None:
    """Instructions, demos and per-slice scores of two artifacts side by side."""
    import difflib

    from promptc.lifecycle import find_artifact

    cfg = _config(config) if config else None
    left, right = find_artifact(a, cfg), find_artifact(b, cfg)
    lc, rc = left.content, right.content
    out.rule(f"instructions: {left.id} -> {right.id}")
    lines = list(
        difflib.unified_diff(
            lc["candidate"]["instructions"].splitlines(),
            rc["candidate"]["instructions"].splitlines(),
            left.id,
            right.id,
            lineterm="",
        )
    )
    out.print("\n".join(lines) if lines else "(same instructions)", markup=False, highlight=False)
    demos = Table(title="demos")
    demos.add_column(left.id)
    demos.add_column(right.id)
    ld, rd = lc["candidate"]["demos"], rc["candidate"]["demos"]
    for i in range(max(len(ld), len(rd))):
        cells = []
        for ds in (ld, rd):
            if i < len(ds):
                d = ds[i]
                text = "; ".join(f"{k}={v}" for k, v in d["inputs"].items())
                cells.append(f"{d.get('source_id') or '-'}: {text[:60]} -> {d['outputs']}")
            else:
                cells.append("")
        demos.add_row(*cells)
    out.print(demos)
    scores = Table(title="holdout scores (candidate)")
    for col in ("slice", left.id, right.id, "change"):
        scores.add_column(col)
    ls, rs = lc["evaluation"]["candidate"]["summaries"], rc["evaluation"]["candidate"]["summaries"]
    for name in dict.fromkeys([*ls, *rs]):
        lm_, rm_ = ls.get(name, {}).get("mean"), rs.get(name, {}).get("mean")
        change = f"{rm_ - lm_:+.3f}" if lm_ is not None and rm_ is not None else "-"
        scores.add_row(
            "overall" if name == OVERALL else name,
            "-" if lm_ is None else f"{lm_:.3f}",
            "-" if rm_ is None else f"{rm_:.3f}",
            change,
        )
    out.print(scores)


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
