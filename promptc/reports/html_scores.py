"""The HTML report's section for programs no confusion matrix fits (not a single-label classifier):
bars per output scored apart, with a table of the same numbers, and how per-example scores spread.

Every string that comes from data or configs goes through html.escape; chart text is escaped by
matplotlib's SVG writer.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from promptc.evaluation.field_scores import FieldRow, Scored, field_rows
from promptc.reports.data import Answer, ReportData
from promptc.results import Summary

if TYPE_CHECKING:
    from promptc.reports.charts import Interval  # charts loads matplotlib: only when a chart is drawn

LABELS = ("baseline", "candidate")


def _scored(answers: Sequence[Answer]) -> list[Scored]:
    return [Scored(a.id, a.field_scores, a.outputs is not None) for a in answers]


def _summary(s: Summary | None) -> str:
    return "<td>-</td>" if s is None else f"<td>{s.mean:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}] (n={s.n})</td>"


def _point(s: Summary | None) -> Interval | None:
    return None if s is None else (s.mean, s.ci_low, s.ci_high)


def _table(rows: Sequence[FieldRow], level: str) -> str:
    cells = "".join(
        f"<tr><td>{html.escape(r.name, quote=True)}</td>{_summary(r.before)}{_summary(r.after)}"
        + ("<td>-</td>" if r.change is None else "<td>{:+.3f} [{:+.3f}, {:+.3f}]</td>".format(*r.change))
        + "</tr>"
        for r in rows
    )
    return (
        f"<table id=fields><thead><tr><th>output</th><th>baseline [{level} CI]</th>"
        f"<th>candidate [{level} CI]</th><th>change [{level} CI]</th></tr></thead>"
        f"<tbody>{cells}</tbody></table>"
    )


def score_section(data: ReportData) -> str:
    """Per-output bars (baseline vs candidate, with intervals) where the metric scores outputs apart,
    and a histogram of per-example scores."""
    from promptc.reports.charts import FieldBar, field_bars_svg, histogram_svg

    confidence = data.gates.confidence
    rows = field_rows(_scored(data.baseline), _scored(data.candidate), confidence=confidence)
    parts = []
    if rows:
        bars = [FieldBar(r.name, _point(r.before), _point(r.after)) for r in rows]
        chart = field_bars_svg(bars, confidence=confidence, labels=LABELS)
        parts += [
            f'<h3>mean score per output</h3><figure class="chart" id="field-chart">{chart}</figure>',
            _table(rows, f"{confidence:.0%}"),
        ]
    histogram = histogram_svg(
        list(zip(LABELS, ([a.score for a in data.baseline], [a.score for a in data.candidate]), strict=True))
    )
    parts.append(
        f'<h3>scores per example</h3><figure class="chart" id="histogram-chart">{histogram}</figure>'
    )
    return "".join(parts)
