"""Reports of `promptc eval` for CI: JSON, JUnit XML (one testcase per gate per slice), Markdown."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from promptc.errors import BadInput
from promptc.evaluation.field_scores import FieldRow, evaluation_rows
from promptc.files import atomic_write
from promptc.outcomes import EvalOutcome
from promptc.release.gate_table import GateRow, Verdict, interval, tabulate
from promptc.release.gates import GateReport
from promptc.results import scope_name


def eval_report(outcome: EvalOutcome) -> dict[str, Any]:
    """The JSON report: verdict, per-slice numbers and checks, usage, every prediction."""
    usage = outcome.usage
    program = outcome.artifact.typed.program
    report: dict[str, Any] = {
        "passed": outcome.gates.passed,
        "artifact": outcome.artifact.id,
        "program": program.name,
        "version": program.version,
        "model": outcome.artifact.model,
        "revision": outcome.artifact.revision,
        "gates": outcome.gates.to_dict(),
        "usage": {
            "calls": usage.calls,
            "cached": usage.cached,
            "tokens": usage.prompt_tokens + usage.completion_tokens,
        },
        "candidate": outcome.candidate.to_dict(timing=True),
        "baseline": outcome.baseline.to_dict(timing=True),
    }
    fields = evaluation_rows(outcome.baseline, outcome.candidate, confidence=outcome.gates.confidence)
    if fields:  # the metric scores outputs apart: each output's means, baseline and candidate
        report["fields"] = [row.to_dict(("baseline", "candidate")) for row in fields]
    return report


# Characters XML 1.0 does not allow anywhere (C0 controls but tab, CR and LF; surrogates; U+FFFE/F):
# ElementTree writes them as they are, and a CI server then rejects the whole file.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """The text with every character XML 1.0 forbids written as a visible escape (\\x1b)."""
    return _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], value)


def junit_xml(report: GateReport, suite: str) -> str:
    """JUnit XML: one testcase per gate rule per slice; ungated slices are skipped testcases."""
    cases: list[ET.Element] = []
    for s in report.slices:
        if not s.gated:
            case = ET.Element(
                "testcase", classname=xml_text(f"{suite}.{scope_name(s.scope)}"), name="ungated"
            )
            ET.SubElement(case, "skipped", message="no gate covers this slice")
            cases.append(case)
    for check in report.checks:
        message = xml_text(check.message)
        case = ET.Element(
            "testcase", classname=xml_text(f"{suite}.{scope_name(check.scope)}"), name=xml_text(check.rule)
        )
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=message, type="GateFailed")
            failure.text = message
        else:
            ET.SubElement(case, "system-out").text = message
        cases.append(case)
    failures = sum(1 for c in report.checks if not c.passed)
    skipped = len(report.ungated)
    root = ET.Element("testsuites")
    suite_el = ET.SubElement(
        root,
        "testsuite",
        name=xml_text(suite),
        tests=str(len(cases)),
        failures=str(failures),
        skipped=str(skipped),
    )
    suite_el.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# In Markdown: & < > as entities (no HTML from a slice name); | as an entity (it would end a table
# cell, in some renderers even after a backslash); a backslash before the marks that start
# emphasis, code or a link; a line break as <br> (a newline would end the table row).
_MD = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", "\n": "<br>", "\r": " ", "\t": " "}
_MD.update((mark, "\\" + mark) for mark in "\\`*_[]~")


def md_text(value: object) -> str:
    """Text safe inside a Markdown table cell or list item: it renders as itself, on one line."""
    return "".join(_MD.get(char, char) for char in xml_text(str(value)))


def md_code(value: object) -> str:
    """Text as a Markdown code span (where escapes are shown as typed): one line, no backtick."""
    text = xml_text(str(value))
    return "`" + re.sub(r"\s", " ", text).replace("`", "'") + "`"


BAR_WIDTH = 8


def trend(delta: float | None, largest: float) -> str:
    """An arrow and a bar for a change, the bar scaled so the largest change fills BAR_WIDTH blocks."""
    if delta is None:
        return ""
    if round(delta, 3) == 0:
        return "= 0"
    blocks = max(1, round(BAR_WIDTH * abs(delta) / largest)) if largest else 1
    return ("▲ " if delta > 0 else "▼ ") + "█" * blocks


_VERDICTS = {
    Verdict.PASS: ":white_check_mark: pass",
    Verdict.FAIL: ":x: **fail**",
    Verdict.UNGATED: ":heavy_minus_sign: ungated",
}


def _row(row: GateRow, largest: float) -> str:
    return (
        f"| {md_text(row.name)} | {row.n} | {row.score} | {row.reference} | {row.change} "
        f"| {trend(row.delta, largest)} | {_VERDICTS[row.verdict]} | {md_text(row.decided_by)} |"
    )


def _field_lines(rows: tuple[FieldRow, ...], level: str) -> list[str]:
    """The per-output table: baseline and candidate means with intervals, and the change."""
    lines = [
        f"| output | n | baseline [{level} CI] | candidate [{level} CI] | change [{level} CI] |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            "-" if s is None else f"{s.mean:.3f}{interval(s.ci_low, s.ci_high)}"
            for s in (row.before, row.after)
        ]
        n = row.after.n if row.after else row.before.n if row.before else 0
        change = (
            "-" if row.change is None else f"{row.change[0]:+.3f}{interval(*row.change[1:], signed=True)}"
        )
        lines.append(f"| {md_text(row.name)} | {n} | {cells[0]} | {cells[1]} | {change} |")
    return lines


def markdown(outcome: EvalOutcome) -> str:
    """A summary ready for a pull-request comment."""
    report = outcome.gates
    art = outcome.artifact
    program = art.typed.program
    table = tabulate(report)
    level = table.level
    # A gated slice missing from the data has no row here: its failed check is listed below.
    rows = [row for row in table.rows if row.present]
    largest = max((abs(row.delta) for row in rows if row.delta is not None), default=0.0)
    lines = [
        f"### promptc eval: {':white_check_mark: gates passed' if report.passed else ':x: gates failed'}",
        "",
        f"{md_code(program.name)} {md_text(program.version)} · artifact {md_code(art.id)} · "
        f"{md_code(f'{art.model}@{art.revision}')} · mode {md_code(report.mode)} · "
        f"reference: {md_text(report.reference)}",
        "",
        f"| slice | n | score [{level} CI] | reference | change [{level} CI] | trend "
        "| verdict | decided by |",
        "|---|---:|---:|---:|---:|:---|---|---|",
        *(_row(row, largest) for row in rows),
    ]
    fields = evaluation_rows(outcome.baseline, outcome.candidate, confidence=report.confidence)
    if fields:
        lines += ["", "**Scores per output**", "", *_field_lines(fields, level)]
    if report.failures:
        lines += ["", "**Failed checks**", "", *(f"- {md_text(c.message)}" for c in report.failures)]
    usage = outcome.usage
    lines += [
        "",
        f"<sub>model calls: {usage.calls} made, {usage.cached} from cache</sub>",
    ]
    return "\n".join(lines) + "\n"


def write_text(path: Path, text: str, option: str) -> None:
    """Write a report atomically, naming the option on failure."""
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise BadInput(
            f"{path}: cannot write report ({exc.strerror})", fix=f"pass a writable {option} path"
        ) from None


def write_reports(
    outcome: EvalOutcome, *, json_path: Path | None, junit: Path | None, md: Path | None
) -> list[Path]:
    """Write the requested reports; return the paths written."""
    written = []
    if json_path is not None:
        write_text(json_path, json.dumps(eval_report(outcome), indent=2, ensure_ascii=False) + "\n", "--json")
        written.append(json_path)
    if junit is not None:
        write_text(junit, junit_xml(outcome.gates, outcome.artifact.typed.program.name), "--junit")
        written.append(junit)
    if md is not None:
        write_text(md, markdown(outcome), "--markdown")
        written.append(md)
    return written
