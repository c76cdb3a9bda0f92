"""The promptc command line: parse, call one core function, render with rich."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from promptc import __version__
from promptc.config import Config, load_config, load_configs
from promptc.errors import PromptcError
from promptc.evaluate import OVERALL
from promptc.program import Candidate
from promptc.render import (
    err,
    gate_table,
    matrix_json,
    matrix_table,
    out,
    print_error,
    print_estimate,
    print_failures,
    progress_bars,
    slice_table,
    trial_table,
    usage_line,
)

if TYPE_CHECKING:
    from promptc.lifecycle import CompileOutcome, EvalOutcome

# typer's own exceptions carry their exit codes (Exit, Abort, usage errors): they pass through.
TYPER_EXCEPTIONS: tuple[type[Exception], ...] = (
    typer.Exit,
    typer.Abort,
    *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException" and issubclass(c, Exception)),
)


class GuardedGroup(TyperGroup):
    """The command group; every command runs inside the one error boundary."""

    def invoke(self, ctx: Any) -> Any:  # Any: typer's Context class moved between typer versions
        """Run the command under error_boundary."""
        with error_boundary():
            return super().invoke(ctx)


@contextlib.contextmanager
def error_boundary() -> Iterator[None]:
    """Map every error to one message and its exit code; PROMPTC_DEBUG=1 adds the traceback.

    PromptcError exits with its own code (1, 2 or 3), Ctrl-C with 130, and anything
    unexpected with 3: never with 1, which means a check or gate said no.
    """
    try:
        yield
    except TYPER_EXCEPTIONS:
        raise
    except PromptcError as exc:
        _traceback_when_debugging()
        print_error(exc.message, exc.fix)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _traceback_when_debugging()
        err.print("interrupted; cached model calls are kept, re-run to continue", highlight=False)
        raise typer.Exit(130) from None
    except Exception as exc:
        _traceback_when_debugging()
        lines = str(exc).strip().splitlines()
        detail = f": {lines[0][:300]}" if lines else ""
        print_error(
            f"unexpected {type(exc).__name__}{detail}",
            "re-run with PROMPTC_DEBUG=1 to see the traceback; unless it points at your files or "
            "machine, it is a bug in promptc: please report it",
        )
        raise typer.Exit(3) from None


def _traceback_when_debugging() -> None:
    if os.environ.get("PROMPTC_DEBUG") == "1":
        sys.stderr.write(traceback.format_exc())


app = typer.Typer(
    help="Compile, evaluate, gate and release LLM prompt programs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
)

ConfigArg = Annotated[Path, typer.Argument(help="The promptc YAML config.", show_default=False)]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target", "-t", help="The target to use, by its name under targets: (required with several)."
    ),
]


def _config(path: Path, target: str | None = None) -> Config:
    return load_config(path, target)


@app.command()
def check(config: ConfigArg) -> None:
    """Check the splits fit the signature and do not leak into each other."""
    from promptc.lifecycle import check as check_config

    cfg = load_configs(config)[0]  # the splits are the same for every target
    report = check_config(cfg)
    table = Table(title=f"splits of {escape(cfg.program.name)}")
    table.add_column("slice")
    for name in report.sizes:
        table.add_column(name, justify="right")
    for name, counts in report.slices.items():
        table.add_row(escape(name), *(str(counts[s]) for s in report.sizes))
    table.add_row("[bold]total[/]", *(f"[bold]{n}[/]" for n in report.sizes.values()))
    out.print(table)
    if report.ok:
        out.print("[green]no leakage: ids, normalised inputs and near-duplicates are disjoint[/]")
        return
    leaks = Table(title=f"[red]{len(report.leaks)} leak(s) between splits[/]")
    for col in ("kind", "row", "id", "other row", "other id", "similarity"):
        leaks.add_column(col)
    for leak in report.leaks:
        cells = (leak.kind, leak.a.source, leak.a.id, leak.b.source, leak.b.id)
        leaks.add_row(*map(escape, cells), f"{leak.similarity:.2f}")
    out.print(leaks)
    err.print("[bold red]error:[/] the splits are not disjoint")
    err.print("[bold]fix:[/] remove each leaked example from one of its two splits")
    raise typer.Exit(1)


@app.command(name="compile")
def compile_cmd(
    config: ConfigArg,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the model calls and cost compile would spend; call nothing."),
    ] = False,
    target: TargetOpt = None,
    all_targets: Annotated[
        bool, typer.Option("--matrix", help="Compile for every target under targets:, one artifact each.")
    ] = False,
) -> None:
    """Compile the program on train+val, evaluate it on test, write an artifact."""
    from promptc.errors import BadInput
    from promptc.estimate import estimate_compile
    from promptc.lifecycle import compile_config
    from promptc.matrix import matrix

    if all_targets and target is not None:
        raise BadInput("--matrix compiles every target; --target names one", fix="pass one of the two")
    configs = load_configs(config) if all_targets else (_config(config, target),)
    for number, cfg in enumerate(configs, 1):
        if all_targets:
            cell = f"{cfg.target_name} ({cfg.target.model}@{cfg.target.revision})"
            out.rule(escape(f"[{number}/{len(configs)}] {cfg.program.name} {cfg.program.version} for {cell}"))
        if dry_run:
            print_estimate(cfg, estimate_compile(cfg))
            continue
        with progress_bars() as reporter:
            outcome = compile_config(cfg, reporter)
        _print_compiled(cfg, outcome)
    if all_targets and not dry_run:
        out.rule()
        out.print(matrix_table(f"compilation matrix of {configs[0].program.name}", matrix(configs)))


def _print_compiled(cfg: Config, outcome: CompileOutcome) -> None:
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
    if not outcome.gates.reference.startswith("baseline"):
        # The gate table compares with another artifact; show the baseline comparison too.
        title = escape(f"holdout: {cfg.program.name} {cfg.program.version} vs baseline")
        out.print(slice_table(title, outcome.baseline, outcome.candidate))
    out.print(gate_table(outcome.gates))
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


@app.command(name="eval")
def eval_cmd(
    config: ConfigArg,
    artifact: Annotated[str, typer.Option(help="Artifact id or alias.")] = "latest",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON report here.")] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Write JUnit XML (a testcase per gate per slice).")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown summary for a PR comment.")] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report (charts, flips, prompt).")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Evaluate only shard I/N of the test split and write it to --out; promptc merge judges "
            "the shards together.",
            show_default=False,
        ),
    ] = None,
    shard_out: Annotated[
        Path | None, typer.Option("--out", help="Where --shard writes its shard file.", show_default=False)
    ] = None,
    target: TargetOpt = None,
) -> None:
    """Evaluate an artifact (and its reference) on the test split; exit 1 if a gate fails."""
    from promptc.lifecycle import evaluate_config

    if shard is not None or shard_out is not None:
        reports = {"--json": json_path, "--junit": junit, "--markdown": markdown, "--html": html}
        _eval_shard(
            config, target, artifact, shard, shard_out, [k for k, v in reports.items() if v is not None]
        )
        return
    cfg = _config(config, target)
    with progress_bars() as reporter:
        outcome = evaluate_config(cfg, artifact, reporter)
    _report_eval(cfg, outcome, json_path, junit, markdown, html)


def _report_eval(
    cfg: Config,
    outcome: EvalOutcome,
    json_path: Path | None,
    junit: Path | None,
    markdown: Path | None,
    html: Path | None,
) -> None:
    """What eval and merge print and write for an outcome; exit 1 if a gate fails."""
    from promptc.report import write_reports

    out.print(gate_table(outcome.gates))
    out.print(usage_line(outcome.usage))
    for path in write_reports(outcome, json_path=json_path, junit=junit, md=markdown):
        out.print(f"report written to {path}", markup=False, soft_wrap=True)
    if html is not None:
        from promptc.html_report import write_html
        from promptc.report_data import from_eval

        write_html(html, from_eval(cfg, outcome, usage_line(outcome.usage)), "--html")
        out.print(f"report written to {html}", markup=False, soft_wrap=True)
    if not outcome.gates.passed:
        print_failures(outcome.gates)
        raise typer.Exit(1)
    out.print(f"[green]gates passed[/] for artifact {outcome.artifact.id}")


def _eval_shard(
    config: Path, target: str | None, ref: str, shard: str | None, shard_out: Path | None, reports: list[str]
) -> None:
    """Evaluate one shard and write its file; no gates: a shard cannot be judged alone."""
    from promptc.errors import BadInput
    from promptc.shards import check_out_path, evaluate_shard, parse_shard, write_shard

    if shard is None:
        raise BadInput(
            "--out writes a shard file and needs --shard I/N", fix="e.g. --shard 1/4 --out shard-1.json"
        )
    spec = parse_shard(shard)
    if reports:
        raise BadInput(
            f"{', '.join(reports)} with --shard: gates and reports need every test example",
            fix="pass them to promptc merge, which judges the shard files together",
        )
    if shard_out is None:
        raise BadInput(
            f"--shard {spec} needs --out FILE", fix=f"e.g. --shard {spec} --out shard-{spec.index}.json"
        )
    check_out_path(shard_out)
    cfg = _config(config, target)
    with progress_bars() as reporter:
        result = evaluate_shard(cfg, ref, spec, reporter)
    write_shard(shard_out, result)
    out.print(usage_line(result.usage))
    out.print(
        f"shard {spec}: {len(result.candidate)} of {result.test_examples} test examples of artifact "
        f"{result.artifact} written to {shard_out}",
        markup=False,
        soft_wrap=True,
    )
    out.print(
        f"no gates applied: a shard cannot be judged alone; run promptc merge {config} with all {spec.count} "
        "shard files",
        markup=False,
        soft_wrap=True,
    )


@app.command()
def merge(
    config: ConfigArg,
    shards: Annotated[
        list[Path], typer.Argument(help="Every shard file of one sharded eval.", show_default=False)
    ],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON report here.")] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Write JUnit XML (a testcase per gate per slice).")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown summary for a PR comment.")] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report (charts, flips, prompt).")
    ] = None,
    target: TargetOpt = None,
) -> None:
    """Judge the shard files of `eval --shard` together, exactly as one eval; exit 1 if a gate fails."""
    from promptc.merge import merge_shards

    cfg = _config(config, target)
    outcome = merge_shards(cfg, shards)
    out.print(
        f"merged {len(shards)} shard file(s): {len(outcome.candidate.records)} test examples",
        markup=False,
    )
    _report_eval(cfg, outcome, json_path, junit, markdown, html)


@app.command()
def report(
    config: ConfigArg,
    artifact: Annotated[str, typer.Argument(help="Artifact id or alias.", show_default=False)],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")],
    against: Annotated[
        str | None,
        typer.Option(help="Compare with 'baseline' or an artifact id/alias (default: gates.reference)."),
    ] = None,
    target: TargetOpt = None,
) -> None:
    """Write an HTML report of an artifact's stored evaluation; no model is called."""
    from promptc.html_report import write_html
    from promptc.report_data import from_artifact

    data = from_artifact(_config(config, target), artifact, against)
    write_html(out_path, data)
    out.print(f"report written to {out_path}", markup=False, soft_wrap=True)
    out.print(
        "gates: "
        + ("[green]pass[/]" if data.gates.passed else "[red]fail[/]")
        + escape(f" vs {data.gates.reference}")
    )


