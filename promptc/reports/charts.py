"""The HTML report's charts, drawn with matplotlib and returned as inline SVG text.

SVG keeps the report one small file that needs no JavaScript and no network: text stays text
(matplotlib escapes it for XML), and ids are salted so that the same data gives the same file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "ungated": "#757575"}
REFERENCE = "#1565c0"
THRESHOLD = "#ef6c00"
RC: Any = {"svg.fonttype": "none", "svg.hashsalt": "promptc", "font.size": 9, "text.usetex": False}

Interval = tuple[float, float, float]  # point, low, high


@dataclass(frozen=True)
class ForestRow:
    """One slice of the forest plot: scores, the change, the verdict and the thresholds to draw."""

    label: str
    verdict: str  # pass, fail or ungated
    candidate: Interval
    reference: Interval | None
    change: Interval | None
    floors: tuple[tuple[str, float], ...] = ()  # (rule, threshold) on the score axis
    change_limits: tuple[tuple[str, float], ...] = ()  # (rule, where the rule's line falls on the change)


@dataclass(frozen=True)
class TrialPoint:
    """One optimizer trial: its validation score (None: not scored), whether on the whole split, calls."""

    name: str
    score: float | None
    full: bool
    calls: int


@dataclass(frozen=True)
class Confusion:
    """Counts of (gold label, predicted label) for one evaluation."""

    title: str
    gold: tuple[str, ...]
    predicted: tuple[str, ...]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)


def plain(text: str) -> str:
    """Text matplotlib shows as it is: a dollar sign would start mathtext."""
    return text.replace("$", r"\$")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _figure(width: float, height: float) -> Figure:
    # A bare Figure, never pyplot: no global figure registry and no GUI backend is touched.
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def _errorbar(ax: Axes, point: Interval, y: float, colour: str, marker: str) -> None:
    mean, low, high = point
    ax.errorbar([mean], [y], xerr=[[mean - low], [high - mean]], fmt=marker, color=colour, capsize=3, ms=6)


def forest_svg(rows: Sequence[ForestRow], *, confidence: float, reference: str) -> str:
    """Per slice: reference and candidate scores with intervals, the change with its interval,
    the gates' thresholds as short orange lines, each slice coloured by its verdict."""
    with matplotlib.rc_context(RC):
        fig = _figure(10, 1.2 + 0.55 * len(rows))
        left, right = fig.subplots(1, 2, sharey=True)
        level = f"{confidence:.0%}"
        for i, row in enumerate(rows):
            colour = COLOURS.get(row.verdict, COLOURS["ungated"])
            if row.reference is not None:
                _errorbar(left, row.reference, i - 0.18, REFERENCE, "s")
            _errorbar(left, row.candidate, i + 0.18, colour, "o")
            if row.change is not None:
                _errorbar(right, row.change, i, colour, "o")
            for _, value in row.floors:
                left.plot([value, value], [i - 0.42, i + 0.42], color=THRESHOLD, lw=2)
            for _, value in row.change_limits:
                right.plot([value, value], [i - 0.42, i + 0.42], color=THRESHOLD, lw=2)
        right.axvline(0, color="#9e9e9e", lw=1, ls="--")
        left.set_yticks(range(len(rows)), [plain(f"{r.label} ({r.verdict})") for r in rows])
        for tick, row in zip(left.get_yticklabels(), rows, strict=True):
            tick.set_color(COLOURS.get(row.verdict, COLOURS["ungated"]))
        left.invert_yaxis()
        left.set_xlabel(f"score [{level} interval]: reference squares, candidate circles")
        right.set_xlabel(plain(f"change vs {reference} [{level} interval]"))
        left.set_title("scores", loc="left")
        right.set_title("change; orange lines: gate thresholds", loc="left")
        for ax in (left, right):
            ax.grid(axis="x", color="#eeeeee")
        return _svg(fig)


