"""How often confidence-mode gates promote a candidate they should not, and block one they should not.

A simulated classifier with a known true accuracy answers each example of one gated slice
correctly or not. The reference's and the candidate's answers are correlated as two prompts
on one model are: each example has a difficulty u ~ U(0, 1); the reference is right when
u < its accuracy; the candidate reuses u with probability rho (else draws its own) and is
right when that is below its accuracy. For equal accuracies rho is the correlation of the
two right/wrong indicators. For each cell, many seeded holdout draws go through promptc's
own `check_gates` (the code `promptc eval` and `promote` use) and the verdicts are counted.
Each cell also gives the exact rate: with 0/1 scores a verdict depends only on the counts
(right answers for a floor; wins and losses for a change), so `check_gates` is run once per
possible count and weighted by its binomial / multinomial probability.

Scenarios (reference accuracy 0.70 throughout, 95% confidence):
- min_gain 0, candidate truly equal: a promotion is a false promotion.
- min 0.70, candidate truly 0.70: a pass is a false promotion (the floor is not exceeded).
- max_drop 0.05, candidate truly 0.60 (a drop of twice the margin): a pass is a false promotion.
- max_drop 0.05, candidate truly 0.65 (a drop of exactly the margin, the hardest case).
- min_gain 0, candidate truly 0.80 (+0.10): a block is a missed gain (1 - power).

Small slices with 3-valued scores (0, 0.5, 1: label_accuracy over a two-output program), n = 1..30:
the reference scores 1 when u < 0.4, 0.5 when u < 0.7, else 0 (mean 0.55); a truly equal
candidate reuses u with probability rho, else draws its own. A pass of `min_gain: 0` is a false
promotion. The exact rate enumerates the summed gains and losses in half points (the paired
interval reads only those and n) and weighs each by its probability.

Run: .venv/bin/python bench/gate_simulation.py [--draws 2000] [--three-valued-only]
"""

from __future__ import annotations

import argparse
import math
import random
import time
import zlib
from dataclasses import dataclass
from functools import cache

from promptc.config.load import GateRule, Gates
from promptc.release.gates import check_gates
from promptc.results import ScoreSet

RHOS = (0.6, 0.8, 0.9, 0.97, 0.99)
SIZES = (1, 2, 5, 10, 20, 50, 200)
REFERENCE = 0.70
SLICE = "chat"


@dataclass(frozen=True)
class Scenario:
    title: str
    candidate: float  # true accuracy
    rule: GateRule
    promote_is_wrong: bool  # True: a pass is the error counted; False: a block is
    paired: bool = True  # False: the rule reads only the candidate, so rho does not matter


SCENARIOS = (
    Scenario("false promotion: truly equal candidate, `min_gain: 0`", 0.70, GateRule(min_gain=0.0), True),
    Scenario(
        "false promotion: floor at the true accuracy, `min: 0.70`", 0.70, GateRule(min=0.70), True, False
    ),
    Scenario("false promotion: candidate truly -0.10, `max_drop: 0.05`", 0.60, GateRule(max_drop=0.05), True),
    Scenario(
        "false promotion: candidate truly -0.05 (at the margin), `max_drop: 0.05`",
        0.65,
        GateRule(max_drop=0.05),
        True,
    ),
    Scenario(
        "missed gain: candidate truly +0.10, `min_gain: 0` (1 - power)", 0.80, GateRule(min_gain=0.0), False
    ),
)


def draw(cand_acc: float, n: int, rho: float, rng: random.Random) -> tuple[ScoreSet, ScoreSet]:
    """One holdout draw of n paired examples in one slice: (candidate, reference) scores."""
    cand, ref, slices = {}, {}, {}
    for i in range(n):
        u = rng.random()
        v = u if rng.random() < rho else rng.random()
        key = f"{SLICE}-{i}"
        ref[key] = 1.0 if u < REFERENCE else 0.0
        cand[key] = 1.0 if v < cand_acc else 0.0
        slices[key] = SLICE
    return ScoreSet(cand, slices), ScoreSet(ref, slices)


def error_rate(scenario: Scenario, mode: str, rho: float, n: int, draws: int) -> float:
    """Fraction of seeded draws that end in the scenario's error."""
    gates = Gates(slices={SLICE: scenario.rule}, mode=mode, confidence=0.95)
    rng = random.Random(zlib.crc32(f"{scenario.title}|{mode}|{rho}|{n}".encode()))
    errors = 0
    for _ in range(draws):
        cand, ref = draw(scenario.candidate, n, rho, rng)
        passed = check_gates(gates, cand, ref).passed
        errors += passed if scenario.promote_is_wrong else not passed
    return errors / draws


