"""Rendering of stored artifacts and the registry: the list, history, show, diff and matrix views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from promptc.config.load import Config
from promptc.evaluation.field_scores import FieldRow, field_rows, of_dicts
from promptc.reports.terminal import field_table, out
from promptc.results import scope_name

if TYPE_CHECKING:
    from promptc.artifacts.matrix import MatrixCell
    from promptc.artifacts.registry import RegistryView
    from promptc.artifacts.store import Artifact

LINEAGE_KEYS = ("promptc_version", "config_sha256", "metric", "optimizer", "splits", "lm_requests", "tokens")


def artifact_table(cfg: Config, view: RegistryView) -> Table:
    """Each artifact of the config's program and model revision: version, optimizer, scores, aliases."""
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
    return table


def history_table(cfg: Config, view: RegistryView) -> Table:
    """Every alias change for the config's program and model revision, oldest first."""
    table = Table(title=escape(f"history of {cfg.program.name} for {cfg.target.model}@{cfg.target.revision}"))
    table.add_column("time")
    for col in ("action", "alias", "artifact", "previous"):
        table.add_column(col, no_wrap=True)
    for event in view.history:
        cells = (event["time"], event["action"], event["alias"], event["artifact"], event["previous"] or "-")
        table.add_row(*(escape(str(c)) for c in cells))
    return table


def print_artifact_head(art: Artifact) -> None:
    """An artifact's id, program, model revision and file, and how its candidate decides."""
    c = art.typed
    out.print(
        f"[bold]artifact {art.id}[/]  "
        + escape(f"{c.program.name} {c.program.version}  {art.model}@{art.revision}"),
        soft_wrap=True,
    )
    out.print(f"file: {art.path}", markup=False, soft_wrap=True)
    out.rule("decision")
    for line in c.candidate.decision_lines():
        out.print(line, markup=False, highlight=False)


def print_prompt(preview: list[tuple[str, list[dict[str, str]]]]) -> None:
    """The messages the model receives, one section per titled list (see adapter.prompt_preview)."""
    for title, messages in preview:
        out.rule(f"messages as the model receives them{title} (inputs as {{placeholders}})")
        for message in messages:
            out.print(f"[bold cyan]{escape(message['role'])}[/]", highlight=False)
            out.print(message["content"], markup=False, highlight=False)


def print_lineage(art: Artifact) -> None:
    """Where an artifact came from: promptc version, config, metric, optimizer, splits, usage."""
    out.rule("lineage")
    lineage = art.typed.lineage.to_dict()
    for key in LINEAGE_KEYS:
        out.print(f"[bold]{key}[/]: {escape(str(lineage.get(key)))}", highlight=False, soft_wrap=True)


def holdout_table(art: Artifact) -> Table:
    """An artifact's stored holdout scores per slice: n, baseline and candidate means."""
    table = Table(title="holdout scores")
    for col in ("slice", "n", "baseline", "candidate"):
        table.add_column(col)
    ev = art.typed.evaluation
    for name, summary in ev.candidate.summaries.items():
        base = ev.baseline.summaries.get(name)
        table.add_row(
            escape(scope_name(name)),
            str(summary.n),
            "-" if base is None else f"{base.mean:.3f}",
            f"{summary.mean:.3f}",
        )
    return table


def print_diff(left: Artifact, right: Artifact) -> None:
    """Two artifacts side by side: decision and instructions as unified diffs, demos, scores."""
    lc, rc = left.typed.candidate, right.typed.candidate
    out.rule(f"decision: {left.id} -> {right.id}")
    _print_unified_diff(
        lc.decision_lines(),
        rc.decision_lines(),
        left.id,
        right.id,
        same="(same decision)",
    )
    out.rule(f"instructions: {left.id} -> {right.id}")
    _print_unified_diff(
        lc.instructions.splitlines(),
        rc.instructions.splitlines(),
        left.id,
        right.id,
        same="(same instructions)",
    )
    out.print(demo_table(left, right))
    out.print(score_change_table(left, right))
    fields = field_change_rows(left, right)
    if fields:
        title = "holdout scores per output (candidate)"
        out.print(field_table(title, fields, (left.id, right.id), 0.95))


