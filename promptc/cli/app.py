"""The promptc command line: the typer app, its one error boundary, and the commands that check,
compile and evaluate (check, compile, eval, merge, report). The release commands live in
promptc.cli.release and are registered here; each command parses, calls core code and renders."""

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
from typer.core import TyperGroup

from promptc import __version__
from promptc.cli.data import DATA_COMMANDS
from promptc.cli.options import (
    ConfigArg,
    HtmlOpt,
    JsonOpt,
    JudgeCheckOpt,
    JunitOpt,
    MarkdownOpt,
    TargetOpt,
)
from promptc.cli.plan import PLAN_COMMANDS
from promptc.cli.release import RELEASE_COMMANDS
from promptc.config.load import Config, load_config, load_configs
from promptc.errors import PromptcError
from promptc.redact import redact
from promptc.reports.artifacts import matrix_table
from promptc.reports.terminal import (
    err,
    gate_table,
    leak_table,
    out,
    print_compiled,
    print_error,
    print_estimate,
    print_failures,
    print_field_scores,
    progress_bars,
    split_table,
    usage_line,
)

if TYPE_CHECKING:
    from promptc.data.leakage import SplitReport
    from promptc.outcomes import EvalOutcome

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
        print_error(redact(exc.message), redact(exc.fix) if exc.fix else None)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _traceback_when_debugging()
        err.print("interrupted; cached model calls are kept, re-run to continue", highlight=False)
        raise typer.Exit(130) from None
    except Exception as exc:
        _traceback_when_debugging()
        lines = redact(str(exc)).strip().splitlines()  # an unexpected error may carry provider text
        detail = f": {lines[0][:300]}" if lines else ""
        print_error(
            f"unexpected {type(exc).__name__}{detail}",
            "re-run with PROMPTC_DEBUG=1 to see the traceback; unless it points at your files or "
            "machine, it is a bug in promptc: please report it",
        )
        raise typer.Exit(3) from None


def _traceback_when_debugging() -> None:
    if os.environ.get("PROMPTC_DEBUG") == "1":
        sys.stderr.write(redact(traceback.format_exc()))


app = typer.Typer(
    help="Compile, evaluate, gate and release LLM prompt programs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
)


@app.command()
def check(config: ConfigArg) -> None:
    """Check the splits fit the signature and do not leak into each other."""
    from promptc.commands.lifecycle import check as check_config

    cfg = load_configs(config)[0]  # the splits are the same for every target
    report = check_config(cfg)
    out.print(split_table(cfg.program.name, report))
    _print_size_warning(cfg, report)
    if report.ok:
        out.print("[green]no leakage: ids, normalised inputs and near-duplicates are disjoint[/]")
        return
    out.print(leak_table(report))
    err.print("[bold red]error:[/] the splits are not disjoint")
    err.print("[bold]fix:[/] remove each leaked example from one of its two splits")
    raise typer.Exit(1)


def _print_size_warning(cfg: Config, report: SplitReport) -> None:
    """check's one line when val or a gated test slice is too small to confirm a gain (release.plan)."""
    from promptc.release.plan import size_warning

    test = {name: n["test"] for name, n in report.slices.items() if name != "(none)"}
    line = size_warning(cfg, report.sizes.get("val", 0), test, report.sizes.get("test", 0))
    if line:
        out.print(f"[yellow]{escape(line)}[/]", soft_wrap=True)


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
    from promptc.artifacts.matrix import matrix
    from promptc.commands.lifecycle import compile_config
    from promptc.errors import BadInput
    from promptc.optimizers.estimate import estimate_compile

    if all_targets and target is not None:
        raise BadInput("--matrix compiles every target; --target names one", fix="pass one of the two")
    configs = load_configs(config) if all_targets else (load_config(config, target),)
    for number, cfg in enumerate(configs, 1):
        if all_targets:
            cell = f"{cfg.target_name} ({cfg.target.model}@{cfg.target.revision})"
            out.rule(escape(f"[{number}/{len(configs)}] {cfg.program.name} {cfg.program.version} for {cell}"))
        if dry_run:
            print_estimate(cfg, estimate_compile(cfg))
            continue
        with progress_bars() as reporter:
            outcome = compile_config(cfg, reporter)
        print_compiled(cfg, outcome)
        if outcome.looks is not None:
            out.print(outcome.looks.describe(), markup=False, soft_wrap=True)
    if all_targets and not dry_run:
        out.rule()
        out.print(matrix_table(f"compilation matrix of {configs[0].program.name}", matrix(configs)))