@app.command()
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
    from promptc.lifecycle import promote as promote_artifact

    cfg = _config(config, target)
    with progress_bars() as reporter:
        outcome = promote_artifact(cfg, artifact, alias, reporter, verify=verify)
    if outcome.verified is not None:
        out.print(f"verified: the stored evaluation reproduces on {outcome.verified} test examples")
    out.print(gate_table(outcome.gates))
    where = f"{outcome.artifact.model}@{outcome.artifact.revision}"
    if outcome.unchanged:
        out.print(
            f"[green]{escape(outcome.alias)}[/] already at {outcome.artifact.id} for "
            + escape(f"{where}; nothing changed")
        )
        return
    was = f" (was {outcome.previous})" if outcome.previous else ""
    out.print(f"[green]{escape(outcome.alias)}[/] -> {outcome.artifact.id} for " + escape(f"{where}{was}"))


@app.command()
def rollback(
    config: ConfigArg,
    alias: Annotated[str, typer.Option(help="The alias to move back.")] = "production",
    target: TargetOpt = None,
) -> None:
    """Move an alias back to the artifact it pointed at before its last promotion."""
    from promptc.lifecycle import rollback as rollback_alias

    cfg = _config(config, target)
    current, restored = rollback_alias(cfg, alias)
    out.print(
        f"[green]{escape(alias)}[/] -> "
        + escape(f"{restored} (was {current}) for {cfg.target.model}@{cfg.target.revision}")
    )