@cache
def passes(rule: GateRule, mode: str, n: int, wins: int, losses: int, right: int) -> bool:
    """The verdict on one slice with these counts: wins and losses versus the reference, `right` ties."""
    ties = n - wins - losses
    cand = [1.0] * wins + [0.0] * losses + [1.0] * right + [0.0] * (ties - right)
    ref = [0.0] * wins + [1.0] * losses + [1.0] * right + [0.0] * (ties - right)
    ids = [f"{SLICE}-{i}" for i in range(n)]
    slices: dict[str, str | None] = dict.fromkeys(ids, SLICE)
    gates = Gates(slices={SLICE: rule}, mode=mode, confidence=0.95)
    report = check_gates(
        gates,
        ScoreSet(dict(zip(ids, cand, strict=True)), slices),
        ScoreSet(dict(zip(ids, ref, strict=True)), slices),
    )
    return report.passed


def log_pmf(counts: tuple[int, ...], probs: tuple[float, ...]) -> float:
    """Log multinomial probability of the counts (a zero-probability outcome gives -inf)."""
    out = math.lgamma(sum(counts) + 1)
    for k, p in zip(counts, probs, strict=True):
        if k:
            if p <= 0:
                return -math.inf
            out += k * math.log(p) - math.lgamma(k + 1)
    return out


def exact_rate(scenario: Scenario, mode: str, rho: float, n: int) -> float:
    """The scenario's error rate, summed over every possible count instead of sampled."""
    total = 0.0
    if not scenario.paired:  # a floor reads only how many the candidate gets right
        p = scenario.candidate
        for right in range(n + 1):
            verdict = passes(scenario.rule, mode, n, right, 0, 0)  # n right "wins" over an all-wrong ref
            prob = math.exp(log_pmf((right, n - right), (p, 1 - p)))
            total += prob * (verdict if scenario.promote_is_wrong else not verdict)
        return total
    both = rho * min(REFERENCE, scenario.candidate) + (1 - rho) * REFERENCE * scenario.candidate
    p_win, p_loss = scenario.candidate - both, REFERENCE - both
    for wins in range(n + 1):
        for losses in range(n + 1 - wins):
            prob = math.exp(log_pmf((wins, losses, n - wins - losses), (p_win, p_loss, 1 - p_win - p_loss)))
            if prob < 1e-13:  # at most ~2e-9 in all for n = 200
                continue
            verdict = passes(scenario.rule, mode, n, wins, losses, 0)
            total += prob * (verdict if scenario.promote_is_wrong else not verdict)
    return total


THREE_SIZES = tuple(range(1, 31))
THREE_RHOS = (0.0, 0.6, 0.9, 0.99)
THREE_CUTS = (0.4, 0.7)  # score 1 below the first, 0.5 below the second, else 0
THREE_RULE = GateRule(min_gain=0.0)


def three_valued(u: float) -> float:
    return 1.0 if u < THREE_CUTS[0] else 0.5 if u < THREE_CUTS[1] else 0.0


def three_valued_rate(rho: float, n: int, draws: int) -> float:
    """Fraction of seeded draws of n truly equal 3-valued pairs that pass `min_gain: 0`."""
    gates = Gates(slices={SLICE: THREE_RULE}, mode="confidence", confidence=0.95)
    rng = random.Random(zlib.crc32(f"three-valued|{rho}|{n}".encode()))
    passed = 0
    for _ in range(draws):
        cand, ref, slices = {}, {}, {}
        for i in range(n):
            u = rng.random()
            v = u if rng.random() < rho else rng.random()
            key = f"{SLICE}-{i}"
            ref[key], cand[key], slices[key] = three_valued(u), three_valued(v), SLICE
        passed += check_gates(gates, ScoreSet(cand, slices), ScoreSet(ref, slices)).passed
    return passed / draws


