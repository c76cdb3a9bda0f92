"""promptc plan: its exact power against a direct simulation of the gates' paired test, the sizes
it reports, check's warning, and the command's exit codes and messages."""

from __future__ import annotations

import random
from typing import Any

import pytest

from promptc.evaluation.stats import paired_interval
from promptc.release.power import Rule, Thresholds, chance_of_passing, smallest_gain, smallest_n
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke

# (rule, n, true gain, discordance): a significance test at the gates' level, selection's
# Bonferroni level on a confirmation half, and a max_drop rule that a truly-equal candidate passes.
SETTINGS = [
    (Rule(0.0, True, 0.95), 120, 0.10, 0.20),
    (Rule(0.0, True, 1 - 0.1 / 3), 60, 0.15, 0.25),
    (Rule(-0.05, False, 0.95), 200, 0.0, 0.15),
]


def _simulated(rule: Rule, n: int, gain: float, discordance: float, draws: int, seed: int) -> float:
    """How often 0/1 score lists drawn with this gain and discordance pass, through stats.paired_interval."""
    rng = random.Random(seed)
    p_win, p_loss = (discordance + gain) / 2, (discordance - gain) / 2
    verdicts: dict[tuple[int, int], bool] = {}
    passed = 0
    for _ in range(draws):
        cand, ref = [], []
        for _ in range(n):
            u = rng.random()
            pair = (1.0, 0.0) if u < p_win else (0.0, 1.0) if u < p_win + p_loss else (1.0, 1.0)
            cand.append(pair[0])
            ref.append(pair[1])
        wins = sum(c > r for c, r in zip(cand, ref, strict=True))
        losses = sum(c < r for c, r in zip(cand, ref, strict=True))
        if (wins, losses) not in verdicts:
            low = paired_interval(cand, ref, rule.confidence)[0]
            verdicts[wins, losses] = low > rule.threshold if rule.strict else low >= rule.threshold
        passed += verdicts[wins, losses]
    return passed / draws


@pytest.mark.parametrize(("rule", "n", "gain", "discordance"), SETTINGS)
def test_exact_power_matches_a_direct_simulation(rule: Rule, n: int, gain: float, discordance: float) -> None:
    exact = chance_of_passing(Thresholds(rule, n), gain, discordance)
    draws = 3000
    simulated = _simulated(rule, n, gain, discordance, draws, seed=n)
    se = max((exact * (1 - exact) / draws) ** 0.5, 1 / draws)
    assert abs(simulated - exact) < 4 * se, (exact, simulated)


def test_the_planned_size_reaches_the_power_and_the_smallest_gain_is_the_edge() -> None:
    rule = Rule(0.0, True, 0.95)
    n = smallest_n(rule, 0.10, 0.20, 0.8)
    assert n is not None
    assert chance_of_passing(Thresholds(rule, n), 0.10, 0.20) >= 0.8
    assert chance_of_passing(Thresholds(rule, int(n * 0.9)), 0.10, 0.20) < 0.8
    gain = smallest_gain(rule, n, lambda g: max(0.20, g), 0.8)
    assert gain is not None and 0.09 <= gain <= 0.101
    assert smallest_n(Rule(0.1, True, 0.95), 0.05, 0.2, 0.8) is None  # no size confirms a gain below min_gain


def _stored(c: dict[str, Any]) -> None:
    c["gates"] = {"mode": "confidence", "overall": {"min_gain": 0.0}, "default": {"max_drop": 0.1}}


def test_plan_prints_sizes_from_stored_records_after_a_compile(write_config: ConfigWriter) -> None:
    config = write_config(_stored)
    before = invoke("plan", config, "--gain", "0.1")
    assert before.exit_code == 0, before.output
    said = " ".join(before.output.split())
    assert "examples needed to confirm a gain of 0.1 with 80% power" in said
    assert "assumed: accuracy 0.7, independent errors" in said
    assert invoke("compile", config).exit_code == 0
    after = " ".join(invoke("plan", config, "--gain", "0.1").output.split())
    assert "stored: baseline vs candidate records of artifact" in after


@pytest.mark.parametrize("option", ["--gain", "--power"])
@pytest.mark.parametrize("value", ["0", "1", "-0.2", "1.5"])
def test_plan_refuses_a_goal_outside_0_and_1(write_config: ConfigWriter, option: str, value: str) -> None:
    result = invoke("plan", write_config(), option, value)
    assert result.exit_code == 2
    assert f"{option} {float(value)}: not a fraction strictly between 0 and 1" in result.output


def test_plan_refuses_a_missing_config(tmp_path: Any) -> None:
    result = invoke("plan", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2


def test_check_warns_in_one_line_when_val_is_too_small(write_config: ConfigWriter) -> None:
    result = invoke("check", write_config(_stored))
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "too small to confirm" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: val (24 examples)")


def test_plan_reads_the_alias_gates_reference_names(write_config: ConfigWriter) -> None:
    def production(c: dict[str, Any]) -> None:
        c["gates"] = {"reference": "production", "mode": "confidence", "default": {"max_drop": 0.2}}

    config = write_config(production)
    first = invoke("compile", config)
    assert first.exit_code == 0, first.output
    said = " ".join(invoke("plan", config).output.split())
    assert "stored: baseline (no other artifact behind 'production') vs candidate records of artifact" in said
    promoted = invoke("promote", config, "--artifact", artifact_id(first.output))
    assert promoted.exit_code == 0, promoted.output

    def fewer_demos(c: dict[str, Any]) -> None:
        production(c)
        c["optimizer"]["settings"]["k"] = 4

    config = write_config(fewer_demos)
    second = invoke("compile", config)
    assert second.exit_code == 0, second.output
    assert artifact_id(second.output) != artifact_id(first.output)
    said = " ".join(invoke("plan", config).output.split())
    first_id, second_id = artifact_id(first.output), artifact_id(second.output)
    assert f"stored: production ({first_id}) vs candidate records of artifact {second_id}" in said
