"""The gate table: rows built once from a gate report, one interval format, and the three writers
(terminal, Markdown, HTML) taking each verdict from the row's typed verdict."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from rich.console import Console

from promptc.release.gate_table import GateRow, Verdict, interval, tabulate, verdict_of
from promptc.release.gates import GateCheck, GateReport, SliceResult
from promptc.reports.ci import _row
from promptc.reports.html import CSS, _gate_table
from promptc.reports.terminal import gate_table
from promptc.results import OVERALL


def _check(scope: str, rule: str, passed: bool) -> GateCheck:
    return GateCheck(scope, rule, 0.5, 0.25, passed, f"{scope}: {rule} {'met' if passed else 'missed'}")


def _report() -> GateReport:
    """Overall passes; a slice named 'pass' fails and one named 'fail' passes (names are not
    verdicts); 'chat' has no gate and no reference; 'fax' is gated but absent from the data."""
    return GateReport(
        mode="point",
        confidence=0.9,
        reference="baseline",
        slices=(
            SliceResult(OVERALL, 40, 0.8125, 0.7321, 0.8801, 0.5, 0.3125, 0.1049, 0.4951, (), True),
            SliceResult(
                "pass",
                10,
                0.4,
                0.15,
                0.7,
                0.6,
                -0.2,
                -0.4567,
                0.0567,
                (_check("pass", "min_n", True), _check("pass", "min", False)),
                True,
            ),
            SliceResult(
                "fail", 10, 0.9, 0.6, 1.0, 0.9, 0.0, -0.1, 0.1, (_check("fail", "max_drop", True),), True
            ),
            SliceResult("chat", 5, 1.0, 0.55, 1.0, None, None, None, None, (), False),
        ),
        missing=(GateCheck("fax", "present", None, None, False, "slice 'fax' has no examples"),),
    )


def _by_name(rows: tuple[GateRow, ...]) -> dict[str, GateRow]:
    return {row.name: row for row in rows}


def test_rows_follow_the_slices_then_the_missing_ones_with_typed_verdicts() -> None:
    table = tabulate(_report())
    assert [row.name for row in table.rows] == ["overall", "pass", "fail", "chat", "fax"]
    assert [row.verdict for row in table.rows] == [
        Verdict.PASS,
        Verdict.FAIL,
        Verdict.PASS,
        Verdict.UNGATED,
        Verdict.FAIL,
    ]
    assert (table.mode, table.level, table.reference) == ("point", "90%", "baseline")
    assert [row.present for row in table.rows] == [True, True, True, True, False]


def test_cells_are_formatted_once_as_plain_text() -> None:
    rows = _by_name(tabulate(_report()).rows)
    failing = rows["pass"]
    assert (failing.scope, failing.n, failing.score) == ("pass", "10", "0.400 [0.150, 0.700]")
    assert (failing.reference, failing.change, failing.delta) == ("0.600", "-0.200 [-0.457, +0.057]", -0.2)
    assert failing.decided_by == "min" and [c.rule for c in failing.checks] == ["min_n", "min"]
    assert rows["overall"].scope == OVERALL
    assert (rows["chat"].reference, rows["chat"].change, rows["chat"].delta) == ("-", "-", None)
    assert rows["chat"].decided_by == "ungated"
    missing = rows["fax"]
    assert (missing.n, missing.score, missing.reference, missing.change) == ("0", "-", "-", "-")
    assert missing.decided_by == "present" and missing.checks[0].message == "slice 'fax' has no examples"


def test_the_terminal_table_shows_intervals_at_two_decimals() -> None:
    rows = _by_name(tabulate(_report(), digits=2).rows)
    assert rows["pass"].score == "0.400 [0.15, 0.70]"
    assert rows["pass"].change == "-0.200 [-0.46, +0.06]"  # the change itself keeps three decimals


@pytest.mark.parametrize(
    ("low", "high", "signed", "digits", "text"),
    [
        (0.1, 0.25, False, 3, " [0.100, 0.250]"),
        (-0.05, 0.125, True, 3, " [-0.050, +0.125]"),
        (0.0, 0.0, True, 2, " [+0.00, +0.00]"),
        (0.734, 0.886, False, 2, " [0.73, 0.89]"),
        (None, 0.5, True, 3, ""),
        (0.5, None, False, 2, ""),
    ],
)
def test_one_interval_format(
    low: float | None, high: float | None, signed: bool, digits: int, text: str
) -> None:
    assert interval(low, high, signed=signed, digits=digits) == text


def test_verdict_of_a_slice() -> None:
    by_scope = {s.scope: verdict_of(s) for s in _report().slices}
    assert by_scope == {
        OVERALL: Verdict.PASS,
        "pass": Verdict.FAIL,
        "fail": Verdict.PASS,
        "chat": Verdict.UNGATED,
    }


def test_the_html_verdict_class_is_the_rows_verdict_not_a_cell_text() -> None:
    page = _gate_table(_report())
    rows = re.findall(r'<tr class="(\w+)"><td>([^<]*)</td>(.*?)</tr>', page)
    assert [(cls, name) for cls, name, _ in rows] == [
        ("pass", "overall"),
        ("fail", "pass"),
        ("pass", "fail"),
        ("ungated", "chat"),
        ("fail", "fax"),
    ]
    for cls, _, rest in rows:  # the verdict cell is named, and the stylesheet colours it by name
        assert re.findall(r'<td class="verdict">(.*?)</td>', rest) == [cls]
    assert "nth-child" not in CSS and "tr.fail td.verdict{" in CSS
    assert "<th>score [90% CI]</th>" in page and "<th>change [90% CI]</th>" in page
    assert "<td>0.400 [0.150, 0.700]</td><td>0.600</td><td>-0.200 [-0.457, +0.057]</td>" in page
    assert "✘ <b>min</b>" in page and "<td>slice &#x27;fax&#x27; has no examples</td>" in page


def test_the_markdown_and_terminal_verdicts_come_from_the_verdict() -> None:
    rows = _by_name(tabulate(_report()).rows)
    assert _row(rows["pass"], 0.2).endswith("| ▼ ████████ | :x: **fail** | min |")
    assert _row(rows["fail"], 0.2).endswith("| = 0 | :white_check_mark: pass | max\\_drop |")
    console = Console(width=160, record=True, force_terminal=True, color_system="standard")
    console.print(gate_table(_report()))
    text = console.export_text(styles=True)
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.startswith("│")}
    assert "\x1b[1;31mFAIL" in lines["pass"] and "\x1b[32mpass" in lines["fail"]
    assert "\x1b[1;31mFAIL" in lines["fax"] and "\x1b[33mungated" in lines["chat"]


def test_the_model_is_a_leaf_that_loads_neither_rich_nor_the_model_layer() -> None:
    code = (
        "import sys, promptc.release.gate_table\n"
        "heavy = ('rich', 'litellm', 'llama_cpp', 'promptc.lm.model', 'promptc.lm.hosted',"
        " 'promptc.lm.local', 'promptc.lm.cache', 'promptc.optimizers', 'promptc.commands')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