@app.command(name="list")
def list_cmd(config: ConfigArg, target: TargetOpt = None) -> None:
    """Artifacts and aliases of the program for the config's model revision."""
    from promptc.registry import registry_view

    cfg = _config(config, target)
    view = registry_view(cfg)
    by_id: dict[str, list[str]] = {}
    for name, artifact_id in view.aliases.items():
        by_id.setdefault(artifact_id, []).append(name)
    table = Table(title=escape(f"{cfg.program.name} for {cfg.target.model}@{cfg.target.revision}"))
    table.add_column("artifact", no_wrap=True, min_width=16)
    for col in ("version", "optimizer", "baseline", "candidate", "aliases"):
        table.add_column(col)
    for art in view.artifacts:
        content = art.typed
        table.add_row(
            art.id,
            escape(content.program.version),
            escape(content.lineage.optimizer.name),
            f"{content.evaluation.baseline.overall.mean:.3f}",
            f"{content.evaluation.candidate.overall.mean:.3f}",
            escape(", ".join(sorted(by_id.get(art.id, [])))),
        )
    out.print(table)
    if not view.artifacts:
        out.print(f"no artifacts yet: run promptc compile {config}", markup=False)


@app.command()
def history(config: ConfigArg, target: TargetOpt = None) -> None:
    """Every alias change (compiles, promotions, rollbacks) for the config's model revision."""
    from promptc.registry import registry_view

    cfg = _config(config, target)
    table = Table(title=escape(f"history of {cfg.program.name} for {cfg.target.model}@{cfg.target.revision}"))
    table.add_column("time")
    for col in ("action", "alias", "artifact", "previous"):
        table.add_column(col, no_wrap=True)
    for event in registry_view(cfg).history:
        cells = (event["time"], event["action"], event["alias"], event["artifact"], event["previous"] or "-")
        table.add_row(*(escape(str(c)) for c in cells))
    out.print(table)


