"""Reports of `promptc eval` for CI: JSON, JUnit XML (one testcase per gate per slice), Markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from promptc.artifacts import atomic_write
from promptc.errors import BadInput
from promptc.evaluate import scope_name
from promptc.gates import GateReport, SliceResult
from promptc.lifecycle import EvalOutcome


def eval_report(outcome: EvalOutcome) -> dict[str, Any]:
    """The JSON report: verdict, per-slice numbers and checks, usage, every prediction."""
    usage = outcome.usage
    program = outcome.artifact.typed.program
    return {
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


def junit_xml(report: GateReport, suite: str) -> str:
    """JUnit XML: one testcase per gate rule per slice; ungated slices are skipped testcases."""
    cases: list[ET.Element] = []
    for s in report.slices:
        if not s.gated:
            case = ET.Element("testcase", classname=f"{suite}.{scope_name(s.scope)}", name="ungated")
            ET.SubElement(case, "skipped", message="no gate covers this slice")
            cases.append(case)
    for check in report.checks:
        case = ET.Element("testcase", classname=f"{suite}.{scope_name(check.scope)}", name=check.rule)
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=check.message, type="GateFailed")
            failure.text = check.message
        else:
            ET.SubElement(case, "system-out").text = check.message
        cases.append(case)
    failures = sum(1 for c in report.checks if not c.passed)
    skipped = len(report.ungated)
    root = ET.Element("testsuites")
    suite_el = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures), skipped=str(skipped)
    )
    suite_el.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _interval(low: float | None, high: float | None, signed: bool = False) -> str:
    if low is None or high is None:
        return ""
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f" [{fmt.format(low)}, {fmt.format(high)}]"


BAR_WIDTH = 8


def trend(delta: float | None, largest: float) -> str:
    """An arrow and a bar for a change, the bar scaled so the largest change fills BAR_WIDTH blocks."""
    if delta is None:
        return ""
    if round(delta, 3) == 0:
        return "= 0"
    blocks = max(1, round(BAR_WIDTH * abs(delta) / largest)) if largest else 1
    return ("▲ " if delta > 0 else "▼ ") + "█" * blocks


def _row(s: SliceResult, largest: float) -> str:
    verdict = (
        ":heavy_minus_sign: ungated"
        if not s.gated
        else ":white_check_mark: pass"
        if s.passed
        else ":x: **fail**"
    )
    ref = f"{s.reference:.3f}" if s.reference is not None else "-"
    delta = (
        f"{s.delta:+.3f}{_interval(s.delta_low, s.delta_high, signed=True)}" if s.delta is not None else "-"
    )
    return (
        f"| {scope_name(s.scope)} | {s.n} | {s.score:.3f}{_interval(s.ci_low, s.ci_high)} | {ref} | {delta} "
        f"| {trend(s.delta, largest)} | {verdict} | {s.decided_by} |"
    )


def markdown(outcome: EvalOutcome) -> str:
    """A summary ready for a pull-request comment."""
    report = outcome.gates
    art = outcome.artifact
    program = art.typed.program
    level = f"{report.confidence:.0%}"
    largest = max((abs(s.delta) for s in report.slices if s.delta is not None), default=0.0)
    lines = [
        f"### promptc eval: {':white_check_mark: gates passed' if report.passed else ':x: gates failed'}",
        "",
        f"`{program.name}` {program.version} · artifact `{art.id}` · "
        f"`{art.model}@{art.revision}` · mode `{report.mode}` · reference: {report.reference}",
        "",
        f"| slice | n | score [{level} CI] | reference | change [{level} CI] | trend "
        "| verdict | decided by |",
        "|---|---:|---:|---:|---:|:---|---|---|",
        *(_row(s, largest) for s in report.slices),
    ]
    if report.failures:
        lines += ["", "**Failed checks**", "", *(f"- {c.message}" for c in report.failures)]
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