@cache
def passes_halves(n: int, gains: int, losses: int) -> bool:
    """The `min_gain: 0` verdict on n pairs whose gains and losses sum to these many half points."""
    cand = [1.0] * (gains // 2) + [0.5] * (gains % 2) + [0.0] * (losses // 2 + losses % 2)
    ref = [0.0] * (gains // 2 + gains % 2) + [1.0] * (losses // 2) + [0.5] * (losses % 2)
    cand += [0.5] * (n - len(cand))  # ties, so the scores stay 3-valued
    ref += [0.5] * (n - len(ref))
    ids = [f"{SLICE}-{i}" for i in range(n)]
    slices: dict[str, str | None] = dict.fromkeys(ids, SLICE)
    gates = Gates(slices={SLICE: THREE_RULE}, mode="confidence", confidence=0.95)
    cs, rs = (
        ScoreSet(dict(zip(ids, cand, strict=True)), slices),
        ScoreSet(dict(zip(ids, ref, strict=True)), slices),
    )
    return check_gates(gates, cs, rs).passed


def three_valued_exact(rho: float, n: int) -> float:
    """The exact false-promotion rate: every sum of gains and losses, in half points, by its probability."""
    edges = (0.0, *THREE_CUTS, 1.0)
    levels = (1.0, 0.5, 0.0)
    step: dict[int, float] = {}  # the pair's difference in half points -> probability
    for i in range(3):
        for j in range(3):
            overlap = max(0.0, min(edges[i + 1], edges[j + 1]) - max(edges[i], edges[j]))
            p = rho * overlap + (1 - rho) * (edges[i + 1] - edges[i]) * (edges[j + 1] - edges[j])
            d = round(2 * (levels[i] - levels[j]))
            step[d] = step.get(d, 0.0) + p
    states = {(0, 0): 1.0}
    for _ in range(n):
        grown: dict[tuple[int, int], float] = {}
        for (g, lo), p in states.items():
            for d, q in step.items():
                key = (g + max(d, 0), lo + max(-d, 0))
                grown[key] = grown.get(key, 0.0) + p * q
        states = grown
    return sum(p for (g, lo), p in states.items() if p > 1e-15 and fits(n, g, lo) and passes_halves(n, g, lo))


def fits(n: int, gains: int, losses: int) -> bool:
    """Whether n pairs can hold these half points with at most one half-point pair on each side."""
    return gains // 2 + gains % 2 + losses // 2 + losses % 2 <= n


def three_valued_table(draws: int) -> list[str]:
    """Print the 3-valued null table; return the cells over the bound."""
    bound = (1 - 0.95) / 2
    print("#### false promotion, 3-valued scores (0, 0.5, 1): truly equal candidate, `min_gain: 0`\n")
    over: list[str] = []
    for start in (0, 15):
        sizes = THREE_SIZES[start : start + 15]
        print("| error correlation | " + " | ".join(f"n={n}" for n in sizes) + " |")
        print("|---|" + "---:|" * len(sizes))
        for rho in THREE_RHOS:
            rates = [three_valued_rate(rho, n, draws) for n in sizes]
            exact = [three_valued_exact(rho, n) for n in sizes]
            print(
                f"| {rho} | "
                + " | ".join(f"{p:.4f} ({e:.4f})" for p, e in zip(rates, exact, strict=True))
                + " |"
            )
            over += [
                f"3-valued, rho {rho}, n={n}: {p:.4f} (exact {e:.4f})"
                for n, p, e in zip(sizes, rates, exact, strict=True)
                if e > bound or p - 2 * math.sqrt(p * (1 - p) / draws) > bound
            ]
        print()
    worst = max(three_valued_exact(rho, n) for rho in THREE_RHOS for n in THREE_SIZES)
    print(f"largest exact rate over n = 1..30: {worst:.4f} (bound {bound:.3f})\n")
    return over


def cell(p: float, draws: int, exact: float) -> str:
    """A simulated rate with its Monte Carlo standard error, and the exact rate."""
    return f"{p:.4f} ± {math.sqrt(p * (1 - p) / draws):.4f} ({exact:.4f})"


LOOKS_START = "## Release gates over many looks at one test split (bench/gate_simulation.py --looks-only)"
LOOKS_END = "<!-- end looks simulation -->"


def first_false_passes(policy: str, n: int, rho: float, draws: int, most: int = 20) -> list[int]:
    """Per draw: the look (1..most) at which the first of `most` truly-equal candidates passes
    `min_gain: 0` in confidence mode at 95% on one test split, under the holdout_looks policy; 0: none."""
    from promptc.release.ledger import look_confidence
    from promptc.release.power import Rule, Thresholds

    gates = Gates(mode="confidence", confidence=0.95, holdout_looks=policy, max_looks=most)
    levels = [look_confidence(gates, k) for k in range(1, most + 1)]
    thresholds = [None if c is None else Thresholds(Rule(0.0, True, c), n) for c in levels]
    rng = random.Random(f"looks/{policy}/{n}/{rho}")
    out = []
    for _ in range(draws):
        difficulty = [rng.random() for _ in range(n)]
        ref = [u < REFERENCE for u in difficulty]
        first = 0
        for k, th in enumerate(thresholds, 1):
            cand = [(u if rng.random() < rho else rng.random()) < REFERENCE for u in difficulty]
            wins = sum(c and not r for c, r in zip(cand, ref, strict=True))
            losses = sum(r and not c for c, r in zip(cand, ref, strict=True))
            if th is not None and wins >= th.wins_needed(wins + losses):
                first = k
                break
        out.append(first)
    return out


def looks_table(draws: int, n: int = 200, rho: float = 0.9) -> str:
    """False promotion by the K-th look, K = 1..20, without and with the ledger's policies."""
    policies = ("none", "spending", "bonferroni")
    firsts = {p: first_false_passes(p, n, rho, draws) for p in policies}
    lines = [
        LOOKS_START,
        "",
        f"Command: `.venv/bin/python bench/gate_simulation.py --looks-only --draws {draws}` (2026-12-07, "
        f"2-core VM). One test split of n={n}; the reference is truly {REFERENCE} accurate; K candidates, "
        f"each truly equal to it (sharing its per-example difficulty with probability {rho}), are judged "
        "one after another against `min_gain: 0` in confidence mode at 95%, as a team evaluating "
        "candidate after candidate on the same holdout would. 'false promotion by K' = share of draws in "
        "which any of the first K passes; the bound is (1 - 0.95) / 2 = 0.025. Policies "
        "(`gates.holdout_looks`, promptc/release/ledger.py): none (every look at 95%), spending (look k at "
        "alpha * 6 / (pi^2 k^2)), bonferroni with max_looks 20 (each at alpha / 20). "
        f"{draws} draws; standard error near 0.025 about {math.sqrt(0.025 * 0.975 / draws):.4f}.",
        "",
        "| K | none | spending | bonferroni (20) |",
        "|---:|---:|---:|---:|",
    ]
    for k in (1, 2, 3, 5, 10, 15, 20):
        rates = [sum(1 for f in firsts[p] if 0 < f <= k) / draws for p in policies]
        lines.append(f"| {k} | " + " | ".join(f"{r:.4f}" for r in rates) + " |")
    lines += ["", LOOKS_END]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=2000, help="holdout draws per cell")
    parser.add_argument("--three-valued-only", action="store_true", help="only the 3-valued small-n table")
    parser.add_argument("--looks-only", action="store_true", help="only false promotion over K looks")
    args = parser.parse_args()
    if args.looks_only:
        print(looks_table(args.draws))
        return
    bound = (1 - 0.95) / 2
    print(
        f"draws per cell: {args.draws}; one gated slice of n examples; reference accuracy {REFERENCE}; "
        f"confidence 0.95, one-sided bound {bound:.3f}\n"
        "cells: simulated rate ± 1 Monte Carlo standard error (exact rate)\n"
    )
    start = time.perf_counter()
    over: list[str] = three_valued_table(args.draws)
    for scenario in () if args.three_valued_only else SCENARIOS:
        print(f"#### {scenario.title}\n")
        print("| error correlation | " + " | ".join(f"n={n}" for n in SIZES) + " |")
        print("|---|" + "---:|" * len(SIZES))
        rows = [("confidence", rho) for rho in (RHOS if scenario.paired else (None,))]
        rows.append(("point", 0.97 if scenario.paired else None))
        for mode, rho in rows:
            rates = [error_rate(scenario, mode, rho or 0.0, n, args.draws) for n in SIZES]
            exact = [exact_rate(scenario, mode, rho or 0.0, n) for n in SIZES]
            label = "any (a floor reads only the candidate)" if rho is None else str(rho)
            if mode == "point":
                label += ", point mode"
            cells = [cell(p, args.draws, e) for p, e in zip(rates, exact, strict=True)]
            print(f"| {label} | " + " | ".join(cells) + " |")
            if mode == "confidence" and scenario.promote_is_wrong:
                over += [
                    f"{scenario.title}, rho {rho}, n={n}: {p:.4f} (exact {e:.4f})"
                    for n, p, e in zip(SIZES, rates, exact, strict=True)
                    if e > bound or p - 2 * math.sqrt(p * (1 - p) / args.draws) > bound
                ]
        print()
    print(
        "false-promotion cells over the bound (exact rate, or simulated by more than 2 standard errors): "
        + ("; ".join(over) or "none")
    )
    print(f"\nwall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
