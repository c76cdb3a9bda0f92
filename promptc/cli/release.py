"""The release commands: promote, rollback, list, history, show, diff, run, matrix and export.

Each is a plain typer command function; `RELEASE_COMMANDS` names them in help order and
promptc.cli.app registers them on the app after the commands that compile and evaluate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from promptc.cli.options import ArtifactArg, ConfigArg, OptionalConfig, TargetOpt
from promptc.config.load import load_config, load_configs
from promptc.reports.artifacts import (
    artifact_table,
    history_table,
    holdout_table,
    matrix_json,
    matrix_table,
    print_artifact_head,
    print_diff,
    print_lineage,
    print_prompt,
)
from promptc.reports.terminal import err, gate_table, out, progress_bars, usage_line


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
    target: TargetOpt = None,
) -> None:
    """Point an alias at an artifact, if it passes the gates for this exact model revision."""
    from promptc.release.promote import promote as promote_artifact

    cfg = load_config(config, target)
    with progress_bars() as reporter:
        outcome = promote_artifact(cfg, artifact, alias, reporter, verify=verify)
    if outcome.verified is not None:
        out.print(f"verified: the stored evaluation reproduces on {outcome.verified} test examples")
    if outcome.gates is not None:  # None: the alias was already there, nothing was judged
        out.print(gate_table(outcome.gates))
    if outcome.looks is not None:
        out.print(outcome.looks.describe(), markup=False, soft_wrap=True)
    where = f"{outcome.artifact.model}@{outcome.artifact.revision}"
    if outcome.unchanged:
        out.print(
            f"[green]{escape(outcome.alias)}[/] already at {outcome.artifact.id} for "
            + escape(f"{where}; nothing changed")
        )
        return
    was = f" (was {outcome.previous})" if outcome.previous else ""
    out.print(f"[green]{escape(outcome.alias)}[/] -> {outcome.artifact.id} for " + escape(f"{where}{was}"))


def rollback(
    config: ConfigArg,
    alias: Annotated[str, typer.Option(help="The alias to move back.")] = "production",
    target: TargetOpt = None,
) -> None:
    """Move an alias back to the artifact it pointed at before its last promotion."""
    from promptc.release.promote import rollback as rollback_alias

    cfg = load_config(config, target)
    current, restored = rollback_alias(cfg, alias)
    out.print(
        f"[green]{escape(alias)}[/] -> "
        + escape(f"{restored} (was {current}) for {cfg.target.model}@{cfg.target.revision}")
    )


def list_cmd(config: ConfigArg, target: TargetOpt = None) -> None:
    """Artifacts and aliases of the program for the config's model revision."""
    from promptc.artifacts.registry import registry_view

    cfg = load_config(config, target)
    view = registry_view(cfg)
    out.print(artifact_table(cfg, view))
    if not view.artifacts:
        out.print(f"no artifacts yet: run promptc compile {config}", markup=False)


def history(config: ConfigArg, target: TargetOpt = None) -> None:
    """Every alias change (compiles, promotions, rollbacks) for the config's model revision."""
    from promptc.artifacts.registry import registry_view

    cfg = load_config(config, target)
    out.print(history_table(cfg, registry_view(cfg)))


def show(artifact: ArtifactArg, config: OptionalConfig = None, target: TargetOpt = None) -> None:
    """The compiled prompt exactly as the model receives it, the demos, lineage and scores."""
    from promptc.artifacts.resolve import find_artifact
    from promptc.prompting.adapter import prompt_preview

    art = find_artifact(artifact, load_config(config, target) if config else None)
    print_artifact_head(art)
    print_prompt(prompt_preview(art.typed.program, art.typed.candidate))
    print_lineage(art)
    out.print(holdout_table(art))


def diff(a: ArtifactArg, b: ArtifactArg, config: OptionalConfig = None, target: TargetOpt = None) -> None:
    """Instructions, demos and per-slice scores of two artifacts side by side."""
    from promptc.artifacts.resolve import find_artifact

    cfg = load_config(config, target) if config else None
    left, right = find_artifact(a, cfg), find_artifact(b, cfg)
    print_diff(left, right)


def run(
    config: ConfigArg,
    inputs: Annotated[
        list[str], typer.Option("--input", "-i", help="An input as NAME=VALUE; repeat per field.")
    ],
    alias: Annotated[str, typer.Option(help="Alias (or artifact id) to serve.")] = "production",
    target: TargetOpt = None,
) -> None:
    """Answer one input with the artifact behind an alias."""
    from promptc.commands.lifecycle import run_program
    from promptc.prompting.inputs import parse_input_options

    values = parse_input_options(inputs)
    cfg = load_config(config, target)
    prediction = run_program(cfg, values, alias)
    if prediction.outputs is None:
        err.print(f"[bold red]could not parse the model's reply:[/] {escape(str(prediction.error))}")
        err.print(f"raw reply: {prediction.raw!r}", markup=False)
        raise typer.Exit(3)
    for name, value in prediction.outputs.items():
        out.print(f"[bold]{escape(name)}[/]: {escape(str(value))}", highlight=False)


def matrix_cmd(
    config: ConfigArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the matrix as JSON instead of a table.")
    ] = False,
) -> None:
    """Program version x model revision -> artifact, holdout scores, gate verdict and aliases."""
    import json

    from promptc.artifacts.matrix import matrix

    configs = load_configs(config)
    cells = matrix(configs)
    if as_json:
        out.print_json(json.dumps(matrix_json(cells)))
        return
    out.print(matrix_table(f"compilation matrix of {configs[0].program.name}", cells))
    missing = [c.target or "target" for c in cells if c.artifact is None]
    if missing:
        out.print(f"missing: {', '.join(missing)}; run promptc compile {config} --matrix", markup=False)


def export(
    artifact: ArtifactArg,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The config the artifact was compiled from (data, metric).")
    ],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="The JSONL file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="openai-chat-jsonl or jsonl.")] = "openai-chat-jsonl",
    split: Annotated[str, typer.Option(help="train, val or train+val (never test).")] = "train",
    min_score: Annotated[float, typer.Option(help="Export traces the metric scores at least this.")] = 1.0,
    force: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    target: TargetOpt = None,
) -> None:
    """Fine-tuning data: the artifact's teacher traces on train that pass the metric, as JSONL."""
    from promptc.artifacts.export import check_format, check_split, export_traces
    from promptc.artifacts.resolve import find_artifact

    check_format(fmt)
    check_split(split)
    cfg = load_config(config, target)
    with progress_bars() as reporter:
        outcome = export_traces(
            cfg,
            find_artifact(artifact, cfg),
            out_path,
            fmt=fmt,
            split=split,
            force=force,
            min_score=min_score,
            reporter=reporter,
        )
    out.print(usage_line(outcome.usage))
    out.print(
        f"{outcome.written} traces from {'+'.join(outcome.splits)} written to {outcome.path} "
        f"({outcome.format}); {outcome.failed} below --min-score {min_score} left out",
        markup=False,
        soft_wrap=True,
    )


# Command name -> function, in the order promptc --help lists them.
RELEASE_COMMANDS: dict[str, Callable[..., Any]] = {
    "promote": promote,
    "rollback": rollback,
    "list": list_cmd,
    "history": history,
    "show": show,
    "diff": diff,
    "run": run,
    "matrix": matrix_cmd,
    "export": export,
}