ArtifactArg = Annotated[str, typer.Argument(help="An artifact .json file, or an id/alias with --config.")]
OptionalConfig = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config to resolve ids and aliases.")
]


@app.command()
def show(artifact: ArtifactArg, config: OptionalConfig = None, target: TargetOpt = None) -> None:
    """The compiled prompt exactly as the model receives it, the demos, lineage and scores."""
    from promptc.lifecycle import prompt_preview
    from promptc.resolve import find_artifact

    art = find_artifact(artifact, _config(config, target) if config else None)
    c = art.content
    out.print(
        f"[bold]artifact {art.id}[/]  "
        + escape(f"{c['program']['name']} {c['program']['version']}  {art.model}@{art.revision}"),
        soft_wrap=True,
    )
    out.print(f"file: {art.path}", markup=False, soft_wrap=True)
    candidate = Candidate.from_dict(c["candidate"])
    out.rule("decision")
    for line in candidate.decision_lines():
        out.print(line, markup=False, highlight=False)
    for title, messages in prompt_preview(art):
        out.rule(f"messages as the model receives them{title} (inputs as {{placeholders}})")
        for message in messages:
            out.print(f"[bold cyan]{escape(message['role'])}[/]", highlight=False)
            out.print(message["content"], markup=False, highlight=False)
    out.rule("lineage")
    lineage = c["lineage"]
    for key in ("promptc_version", "config_sha256", "metric", "optimizer", "splits", "lm_requests", "tokens"):
        out.print(f"[bold]{key}[/]: {escape(str(lineage.get(key)))}", highlight=False, soft_wrap=True)
    table = Table(title="holdout scores")
    for col in ("slice", "n", "baseline", "candidate"):
        table.add_column(col)
    ev = c["evaluation"]
    for name, summary in ev["candidate"]["summaries"].items():
        base = ev["baseline"]["summaries"].get(name, {}).get("mean")
        table.add_row(
            "overall" if name == OVERALL else escape(name),
            str(summary["n"]),
            "-" if base is None else f"{base:.3f}",
            f"{summary['mean']:.3f}",
        )
    out.print(table)