def _print_unified_diff(a: list[str], b: list[str], a_name: str, b_name: str, same: str) -> None:
    import difflib

    lines = list(difflib.unified_diff(a, b, a_name, b_name, lineterm=""))
    out.print("\n".join(lines) if lines else same, markup=False, highlight=False)


def demo_table(left: Artifact, right: Artifact) -> Table:
    """The demos of two artifacts side by side, each as source id: inputs -> outputs."""
    demos = Table(title="demos")
    demos.add_column(left.id)
    demos.add_column(right.id)
    ld, rd = left.typed.candidate.demos, right.typed.candidate.demos
    for i in range(max(len(ld), len(rd))):
        cells = []
        for ds in (ld, rd):
            if i < len(ds):
                d = ds[i]
                text = "; ".join(f"{k}={v}" for k, v in d.inputs.items())
                cells.append(escape(f"{d.source_id or '-'}: {text[:60]} -> {d.outputs}"))
            else:
                cells.append("")
        demos.add_row(*cells)
    return demos


def score_change_table(left: Artifact, right: Artifact) -> Table:
    """The candidate holdout scores of two artifacts per slice, and the change."""
    scores = Table(title="holdout scores (candidate)")
    for col in ("slice", left.id, right.id, "change"):
        scores.add_column(col)
    ls, rs = left.typed.evaluation.candidate.summaries, right.typed.evaluation.candidate.summaries
    for name in dict.fromkeys([*ls, *rs]):
        lm_ = ls[name].mean if name in ls else None
        rm_ = rs[name].mean if name in rs else None
        change = f"{rm_ - lm_:+.3f}" if lm_ is not None and rm_ is not None else "-"
        scores.add_row(
            escape(scope_name(name)),
            "-" if lm_ is None else f"{lm_:.3f}",
            "-" if rm_ is None else f"{rm_:.3f}",
            change,
        )
    return scores


def field_change_rows(left: Artifact, right: Artifact) -> tuple[FieldRow, ...]:
    """Per output scored apart, the candidate holdout scores of two artifacts; the change is paired
    (with its interval) only when both were evaluated on the same test split."""
    same_split = left.typed.lineage.splits.get("test") == right.typed.lineage.splits.get("test")
    return field_rows(
        of_dicts(left.records("candidate")), of_dicts(right.records("candidate")), paired=same_split
    )


def matrix_table(title: str, cells: list[MatrixCell]) -> Table:
    """Program version x model revision -> artifact, holdout scores, gate verdict and aliases."""
    table = Table(title=escape(title))
    for col in ("version", "target", "model", "revision", "artifact", "holdout", "gates", "aliases"):
        # Ids and scores stay whole; a long model name or alias list folds rather than being cut.
        table.add_column(col, no_wrap=col in ("revision", "artifact", "holdout"), overflow="fold")
    for cell in cells:
        scores = cell.scores()
        aliases = [
            a if i == (cell.artifact and cell.artifact.id) else f"{a}={i[:8]}"
            for a, i in cell.aliases.items()
        ]
        table.add_row(
            escape(cell.version),
            escape(cell.target or "-"),
            escape(cell.model),
            escape(cell.revision),
            cell.artifact.id if cell.artifact else "[yellow]missing[/]",
            f"{scores[0]:.3f} -> {scores[1]:.3f}" if scores else "-",
            "-" if cell.gates is None else "[green]pass[/]" if cell.gates.passed else "[red]fail[/]",
            escape("\n".join(aliases)),
        )
    return table


def matrix_json(cells: list[MatrixCell]) -> list[dict[str, Any]]:
    """The matrix as JSON-ready rows (missing cells with artifact null)."""
    rows = []
    for cell in cells:
        scores = cell.scores()
        rows.append(
            {
                "version": cell.version,
                "target": cell.target,
                "model": cell.model,
                "revision": cell.revision,
                "artifact": cell.artifact.id if cell.artifact else None,
                "baseline": scores[0] if scores else None,
                "candidate": scores[1] if scores else None,
                "gates": None if cell.gates is None else "pass" if cell.gates.passed else "fail",
                "aliases": cell.aliases,
            }
        )
    return rows