def history_svg(trials: Sequence[TrialPoint], chosen: int | None) -> str:
    """Validation score per trial in order (whole split filled, minibatch hollow), the chosen one
    starred, and the cumulative model calls on the second axis."""
    with matplotlib.rc_context(RC):
        fig = _figure(10, 3.6)
        ax = fig.subplots()
        xs = list(range(1, len(trials) + 1))
        full = [(x, t.score) for x, t in zip(xs, trials, strict=True) if t.score is not None and t.full]
        mini = [(x, t.score) for x, t in zip(xs, trials, strict=True) if t.score is not None and not t.full]
        if full:
            ax.plot(*zip(*full, strict=True), "o", color=REFERENCE, label="validation split")
        if mini:
            ax.plot(*zip(*mini, strict=True), "^", mfc="none", color="#6a1b9a", label="minibatch")
        best = None if chosen is None else trials[chosen].score
        if chosen is not None and best is not None:
            ax.plot([chosen + 1], [best], "*", ms=16, color=COLOURS["pass"], label="chosen")
        elif chosen is not None:
            ax.axvline(chosen + 1, color=COLOURS["pass"], lw=2, label="chosen (not scored)")
        ax.set_xlabel("trial")
        ax.set_ylabel("validation score")
        calls = ax.twinx()
        total = 0
        cumulative = []
        for t in trials:
            total += t.calls
            cumulative.append(total)
        calls.step(xs, cumulative, where="mid", color="#9e9e9e", label="model calls (cumulative)")
        calls.set_ylabel("model calls (cumulative)")
        handles, labels = ax.get_legend_handles_labels()
        more_handles, more_labels = calls.get_legend_handles_labels()
        ax.legend(handles + more_handles, labels + more_labels, loc="lower right", fontsize=8)
        ax.set_xticks(xs)
        ax.grid(axis="y", color="#eeeeee")
        return _svg(fig)


def confusion_svg(matrices: Sequence[Confusion]) -> str:
    """One heat map per evaluation: gold labels down, predicted labels across, counts written in."""
    with matplotlib.rc_context(RC):
        first = matrices[0]
        size = max(len(first.gold), len(first.predicted))
        fig = _figure(4.6 * len(matrices), 1.6 + 0.5 * size)
        axes = fig.subplots(1, len(matrices), squeeze=False)[0]
        for ax, m in zip(axes, matrices, strict=True):
            grid = [[m.counts.get((g, p), 0) for p in m.predicted] for g in m.gold]
            top = max((v for row in grid for v in row), default=0) or 1
            ax.imshow(grid, cmap="Blues", vmin=0, vmax=top)
            for r, row in enumerate(grid):
                for c, value in enumerate(row):
                    ax.text(
                        c,
                        r,
                        str(value),
                        ha="center",
                        va="center",
                        color="white" if value > top / 2 else "black",
                    )
            ax.set_xticks(range(len(m.predicted)), [plain(p) for p in m.predicted], rotation=30, ha="right")
            ax.set_yticks(range(len(m.gold)), [plain(g) for g in m.gold])
            ax.set_xlabel("predicted")
            ax.set_ylabel("gold")
            ax.set_title(plain(m.title), loc="left")
        return _svg(fig)


@dataclass(frozen=True)
class FieldBar:
    """One output scored apart: its mean and interval before (the baseline) and after (the candidate)."""

    label: str
    before: Interval | None
    after: Interval | None


def field_bars_svg(rows: Sequence[FieldBar], *, confidence: float, labels: tuple[str, str]) -> str:
    """Per output, a bar for each evaluation's mean score with its interval as a whisker."""
    with matplotlib.rc_context(RC):
        fig = _figure(10, 1.0 + 0.6 * len(rows))
        ax = fig.subplots()
        for offset, colour, which, label in (
            (-0.2, "#9e9e9e", 0, labels[0]),
            (0.2, COLOURS["pass"], 1, labels[1]),
        ):
            ys: list[float] = []
            means: list[float] = []
            whiskers: list[list[float]] = [[], []]
            for i, row in enumerate(rows):
                point = (row.before, row.after)[which]
                if point is not None:
                    ys.append(i + offset)
                    means.append(point[0])
                    whiskers[0].append(point[0] - point[1])
                    whiskers[1].append(point[2] - point[0])
            ax.barh(ys, means, height=0.38, color=colour, label=plain(label), xerr=whiskers, capsize=3)
        ax.set_yticks(range(len(rows)), [plain(r.label) for r in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"mean score per output [{confidence:.0%} interval]")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # outside: never over a bar
        ax.grid(axis="x", color="#eeeeee")
        return _svg(fig)


def histogram_svg(series: Sequence[tuple[str, Sequence[float]]], bins: int = 10) -> str:
    """How per-example scores spread over [0, 1], one outlined histogram per evaluation."""
    with matplotlib.rc_context(RC):
        fig = _figure(10, 3.0)
        ax = fig.subplots()
        edges = [i / bins for i in range(bins + 1)]
        for (label, scores), colour in zip(series, ("#9e9e9e", COLOURS["pass"], REFERENCE), strict=False):
            ax.hist(list(scores), bins=edges, histtype="step", lw=2, color=colour, label=plain(label))
        ax.set_xlim(0, 1)
        ax.set_xlabel("score per example")
        ax.set_ylabel("examples")
        ax.legend(loc="upper center", fontsize=8)
        ax.grid(axis="y", color="#eeeeee")
        return _svg(fig)