@app.command()
def diff(a: ArtifactArg, b: ArtifactArg, config: OptionalConfig = None, target: TargetOpt = None) -> None:
    """Instructions, demos and per-slice scores of two artifacts side by side."""
    import difflib

    from promptc.resolve import find_artifact

    cfg = _config(config, target) if config else None
    left, right = find_artifact(a, cfg), find_artifact(b, cfg)
    lc, rc = left.content, right.content
    out.rule(f"decision: {left.id} -> {right.id}")
    decisions = list(
        difflib.unified_diff(
            Candidate.from_dict(lc["candidate"]).decision_lines(),
            Candidate.from_dict(rc["candidate"]).decision_lines(),
            left.id,
            right.id,
            lineterm="",
        )
    )
    out.print("\n".join(decisions) if decisions else "(same decision)", markup=False, highlight=False)
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
                cells.append(escape(f"{d.get('source_id') or '-'}: {text[:60]} -> {d['outputs']}"))
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
            "overall" if name == OVERALL else escape(name),
            "-" if lm_ is None else f"{lm_:.3f}",
            "-" if rm_ is None else f"{rm_:.3f}",
            change,
        )
    out.print(scores)


@app.command()
def run(
    config: ConfigArg,
    inputs: Annotated[
        list[str], typer.Option("--input", "-i", help="An input as NAME=VALUE; repeat per field.")
    ],
    alias: Annotated[str, typer.Option(help="Alias (or artifact id) to serve.")] = "production",
    target: TargetOpt = None,
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
    cfg = _config(config, target)
    prediction = run_program(cfg, values, alias)
    if prediction.outputs is None:
        err.print(f"[bold red]could not parse the model's reply:[/] {escape(str(prediction.error))}")
        err.print(f"raw reply: {prediction.raw!r}", markup=False)
        raise typer.Exit(3)
    for name, value in prediction.outputs.items():
        out.print(f"[bold]{escape(name)}[/]: {escape(str(value))}", highlight=False)


@app.command(name="matrix")
def matrix_cmd(
    config: ConfigArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the matrix as JSON instead of a table.")
    ] = False,
) -> None:
    """Program version x model revision -> artifact, holdout scores, gate verdict and aliases."""
    import json

    from promptc.matrix import matrix

    configs = load_configs(config)
    cells = matrix(configs)
    if as_json:
        out.print_json(json.dumps(matrix_json(cells)))
        return
    out.print(matrix_table(f"compilation matrix of {configs[0].program.name}", cells))
    missing = [c.target or "target" for c in cells if c.artifact is None]
    if missing:
        out.print(f"missing: {', '.join(missing)}; run promptc compile {config} --matrix", markup=False)


@app.command()
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
    from promptc.export import check_format, check_split, export_traces
    from promptc.resolve import find_artifact

    check_format(fmt)
    check_split(split)
    cfg = _config(config, target)
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
