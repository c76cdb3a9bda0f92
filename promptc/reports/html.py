"""The HTML report: one self-contained file (inline SVG charts, inline CSS and a little JavaScript)
that opens offline and makes no network request.

Every string that comes from data, configs, artifacts or model replies goes through `_e`
(html.escape); chart text is escaped by matplotlib's SVG writer.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptc.artifacts.content import ArtifactContent
from promptc.artifacts.store import Artifact
from promptc.evaluation.stats import mean_interval
from promptc.lm.providers import is_in_process
from promptc.lm.tokens import price
from promptc.prompting.adapter import label_field, prompt_preview
from promptc.prompting.program import Candidate, Program
from promptc.release.gate_table import GateRow, tabulate, verdict_of
from promptc.release.gates import GateReport
from promptc.reports.data import NO_ANSWER, ReportData, score_set
from promptc.reports.html_scores import score_section
from promptc.results import scope_name

CHANGE_RULES = {"max_drop": -1.0, "max_rel_drop": -1.0, "min_gain": 1.0, "min_rel_gain": 1.0}
FLOOR_RULES = ("min", "max")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _forest(data: ReportData) -> str:
    from promptc.reports.charts import ForestRow, forest_svg

    sign = 1.0 if data.higher_is_better else -1.0
    ref = score_set(data.reference)
    groups = ref.groups()
    rows = []
    for s in data.gates.slices:
        reference = None
        if s.reference is not None:
            # The interval of the answers the report holds, when they are the ones the gates
            # judged; else (a reference re-evaluated on the current split) the point alone.
            values = [ref.scores[i] for i in groups.get(s.scope, ())]
            reference = (s.reference, s.reference, s.reference)
            if values and abs(sum(values) / len(values) - s.reference) < 1e-9:
                reference = (s.reference, *mean_interval(values, data.gates.confidence))
        change = None
        if s.delta is not None and s.delta_low is not None and s.delta_high is not None:
            change = (s.delta, s.delta_low, s.delta_high)
        floors = tuple(
            (c.rule, c.threshold) for c in s.checks if c.rule in FLOOR_RULES and c.threshold is not None
        )
        limits = []
        for c in s.checks:
            if c.rule in CHANGE_RULES and c.threshold is not None and s.reference is not None:
                scale = abs(s.reference) if "rel" in c.rule else 1.0
                limits.append((c.rule, CHANGE_RULES[c.rule] * sign * c.threshold * scale))
        rows.append(
            ForestRow(
                scope_name(s.scope),
                verdict_of(s).value,
                (s.score, s.ci_low, s.ci_high),
                reference,
                change,
                floors,
                tuple(limits),
            )
        )
    return forest_svg(rows, confidence=data.gates.confidence, reference=data.gates.reference)


def chosen_trial(trials: Sequence[dict[str, Any]], candidate: Candidate) -> int | None:
    """The index of the trial that produced the chosen candidate (as `promptc compile` marks it)."""
    if any("candidate" in t for t in trials):  # trials record their candidate's digest
        digest = candidate.digest()
        return next((i for i, t in enumerate(trials) if t.get("candidate") == digest), None)
    demo_ids = [d.source_id for d in candidate.demos]  # older artifacts: the first match
    for i, t in enumerate(trials):
        if (t.get("full", True) or t.get("val_score") is None) and (
            t.get("describe") == candidate.describe() and t.get("demo_ids") == demo_ids
        ):
            return i
    return None


def _history(content: ArtifactContent) -> str:
    from promptc.reports.charts import TrialPoint, history_svg

    trials = content.lineage.trials
    if not trials:
        return "<p>No trials are recorded in this artifact's lineage.</p>"
    points = [
        TrialPoint(str(t["name"]), t.get("val_score"), bool(t.get("full", True)), int(t.get("calls", 0)))
        for t in trials
    ]
    chosen = chosen_trial(trials, content.candidate)
    unscored = sum(1 for p in points if p.score is None)
    note = f"<p>{unscored} trial(s) kept without a validation score.</p>" if unscored else ""
    names = "".join(
        f"<li{' class=chosen' if i == chosen else ''}>{_e(t['name'])}: "
        f"{'not scored' if t.get('val_score') is None else format(t['val_score'], '.3f')}"
        f"{'' if t.get('full', True) else ' (minibatch)'}, {int(t.get('calls', 0))} calls</li>"
        for i, t in enumerate(trials)
    )
    chart = f'<figure class="chart" id="history-chart">{history_svg(points, chosen)}</figure>'
    return f"{chart}{note}<details><summary>trials in order</summary><ol>{names}</ol></details>"


def _label(outputs: dict[str, Any] | None, name: str) -> str:
    if outputs is None or name not in outputs:
        return NO_ANSWER
    return str(outputs[name])


def _confusion(data: ReportData, program: Program) -> str | None:
    from promptc.reports.charts import Confusion, confusion_svg

    f = label_field(program)
    if f is None:  # not a single-label classifier: per-output bars and a histogram instead
        return None
    labels = tuple(str(x) for x in f.labels)
    matrices = []
    for title, answers in (("baseline", data.baseline), ("candidate", data.candidate)):
        counts: dict[tuple[str, str], int] = {}
        for a in answers:
            example = data.examples.get(a.id)
            if example is None:
                continue
            key = (str(example.outputs.get(f.name)), _label(a.outputs, f.name))
            counts[key] = counts.get(key, 0) + 1
        matrices.append((title, counts))
    extra = sorted({p for _, c in matrices for _, p in c if p not in labels})
    gold_extra = sorted({g for _, c in matrices for g, _ in c if g not in labels})
    chart = confusion_svg(
        [
            Confusion(title, labels + tuple(gold_extra), labels + tuple(extra), counts)
            for title, counts in matrices
        ]
    )
    return f'<figure class="chart" id="confusion-chart">{chart}</figure>'


def _values(values: dict[str, Any] | None) -> str:
    if values is None:
        return f"<i>{NO_ANSWER}</i>"
    return "<br>".join(f"<b>{_e(k)}</b>: {_e(v)}" for k, v in values.items())


def _flips(data: ReportData) -> str:
    reference = {a.id: a for a in data.reference}
    changed = []
    for a in data.candidate:
        r = reference.get(a.id)
        if r is not None and a.score != r.score:
            changed.append(((a.score < r.score) == data.higher_is_better, a, r))
    rows = []
    for worse, a, r in sorted(changed, key=lambda c: (not c[0], c[1].slice or "", c[1].id)):
        example = data.examples.get(a.id)
        inputs = _values(example.inputs) if example else "<i>not in the test split</i>"
        gold = _values(example.outputs) if example else ""
        kind = "worse" if worse else "better"
        rows.append(
            f'<tr class="{kind}" data-slice="{_e(a.slice or "")}">'
            f"<td>{_e(a.id)}</td><td>{_e(a.slice or '-')}</td>"
            f'<td class="kind">{kind}</td><td>{inputs}</td><td>{gold}</td>'
            f"<td>{_values(r.outputs)} <small>({r.score:g})</small></td>"
            f"<td>{_values(a.outputs)} <small>({a.score:g})</small></td></tr>"
        )
    if not rows:
        return f"<p>No example changed its score against {_e(data.flips_against)}.</p>"
    slices = sorted({a.slice for a in data.candidate if a.slice is not None})
    options = "".join(f'<option value="{_e(s)}">{_e(s)}</option>' for s in slices)
    return (
        f"<p>Examples whose score changed against {_e(data.flips_against)}: <b>worse</b> (the reference "
        "answered better) and <b>better</b>. <label>slice <select id=slice-filter>"
        f'<option value="">all</option>{options}</select></label> <span id=flip-count></span></p>'
        '<table id="flips"><thead><tr><th>id</th><th>slice</th><th>change</th><th>inputs</th><th>gold</th>'
        f"<th>{_e(data.flips_against)}</th><th>candidate</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _checks_cell(row: GateRow) -> str:
    """Each check with its rule, threshold and value; a missing slice's one check by its message."""
    if not row.present:
        return _e(row.checks[0].message)
    return "<br>".join(
        f"{'✔' if c.passed else '✘'} <b>{_e(c.rule)}</b> threshold {_e(c.threshold)}, "
        f"value {_e(c.value)}: {_e(c.message)}"
        for c in row.checks
    )


