"""What the answer grammar costs and buys on the embedded model: time per call, parse failures, accuracy.

The same prompts (a config's program with k labeled demos drawn with its seed, on its test split)
go to the embedded model twice: a pass with `target.constrained` on, then a pass with it off.
No cache.

    .venv/bin/python bench/grammar_cost.py configs/support_triage.yaml --k 8
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from promptc.config.load import load_config
from promptc.data.load import load_splits
from promptc.evaluation.evaluate import predict, score_prediction
from promptc.lm.model import LM
from promptc.metrics import load_metric
from promptc.optimizers.demos import labeled_demo
from promptc.prompting.program import Candidate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", type=Path)
    parser.add_argument("--k", type=int, default=8, help="labeled demos in the prompt")
    parser.add_argument("--limit", type=int, help="test examples (default: all)")
    args = parser.parse_args()

    config = load_config(args.config)
    splits = load_splits(config.data, config.program.signature)
    metric = load_metric(config.metric, config.program.signature, config.path.parent)
    demos = tuple(
        labeled_demo(e) for e in random.Random(config.optimizer.seed).sample(list(splits.train), args.k)
    )
    candidate = Candidate(config.program.signature.instructions, demos)
    test = list(splits.test)[: args.limit]
    lms = {on: LM(replace(config.target, constrained=on)) for on in (True, False)}
    lms[True].check_revision()
    predict(config.program, candidate, lms[True], test[0].inputs)  # load the model (not counted)
    seconds: dict[bool, list[float]] = {True: [], False: []}
    scores: dict[bool, list[float]] = {True: [], False: []}
    failures = {True: 0, False: 0}
    # One pass per setting (not alternating per example: llama.cpp reuses the evaluated prompt of the
    # previous call, so a repeat of the same prompt would be nearly free). Consecutive prompts share
    # the system message and demos in both passes.
    for on in (True, False):
        for example in test:
            start = time.perf_counter()
            prediction = predict(config.program, candidate, lms[on], example.inputs)
            seconds[on].append(time.perf_counter() - start)
            scores[on].append(score_prediction(metric, example, prediction))
            failures[on] += prediction.outputs is None
    print(f"{args.config}: {len(test)} test examples, {args.k} labeled demos (seed {config.optimizer.seed})")
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {when}")
    print("| answer grammar | median s/call | mean s/call | parse failures | accuracy |")
    print("|---|---:|---:|---:|---:|")
    for on in (True, False):
        median, mean = statistics.median(seconds[on]), statistics.mean(seconds[on])
        print(
            f"| {'on' if on else 'off'} | {median:.3f} | {mean:.3f} "
            f"| {failures[on]} | {statistics.mean(scores[on]):.3f} |"
        )


if __name__ == "__main__":
    main()
