"""How far a config's judge agrees with human scores on a labelled file (`promptc eval --judge-check`).

Each JSON Lines row gives the inputs, the outputs to judge, the gold outputs where there are any,
and a human's score on the judge's scale. The judge scores every row (through the call cache);
agreement is reported as the exact-agreement and within-one-step rates and the mean absolute
difference on the [0, 1] scale, each with the interval promptc.evaluation.stats gives for a mean of scores
in [0, 1], and Spearman's rank correlation as a point estimate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.config.load import Config
from promptc.config.paths import check_writable
from promptc.errors import ConfigError, DataError
from promptc.evaluation.stats import mean, mean_interval
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.metrics import JudgeSpec, parse_metric
from promptc.metrics.judge import JUDGE_KEY, Judge, judge_target
from promptc.usage import Usage

ROW_KEYS = ("id", "inputs", "outputs", "gold", "human")
ROW_SHAPE = '{"inputs": {...}, "outputs": {...}, "gold": {...} (optional), "human": 4}'


@dataclass(frozen=True)
class LabelledRow:
    """One human-scored reply: what the program got, what it answered, the gold answer, the score."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    gold: dict[str, Any] | None
    human: float


@dataclass(frozen=True)
class Rate:
    """A mean of per-row values in [0, 1] with its two-sided interval (evaluation.stats.mean_interval)."""

    value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class JudgeAgreement:
    """The judge's agreement with human scores over a labelled file."""

    judge: JudgeSpec
    n: int
    exact: Rate  # the judge's score equals the human's
    within_one: Rate  # they differ by at most one step of the scale
    mean_abs_diff: Rate  # |judge - human| with both scaled to [0, 1]
    spearman: float | None  # None with fewer than 3 rows or no spread in either
    unread: int  # judge replies that could not be read (scored at the scale's lowest)
    confidence: float
    usage: Usage


def _fail(path: Path, number: int, what: str) -> DataError:
    return DataError(f"{path}:{number}: {what}", fix=f"write each line as {ROW_SHAPE}")


def _row(data: Any, path: Path, number: int, scale: tuple[int, int]) -> LabelledRow:
    """One line's row, checked; errors name the line and the key."""
    if not isinstance(data, dict):
        raise _fail(path, number, "not a JSON object")
    unknown = sorted(map(str, set(data) - set(ROW_KEYS)))
    if unknown:
        raise _fail(path, number, f"unknown key {unknown[0]!r} (allowed: {', '.join(ROW_KEYS)})")
    for key in ("outputs", "human"):
        if key not in data:
            raise _fail(path, number, f"{key}: missing")
    for key in ("inputs", "outputs", "gold"):
        if key in data and not isinstance(data[key], dict):
            raise _fail(path, number, f"{key}: must be an object of field: value")
    if not data["outputs"]:
        raise _fail(path, number, "outputs: is empty (give the reply to judge)")
    human = data["human"]
    if isinstance(human, bool) or not isinstance(human, int | float) or not math.isfinite(human):
        raise _fail(path, number, f"human: {human!r} is not a number")
    if not scale[0] <= human <= scale[1]:
        raise _fail(path, number, f"human: {human} is outside the judge's scale {scale[0]}-{scale[1]}")
    return LabelledRow(
        str(data.get("id", number)), data.get("inputs") or {}, data["outputs"], data.get("gold"), human
    )


def read_labelled(path: Path, scale: tuple[int, int]) -> list[LabelledRow]:
    """The labelled file's rows (JSON Lines, blank lines skipped); DataError names a bad row."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})", fix="give a UTF-8 JSON Lines file") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise _fail(path, number, f"not valid JSON ({exc})") from None
        rows.append(_row(data, path, number, scale))
    if not rows:
        raise DataError(f"{path}: no rows", fix=f"write one human-scored reply a line, as {ROW_SHAPE}")
    return rows


def config_judge(config: Config) -> JudgeSpec:
    """The config's judge; refused when its metric is not one."""
    spec = parse_metric(config.metric)
    if not isinstance(spec, JudgeSpec):
        raise ConfigError(
            f"{config.path}: metric: --judge-check needs a judge metric, not {config.metric}",
            fix="set metric: {judge: {model, revision, rubric, scale}} in the config",
        )
    return spec


def _rate(values: list[float], confidence: float) -> Rate:
    low, high = mean_interval(values, confidence)
    return Rate(mean(values), low, high)


def _ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties given their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (Pearson's on average ranks); None below 3 pairs or without spread."""
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = mean(rx), mean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return None if vx == 0 or vy == 0 else cov / math.sqrt(vx * vy)


def check_judge(config: Config, path: Path) -> JudgeAgreement:
    """Score every labelled row with the config's judge and compare with the human scores."""
    spec = config_judge(config)
    low, high = spec.scale
    rows = read_labelled(path, spec.scale)
    check_writable(config, "cache")
    lm = LM(judge_target(spec), CallCache(config.cache_path))
    lm.check_revision(JUDGE_KEY)
    judge = Judge(spec, lm)
    replies = [judge.ask(r.inputs, r.gold, r.outputs) for r in rows]
    scores = [low if reply.score is None else reply.score for reply in replies]
    humans = [r.human for r in rows]
    confidence = config.gates.confidence
    pairs = list(zip(scores, humans, strict=True))
    return JudgeAgreement(
        judge=spec,
        n=len(rows),
        exact=_rate([float(j == h) for j, h in pairs], confidence),
        within_one=_rate([float(abs(j - h) <= 1) for j, h in pairs], confidence),
        mean_abs_diff=_rate([abs(j - h) / (high - low) for j, h in pairs], confidence),
        spearman=spearman([float(s) for s in scores], humans),
        unread=sum(reply.score is None for reply in replies),
        confidence=confidence,
        usage=lm.usage,
    )
