"""The HTML report: what it shows, hostile text rendered as text, bad inputs, and a real browser."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promptc.reports.ci import markdown
from tests.conftest import ConfigWriter, write_jsonl
from tests.test_cli import artifact_id, invoke
from tests.test_field_scores import composite

CHARTS = ("forest-chart", "history-chart", "confusion-chart")
FIELD_CHARTS = ("field-chart", "histogram-chart")  # where no confusion matrix fits
HOSTILE = "<script>alert('pwned')</script>"


def _compile(config: Path) -> str:
    result = invoke("compile", config)
    assert result.exit_code == 0, result.output
    return artifact_id(result.output)


def _report(config: Path, out: Path, *extra: str) -> str:
    result = invoke("report", config, "latest", "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def external_refs(page: str) -> list[str]:
    """Every src or href in the page that points off the file (http, https or protocol-relative)."""
    return re.findall(r"""(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", page, flags=re.I)


def test_report_of_a_stored_artifact_has_every_part(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    art = _compile(config)
    page = _report(config, tmp_path / "report.html")
    for chart in CHARTS:
        assert re.search(rf'<figure class="chart" id="{chart}"><svg', page), chart
    assert 'id="gates"' in page and "decided by" in page and "max_drop" in page
    assert 'id="flips"' in page or "No example changed its score" in page
    assert "Route the ticket." in page  # the compiled prompt
    content = json.loads(next((tmp_path / "artifacts").rglob(f"{art}.json")).read_text())
    for digest in content["lineage"]["splits"].values():
        assert digest in page
    assert "fake/learner@fake00000000" in page
    assert external_refs(page) == []
    assert "Content-Security-Policy" in page
    assert "field-chart" not in page and "histogram-chart" not in page  # a classifier: the matrix


def test_a_program_beyond_one_label_gets_per_output_bars_and_a_histogram(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(lambda c: composite(c, tmp_path))
    _compile(config)
    page = _report(config, tmp_path / "report.html")
    for chart in ("forest-chart", "history-chart", *FIELD_CHARTS):
        assert re.search(rf'<figure class="chart" id="{chart}"><svg', page), chart
    assert "confusion-chart" not in page
    table = re.search(r"<table id=fields>(.*?)</table>", page, re.S)
    assert table and "<td>category</td>" in table.group(1) and "<td>team</td>" in table.group(1)
    assert re.search(r"<td>team</td><td>0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \(n=32\)</td>", table.group(1))
    assert external_refs(page) == []


def test_eval_html_reports_the_fresh_evaluation(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    _compile(config)
    out = tmp_path / "eval.html"
    result = invoke("eval", config, "--html", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "a fresh evaluation" in page and "model calls:" in page
    assert all(f'id="{chart}"' in page for chart in CHARTS)


def test_report_against_another_artifact(write_config: ConfigWriter, tmp_path: Path) -> None:
    first = write_config(lambda c: c["optimizer"].update(settings={"k": 8}))
    first_id = _compile(first)
    assert invoke("promote", first, "--artifact", first_id).exit_code == 0

    def weaker(c: dict[str, Any]) -> None:
        c["optimizer"].update(settings={"k": 1})
        c["gates"] = {"reference": "production", "overall": {"max_drop": 0.0}}

    second = write_config(weaker, name="weaker.yaml")
    second_id = _compile(second)
    page = _report(second, tmp_path / "r.html")
    assert f"changes vs production ({first_id})" in page and second_id in page
    assert _report(second, tmp_path / "b.html", "--against", "baseline").count("changes vs baseline") == 1
    result = invoke("eval", second, "--html", tmp_path / "e.html")
    assert result.exit_code == 1  # the gate fails; the report is written all the same
    assert f"changed against production ({first_id})" in (tmp_path / "e.html").read_text()


def _hostile(cfg: dict[str, Any]) -> None:
    cfg["program"]["instructions"] = f"Route the ticket. {HOSTILE}"


def test_hostile_text_renders_as_text(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(_hostile)
    test = tmp_path / "data/test.jsonl"
    rows = [json.loads(line) for line in test.read_text().splitlines()]
    for row in rows[:8]:
        row["ticket"] += f" {HOSTILE} <img src=x onerror=alert(1)>"
        row["channel"] = '<b onmouseover="x()">$5 & co</b>'
    write_jsonl(test, rows)
    _compile(config)
    page = _report(config, tmp_path / "r.html")
    assert page.count("<script") == 1  # the report's own filter script only
    assert "<img" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "$5 &amp; co" in page  # a dollar sign is not read as mathtext in the charts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "{config}", "0123456789abcdef", "--out", "{out}"), "no artifact"),
        (("report", "{config}", "no-such-alias", "--out", "{out}"), "no artifact or alias 'no-such-alias'"),
        (("report", "{config}", "latest", "--against", "staging", "--out", "{out}"), "'staging'"),
        (("report", "{config}", "latest", "--out", "{file}/r.html"), "pass a writable --out path"),
        (("report", "{missing}", "latest", "--out", "{out}"), "missing.yaml"),
        (("eval", "{config}", "--html", "{file}/r.html"), "pass a writable --html path"),
    ],
)
def test_bad_input_is_exit_2_and_writes_nothing(
    write_config: ConfigWriter, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    config = write_config()
    _compile(config)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "out" / "r.html"
    where = {"config": config, "out": out, "file": tmp_path / "file", "missing": tmp_path / "missing.yaml"}
    result = invoke(*(a.format(**where) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert [p.name for p in tmp_path.rglob("*.tmp")] == []


def test_report_refuses_an_artifact_evaluated_on_another_test_split(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config()
    _compile(config)
    test = tmp_path / "data/test.jsonl"
    test.write_text("\n".join(test.read_text().splitlines()[:-1]) + "\n")
    result = invoke("report", config, "latest", "--out", tmp_path / "r.html")
    assert result.exit_code == 2
    assert "another test split" in result.output
    assert not (tmp_path / "r.html").exists()


def test_markdown_shows_each_slice_change_with_an_arrow_and_a_bar(write_config: ConfigWriter) -> None:
    from promptc.commands.lifecycle import evaluate_config
    from promptc.config.load import load_config

    config = write_config()
    _compile(config)
    text = markdown(evaluate_config(load_config(config)))
    header = next(line for line in text.splitlines() if line.startswith("| slice"))
    assert "trend" in header
    rows = [line for line in text.splitlines() if line.startswith("| ") and "slice" not in line]
    assert len(rows) == 5
    for row in rows:
        assert re.search(r"[▲▼=]", row)


# --- a real browser ---------------------------------------------------------------------------

APT = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-dejavu-core"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        # As `make browser` does; CI runs `make test`, which installs it before the tests.
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, check=False)
        subprocess.run(APT, capture_output=True, env=env, check=False)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed and could not be installed here; `make browser` installs it")
    return found


@dataclass(frozen=True)
class Visit:
    """What headless Chromium saw: the DOM after scripts ran, and the URLs the page itself requested."""

    dom: str
    requests: list[str]


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for. The browser's own background requests have no origin; a file://
    page's requests carry the opaque origin 'null'."""
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log cut short at exit lacks its closing brackets
        log = json.loads(text.rstrip(",") + "]}")
    urls = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        url, initiator = params.get("url"), str(params.get("initiator"))
        from_page = initiator == "null" or initiator.startswith("file:")
        if url and from_page and url not in urls and not url.startswith(("file:", "data:", "about:")):
            urls.append(url)
    return urls


BROWSER_FLAGS = [
    "--headless",
    "--disable-gpu",
    "--no-sandbox",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    # Nothing resolves: a request that leaves the page fails fast, and is still in the net log.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


@pytest.fixture
def browse(tmp_path: Path) -> Callable[..., Visit]:
    chromium = _chromium()

    def visit(page: Path, screenshot: Path | None = None, height: int = 2400) -> Visit:
        netlog = tmp_path / f"{page.stem}.netlog"
        profile = tmp_path / f"{page.stem}-profile"
        size = f"--window-size=1280,{height}"
        action = [f"--screenshot={screenshot}", size] if screenshot else ["--dump-dom", size]
        logs = [f"--user-data-dir={profile}", f"--log-net-log={netlog}"]
        done = subprocess.run(
            [chromium, *BROWSER_FLAGS, *logs, *action, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=300,  # a hang guard, not a timing assertion
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return Visit(done.stdout, _page_requests(netlog))

    return visit


def test_the_report_renders_offline_in_chromium(
    write_config: ConfigWriter, tmp_path: Path, browse: Callable[..., Visit]
) -> None:
    from PIL import Image

    config = write_config(_hostile)
    _compile(config)
    page = tmp_path / "report.html"
    _report(config, page)
    seen = browse(page)
    for chart in CHARTS:
        figure = re.search(rf'<figure class="chart" id="{chart}">(.*?)</figure>', seen.dom, re.S)
        assert figure, f"{chart} missing from the rendered page"
        assert "<svg" in figure.group(1) and "<path" in figure.group(1), chart
    assert re.search(r'<span id="flip-count">\d+ of \d+ shown</span>', seen.dom)  # the filter script ran
    assert seen.dom.count("<script") == 1 and "&lt;script&gt;alert(" in seen.dom
    assert seen.requests == []
    assert external_refs(seen.dom) == []

    shot = tmp_path / "report.png"
    assert browse(page, shot).requests == []
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # charts and text, not a blank page


# Appended to a copy of the page: where each chart's SVG was laid out, in page pixels.
MEASURE = """<script>
document.body.dataset.charts = JSON.stringify(Array.prototype.map.call(
  document.querySelectorAll('figure.chart > svg'), function (svg) {
    var r = svg.getBoundingClientRect();
    return {id: svg.parentNode.id, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
  }));
</script>"""


def test_per_output_bars_render_in_chromium(
    write_config: ConfigWriter, tmp_path: Path, browse: Callable[..., Visit]
) -> None:
    from PIL import Image

    config = write_config(lambda c: composite(c, tmp_path))
    _compile(config)
    page = tmp_path / "fields.html"
    page.write_text(_report(config, page).replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    seen = browse(page, height=4000)
    assert seen.requests == []
    found = re.search(r'<body data-charts="([^"]*)"', seen.dom)
    assert found, "the measuring script did not run"
    boxes = {box["id"]: box for box in json.loads(html.unescape(found.group(1)))}
    for chart in FIELD_CHARTS:
        assert boxes[chart]["w"] > 300 and boxes[chart]["h"] > 100, boxes
    bars = boxes["field-chart"]
    assert bars["y"] + bars["h"] < 4000, "the bars fall below the screenshot"
    shot = tmp_path / "fields.png"
    browse(page, shot, height=4000)
    with Image.open(shot) as image:
        crop = image.convert("RGB").crop(
            (int(bars["x"]), int(bars["y"]), int(bars["x"] + bars["w"]), int(bars["y"] + bars["h"]))
        )
        colours = {colour for _, colour in crop.getcolors(maxcolors=1 << 20) or []}
    # drawn, not blank: the candidate's green bars, the baseline's grey ones, and text
    assert (0x2E, 0x7D, 0x32) in colours and (0x9E, 0x9E, 0x9E) in colours and len(colours) > 20


def test_an_external_script_is_caught(
    write_config: ConfigWriter, tmp_path: Path, browse: Callable[..., Visit]
) -> None:
    config = write_config()
    _compile(config)
    page = tmp_path / "report.html"
    text = _report(config, page)
    cdn = '<script src="https://cdn.example.com/plotly.min.js"></script>'
    # As shipped, the page's Content-Security-Policy blocks the script: the DOM still names it.
    page.write_text(text.replace("</head>", cdn + "</head>"), encoding="utf-8")
    seen = browse(page)
    assert external_refs(seen.dom) == ["https://cdn.example.com/plotly.min.js"]
    # Without the policy the browser asks the network for it, and the net log shows it.
    page.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text).replace(
            "</head>", cdn + "</head>"
        ),
        encoding="utf-8",
    )
    assert browse(page).requests == ["https://cdn.example.com/plotly.min.js"]


def test_search_history_tells_minibatch_from_full_scores_and_marks_the_chosen_trial() -> None:
    from promptc.prompting.program import Candidate
    from promptc.reports.charts import TrialPoint, history_svg
    from promptc.reports.html import chosen_trial

    trials = [
        {
            "name": "configured",
            "val_score": 0.5,
            "full": True,
            "calls": 10,
            "describe": "0 demos",
            "demo_ids": [],
        },
        {"name": "mini", "val_score": 0.7, "full": False, "calls": 4, "describe": "0 demos", "demo_ids": []},
        {
            "name": "$x$ <b>",
            "val_score": 0.6,
            "full": True,
            "calls": 10,
            "describe": "0 demos",
            "demo_ids": [],
        },
    ]
    assert chosen_trial(trials, Candidate("Route the ticket.")) == 0  # a minibatch score never wins
    points = [TrialPoint(t["name"], t["val_score"], t["full"], t["calls"]) for t in trials]
    svg = history_svg(points, 0)
    assert "minibatch" in svg and "chosen" in svg and "model calls (cumulative)" in svg


def test_markdown_trend_scales_bars_to_the_largest_change() -> None:
    from promptc.reports.ci import BAR_WIDTH, trend

    assert trend(None, 0.2) == ""
    assert trend(0.0, 0.2) == "= 0"
    assert trend(0.2, 0.2) == "▲ " + "█" * BAR_WIDTH
    assert trend(-0.05, 0.2) == "▼ " + "█" * 2


def test_the_chosen_trial_is_found_by_its_candidate_digest_among_look_alikes() -> None:
    from promptc.optimizers.base import Trial
    from promptc.prompting.program import Candidate
    from promptc.reports.html import chosen_trial

    raw = Candidate("Route the ticket.", decision="logprob")
    content_free = Candidate("Route the ticket.", decision="logprob", calibration={"billing": -0.5})
    fitted = Candidate("Route the ticket.", decision="logprob", calibration={"billing": 0.25})
    trials = [
        Trial(name, c, 0.5, 10, 20, True).to_dict()
        for name, c in [("raw", raw), ("cf", content_free), ("fit", fitted)]
    ]
    assert content_free.describe() == fitted.describe()  # what older artifacts matched on
    assert chosen_trial(trials, fitted) == 2
    assert chosen_trial(trials, Candidate("Another instruction.")) is None


def test_the_lineage_prices_the_compile_tokens_for_hosted_models(write_config: ConfigWriter) -> None:
    from promptc.artifacts.store import Store
    from promptc.config.load import load_config
    from promptc.reports.html import _cost

    config = write_config()
    result = invoke("compile", config)
    assert result.exit_code in (0, 1), result.output
    cfg = load_config(config)
    lineage = Store(cfg.artifacts_dir).find(cfg.program.name, artifact_id(result.output)).content["lineage"]
    assert lineage["prompt_tokens"] + lineage["completion_tokens"] == lineage["tokens"] > 0
    assert _cost("fake/learner", lineage) == "$0 (in-process model)"
    split = {"prompt_tokens": 1_000_000, "completion_tokens": 0}
    priced = _cost("openai/gpt-4o-mini", split)
    assert priced.startswith("$") and "list price" in priced and "1,000,000 prompt" in priced
    assert _cost("openai/promptc-test", split).startswith("unknown")
    assert _cost("openai/gpt-4o-mini", {"tokens": 10}).startswith("not recorded")


@pytest.mark.parametrize("option", ["--json", "--junit", "--markdown", "--html"])
def test_an_unwritable_report_path_is_refused_before_any_model_call(
    write_config: ConfigWriter, tmp_path: Path, option: str
) -> None:
    config = write_config()
    _compile(config)
    (tmp_path / "file").write_text("x")
    for bad, problem in ((tmp_path / "file" / "r.out", "is a file, not a folder"), (tmp_path, "is a folder")):
        result = invoke("eval", str(config), "--artifact", "latest", option, str(bad))
        assert result.exit_code == 2, result.output
        assert (
            problem in " ".join(result.output.split()) and f"pass a writable {option} path" in result.output
        )
        assert "model calls" not in result.output and "gates" not in result.output  # refused before eval


# Slice names, ids, labels and replies are data: in JUnit they must leave well-formed XML 1.0 (a
# CI server rejects the whole file over one control character), in Markdown they must stay
# inside their table cell and render as text.
HOSTILE_SLICE = "chat|x\x1b[31m\x00\nweb <img src=x> *b* `c` [l](u)"


def _hostile_eval(write_config: ConfigWriter, tmp_path: Path, *options: str) -> Any:
    config = write_config(lambda c: c["gates"].update(overall={"min": 0.99}))  # a failing gate: messages too
    for split in ("train", "val", "test"):
        path = tmp_path / f"data/{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row["channel"] = HOSTILE_SLICE if row["channel"] == "chat" else row["channel"]
        write_jsonl(path, rows)
    _compile_any(config)
    return invoke("eval", config, *options)


def _compile_any(config: Path) -> None:
    result = invoke("compile", config)
    assert result.exit_code in (0, 1), result.output


def test_junit_escapes_characters_xml_forbids(write_config: ConfigWriter, tmp_path: Path) -> None:
    from xml.etree import ElementTree as ET

    junit = tmp_path / "gates.xml"
    result = _hostile_eval(write_config, tmp_path, "--junit", junit)
    assert result.exit_code == 1, result.output
    suite = ET.parse(junit).getroot().find("testsuite")  # raised "not well-formed" before
    assert suite is not None
    names = {case.get("classname") for case in suite.iter("testcase")}
    assert "triage.chat|x\\x1b[31m\\x00\nweb <img src=x> *b* `c` [l](u)" in names
    assert "\x1b" not in junit.read_text(encoding="utf-8")


def test_markdown_keeps_hostile_text_inside_its_cell(write_config: ConfigWriter, tmp_path: Path) -> None:
    md = tmp_path / "summary.md"
    result = _hostile_eval(write_config, tmp_path, "--markdown", md)
    assert result.exit_code == 1, result.output
    text = md.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| slice"))
    table = lines[header : lines.index("", header)]
    assert len(table) == 2 + 5  # header, rule, overall and four slices: no row was split
    assert {line.count("|") for line in table} == {9}  # eight cells each: no cell was split
    row = next(line for line in table if "chat" in line)
    cell = row.split("|")[1].strip()
    assert cell == "chat&#124;x\\\\x1b\\[31m\\\\x00<br>web &lt;img src=x&gt; \\*b\\* \\`c\\` \\[l\\](u)"
    assert "\x1b" not in text and "\x00" not in text and "<img" not in text