def _gate_row(row: GateRow) -> str:
    """A gate row; its class, which colours the verdict, is the row's verdict."""
    verdict = row.verdict.value
    return (
        f'<tr class="{verdict}"><td>{_e(row.name)}</td><td>{row.n}</td><td>{row.score}</td>'
        f"<td>{row.reference}</td><td>{row.change}</td>"
        f'<td class="verdict">{verdict}</td><td>{_e(row.decided_by)}</td>'
        f"<td>{_checks_cell(row)}</td></tr>"
    )


def _gate_table(report: GateReport) -> str:
    table = tabulate(report)
    return (
        f"<table id=gates><thead><tr><th>slice</th><th>n</th><th>score [{table.level} CI]</th>"
        f"<th>reference</th><th>change [{table.level} CI]</th><th>verdict</th><th>decided by</th>"
        "<th>checks (rule, threshold, value)</th>"
        f"</tr></thead><tbody>{''.join(map(_gate_row, table.rows))}</tbody></table>"
    )


def _prompt(artifact: Artifact) -> str:
    candidate = artifact.typed.candidate
    parts = [f"<ul>{''.join(f'<li>{_e(line)}</li>' for line in candidate.decision_lines())}</ul>"]
    for title, messages in prompt_preview(artifact.typed.program, artifact.typed.candidate):
        parts.append(f"<h3>messages as the model receives them{_e(title)} (inputs as {{placeholders}})</h3>")
        parts += [
            f"<div class=msg><div class=role>{_e(m['role'])}</div><pre>{_e(m['content'])}</pre></div>"
            for m in messages
        ]
    return "".join(parts)


