"""How often each gate mode promotes a candidate that is no better, and blocks one that is.

A simulated classifier with a known true accuracy answers each holdout example
correctly or not (per-example Bernoulli draws; the reference's and candidate's
errors are correlated through a shared per-example difficulty, as two prompts
on one model are). For many seeded holdout draws we run promptc's own
`check_gates` (the code `promptc eval` / `promote` use) and count verdicts.

Run: .venv/bin/python bench/gate_simulation.py [--draws 400]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass

from promptc.config import GateRule, Gates
from promptc.gates import ScoreSet, check_gates

SLICES = ("email", "chat", "phone", "social")


@dataclass(frozen=True)
class Scenario:
    name: str
    reference: dict[str, float]  # true accuracy per slice
    candidate: dict[str, float]
    gates: dict[str, GateRule | dict[str, GateRule] | None]
    promote_is_wrong: bool  # True: promoting is the error we count; False: blocking is


def draw(truth: dict[str, float], other: dict[str, float], n: int, rho: float, rng: random.Random):  # type: ignore[no-untyped-def]
    """Paired correctness for one holdout draw: (candidate ScoreSet, reference ScoreSet)."""
    cand, ref, slices = {}, {}, {}
    for name in SLICES:
        for i in range(n):
            u = rng.random()
            v = u if rng.random() < rho else rng.random()  # shared difficulty with probability rho
            key = f"{name}-{i}"
            ref[key] = 1.0 if u < other[name] else 0.0
            cand[key] = 1.0 if v < truth[name] else 0.0
            slices[key] = name
    return ScoreSet(cand, slices), ScoreSet(ref, slices)


def rate(k: int, n: int) -> str:
    p = k / n
    half = 1.96 * math.sqrt(p * (1 - p) / n) if 0 < p < 1 else 0.0
    return f"{p:.3f} ± {half:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--n", type=int, default=50, help="examples per slice (4 slices)")
    parser.add_argument("--rho", type=float, default=0.6, help="error correlation between the two prompts")
    args = parser.parse_args()
    flat = dict.fromkeys(SLICES, 0.70)
    better = dict.fromkeys(SLICES, 0.80)
    worse_chat = {**flat, "chat": 0.60}
    scenarios = [
        Scenario(
            "superiority (overall.min_gain 0): truly equal -> promoted",
            flat,
            flat,
            {"overall": GateRule(min_gain=0.0)},
            True,
        ),
        Scenario(
            "superiority (overall.min_gain 0): truly +0.10 -> blocked",
            flat,
            better,
            {"overall": GateRule(min_gain=0.0)},
            False,
        ),
        Scenario(
            "non-inferiority (slice max_drop 0.05): chat truly -0.10 -> promoted",
            flat,
            worse_chat,
            {"default": GateRule(max_drop=0.05)},
            True,
        ),
        Scenario(
            "non-inferiority (slice max_drop 0.05): truly equal -> blocked",
            flat,
            flat,
            {"default": GateRule(max_drop=0.05)},
            False,
        ),
        Scenario(
            "non-inferiority (slice max_drop 0.15): chat truly -0.20 -> promoted",
            flat,
            {**flat, "chat": 0.50},
            {"default": GateRule(max_drop=0.15)},
            True,
        ),
        Scenario(
            "non-inferiority (slice max_drop 0.15): truly equal -> blocked",
            flat,
            flat,
            {"default": GateRule(max_drop=0.15)},
            False,
        ),
    ]
    modes = [("point", 0.95), ("confidence", 0.90), ("confidence", 0.95)]
    print(
        f"draws per cell: {args.draws}; holdout: {len(SLICES)} slices x {args.n} examples; "
        f"true reference accuracy 0.70; error correlation {args.rho}; bootstrap resamples 1000\n"
    )
    header = (
        "| scenario (error counted) | "
        + " | ".join(f"{m} mode" + (f" {c:.0%}" if m == "confidence" else "") for m, c in modes)
        + " |"
    )
    print(header)
    print("|---|" + "---:|" * len(modes))
    start = time.perf_counter()
    for s_index, scenario in enumerate(scenarios):
        cells = []
        for mode, confidence in modes:
            gates = Gates(mode=mode, confidence=confidence, resamples=1000, **scenario.gates)  # type: ignore[arg-type]
            rng = random.Random(1000 * s_index + 7)
            errors = 0
            for _ in range(args.draws):
                cand, ref = draw(scenario.candidate, scenario.reference, args.n, args.rho, rng)
                passed = check_gates(gates, cand, ref).passed
                errors += passed if scenario.promote_is_wrong else not passed
            cells.append(rate(errors, args.draws))
        print(f"| {scenario.name} | " + " | ".join(cells) + " |")
    print(f"\nwall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