@app.command(name="eval")
def eval_cmd(
    config: ConfigArg,
    artifact: Annotated[str, typer.Option(help="Artifact id or alias.")] = "latest",
    json_path: JsonOpt = None,
    junit: JunitOpt = None,
    markdown: MarkdownOpt = None,
    html: HtmlOpt = None,
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
    judge_check: JudgeCheckOpt = None,
) -> None:
    """Evaluate an artifact (and its reference) on the test split; exit 1 if a gate fails."""
    from promptc.commands.lifecycle import evaluate_config
    from promptc.config.paths import check_report_paths

    if judge_check is not None:
        others: dict[str, object] = {"--json": json_path, "--junit": junit, "--markdown": markdown}
        others |= {"--html": html, "--shard": shard, "--out": shard_out}
        _judge_check(config, target, judge_check, [k for k, v in others.items() if v is not None])
        return
    if shard is not None or shard_out is not None:
        reports = {"--json": json_path, "--junit": junit, "--markdown": markdown, "--html": html}
        _eval_shard(
            config, target, artifact, shard, shard_out, [k for k, v in reports.items() if v is not None]
        )
        return
    check_report_paths({"--json": json_path, "--junit": junit, "--markdown": markdown, "--html": html})
    cfg = load_config(config, target)
    with progress_bars() as reporter:
        outcome = evaluate_config(cfg, artifact, reporter)
    _report_eval(cfg, outcome, json_path, junit, markdown, html)


def _judge_check(config: Path, target: str | None, path: Path, others: list[str]) -> None:
    """The judge's agreement with the human scores in path; no artifact is evaluated."""
    from promptc.errors import BadInput
    from promptc.evaluation.judge_check import check_judge
    from promptc.reports.judge import judge_check_table

    if others:
        raise BadInput(f"--judge-check runs alone, without {others[0]}", fix=f"leave out {others[0]}")
    agreement = check_judge(load_config(config, target), path)
    out.print(judge_check_table(agreement))
    out.print(usage_line(agreement.usage))


def _report_eval(
    cfg: Config,
    outcome: EvalOutcome,
    json_path: Path | None,
    junit: Path | None,
    markdown: Path | None,
    html: Path | None,
) -> None:
    """What eval and merge print and write for an outcome; exit 1 if a gate fails."""
    from promptc.reports.ci import write_reports

    out.print(gate_table(outcome.gates))
    if outcome.looks is not None:
        out.print(outcome.looks.describe(), markup=False, soft_wrap=True)
    print_field_scores(outcome.baseline, outcome.candidate, outcome.gates.confidence)
    out.print(usage_line(outcome.usage))
    for path in write_reports(outcome, json_path=json_path, junit=junit, md=markdown):
        out.print(f"report written to {path}", markup=False, soft_wrap=True)
    if html is not None:
        from promptc.reports.data import from_eval
        from promptc.reports.html import write_html

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
    from promptc.evaluation.shards import check_out_path, evaluate_shard, parse_shard, write_shard

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
    cfg = load_config(config, target)
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
    json_path: JsonOpt = None,
    junit: JunitOpt = None,
    markdown: MarkdownOpt = None,
    html: HtmlOpt = None,
    target: TargetOpt = None,
) -> None:
    """Judge the shard files of `eval --shard` together, exactly as one eval; exit 1 if a gate fails."""
    from promptc.config.paths import check_report_paths
    from promptc.evaluation.merge import merge_shards

    check_report_paths({"--json": json_path, "--junit": junit, "--markdown": markdown, "--html": html})
    cfg = load_config(config, target)
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
    from promptc.config.paths import check_report_paths
    from promptc.release.ledger import holdout_reuse_line
    from promptc.reports.data import from_artifact
    from promptc.reports.html import write_html

    check_report_paths({"--out": out_path})
    cfg = load_config(config, target)
    data = from_artifact(cfg, artifact, against)
    write_html(out_path, data)
    out.print(f"report written to {out_path}", markup=False, soft_wrap=True)
    out.print(
        "gates: "
        + ("[green]pass[/]" if data.gates.passed else "[red]fail[/]")
        + escape(f" vs {data.gates.reference}")
    )
    out.print(holdout_reuse_line(cfg, data.artifact), markup=False, soft_wrap=True)


# The release commands live in cli_release; registered here, after the commands above, in help order.
for _name, _command in (RELEASE_COMMANDS | DATA_COMMANDS | PLAN_COMMANDS).items():
    app.command(name=_name)(_command)


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
