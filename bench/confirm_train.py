"""auto with `confirm_train` on the suite's tasks beyond one label (SNIPS, ATIS, SQuAD).

The same seeded splits, config and call cache as bench/suite.py (its `prepare`, at the task's
default sizes); only auto's `confirm_train` setting differs. Prints one JSON line: holdout
score of zero-shot and of the compiled program, the paired 95% interval of the gain
(promptc.evaluation.stats.paired_interval), what was kept, search requests and wall time.

Run: .venv/bin/python bench/confirm_train.py TASK ROWS [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import suite  # bench/suite.py, beside this file


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("task", choices=["snips", "atis", "squad"])
    parser.add_argument("rows", type=int, help="auto's confirm_train")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from promptc.commands.lifecycle import compile_config
    from promptc.config.load import load_config
    from promptc.evaluation.stats import paired_interval

    sizes = suite.default_sizes(args.task)
    raw = yaml.safe_load(suite.prepare(args.task, sizes).read_text())
    raw["optimizer"] = {"name": "auto", "seed": args.seed, "settings": {"confirm_train": args.rows}}
    path = suite.WORK / args.task / f"auto-confirm{args.rows}-{args.seed}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    started = time.perf_counter()
    outcome = compile_config(load_config(path))
    base = {r.id: r.score for r in outcome.baseline.records}
    cand = {r.id: r.score for r in outcome.candidate.records}
    ids = sorted(base)
    low, high = paired_interval([cand[i] for i in ids], [base[i] for i in ids], 0.95)
    row = {
        "task": args.task,
        "sizes": list(sizes),
        "seed": args.seed,
        "confirm_train": args.rows,
        "zero_shot": outcome.baseline.overall.mean,
        "compiled": outcome.candidate.overall.mean,
        "gain_ci": [round(low, 3), round(high, 3)],
        "kept": outcome.artifact.typed.candidate.describe(),
        "search_requests": outcome.search_usage.requests,
        "wall_s": round(time.perf_counter() - started, 1),
        "notes": list(outcome.notes),
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