def _cost(model: str, lineage: Mapping[str, Any]) -> str:
    """What the compile's tokens (search and holdout, cached calls included) cost at list price.

    lineage is the lineage as stored (Lineage.to_dict()): older artifacts lack the split counts.
    """
    if is_in_process(model):
        return "$0 (in-process model)"
    tokens = (lineage.get("prompt_tokens"), lineage.get("completion_tokens"))
    if not all(isinstance(t, int) for t in tokens):
        return "not recorded (artifact written before token counts were split)"
    usd = price(model, int(tokens[0] or 0), int(tokens[1] or 0))
    if usd is None:
        return "unknown (the model is not in litellm's price table)"
    return f"${usd:.4f} at litellm's list price ({tokens[0]:,} prompt + {tokens[1]:,} completion tokens)"


def _lineage(data: ReportData) -> str:
    art = data.artifact
    lineage = art.typed.lineage
    optimizer = lineage.optimizer
    cost_text = _cost(art.model, lineage.to_dict())
    items: Iterable[tuple[str, Any]] = (
        ("model", f"{art.model}@{art.revision}"),
        ("splits (content hashes)", ", ".join(f"{k} {v}" for k, v in lineage.splits.items())),
        (
            "optimizer",
            f"{optimizer.name}, seed {optimizer.seed}, settings {json.dumps(optimizer.settings)}",
        ),
        ("metric", lineage.metric),
        ("model calls", f"{lineage.lm_requests} ({lineage.search_requests} in the search)"),
        ("tokens", lineage.tokens),
        ("cost", cost_text),
        ("stopped by budget", lineage.stopped_by_budget),
        ("promptc version", lineage.promptc_version),
        ("config sha256", lineage.config_sha256),
        ("artifact file", art.path),
    )
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>"


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#212121}
h1{font-size:1.5em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border:1px solid #ddd;padding:4px 6px;
vertical-align:top;text-align:left}thead th{background:#f5f5f5}tr.pass td.verdict{color:#2e7d32}
tr.fail td.verdict{color:#c62828;font-weight:bold}tr.ungated td.verdict{color:#757575}
tr.worse td.kind{color:#c62828}tr.better td.kind{color:#2e7d32}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff}.badge.pass{background:#2e7d32}
.badge.fail{background:#c62828}figure.chart{margin:0}figure.chart svg{max-width:100%;height:auto}
pre{white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:6px;margin:2px 0}
.role{font-weight:bold;color:#00838f}li.chosen{font-weight:bold;color:#2e7d32}dt{font-weight:bold}
dd{margin:0 0 .4em 1.5em;font-family:monospace}
"""

SCRIPT = """
(function () {
  var select = document.getElementById('slice-filter');
  if (!select) return;
  function apply() {
    var shown = 0, rows = document.querySelectorAll('#flips tbody tr');
    rows.forEach(function (tr) {
      tr.hidden = select.value !== '' && tr.dataset.slice !== select.value;
      if (!tr.hidden) shown += 1;
    });
    document.getElementById('flip-count').textContent = shown + ' of ' + rows.length + ' shown';
  }
  select.addEventListener('change', apply);
  apply();
})();
"""

# The page may load nothing: no script, style, image or font from anywhere but itself.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document."""
    art = data.artifact
    program = art.typed.program
    verdict = "pass" if data.gates.passed else "fail"
    title = f"{program.name} {program.version}: artifact {art.id}"
    failures = "".join(f"<li>{_e(c.message)}</li>" for c in data.gates.failures)
    confusion = _confusion(data, program)
    sections = [
        ("forest", "Scores per slice", f'<figure class="chart" id="forest-chart">{_forest(data)}</figure>'),
        (
            "gates",
            "Release gates",
            _gate_table(data.gates) + (f"<h3>failed checks</h3><ul>{failures}</ul>" if failures else ""),
        ),
        ("history", "Search history (validation split)", _history(art.typed)),
        (
            ("confusion", "Confusion matrices (test split)", confusion)
            if confusion is not None
            else ("fields", "Scores per output and per example (test split)", score_section(data))
        ),
        ("flipped", "Flipped examples", _flips(data)),
        ("prompt", "The compiled prompt", _prompt(art)),
        ("lineage", "Lineage", _lineage(data)),
    ]
    body = "".join(
        f'<section id="{sid}"><h2>{_e(name)}</h2>{content}</section>' for sid, name, content in sections
    )
    usage = f"<br>{_e(data.usage)}" if data.usage else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f'<body><h1>{_e(title)} <span class="badge {verdict}">gates {verdict}</span></h1>'
        f"<p>{_e(f'{art.model}@{art.revision}')} · gates in {_e(data.gates.mode)} mode at "
        f"{data.gates.confidence:.0%} · changes vs {_e(data.gates.reference)} · "
        f"from {_e(data.source)}{usage}</p>"
        f"{body}<script>{SCRIPT}</script></body></html>\n"
    )


def write_html(path: Path, data: ReportData, option: str = "--out") -> None:
    """Render the report and write it atomically (nothing half-written on failure)."""
    from promptc.reports.ci import write_text

    write_text(path, render_html(data), option)
