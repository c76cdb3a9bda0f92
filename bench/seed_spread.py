"""How much bootstrap_fewshot's holdout score depends on its one demo draw, for promptc and DSPy.

bootstrap_fewshot builds a single candidate from one seeded draw of training examples and
never compares it with anything, so a single run says little on a small model. This runs
the dspy_compare.py setup (same subsets, same settings, same embedded model, no cache) once
per seed: promptc with `optimizer.seed` = seed, DSPy with its train set shuffled by the seed
(BootstrapFewShot takes no seed and traces the train set in order).

    .venv-bench/bin/python bench/seed_spread.py --dataset cr --seeds 0-7 --tools promptc --update-results

Results go to bench/seed_spread.json; --update-results rewrites the "bootstrap_fewshot over
seeds" section of bench/RESULTS.md (between its markers).
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dspy_compare as dc
from results_md import replace_section

RESULTS_JSON = dc.ROOT / "bench" / "seed_spread.json"
START, END = "<!-- seed_spread:start -->", "<!-- seed_spread:end -->"
PAIR = "bootstrap_fewshot"


def seeds_of(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]."""
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out += range(int(low), int(high or low) + 1)
    return out


def answer(predicted: str) -> str:
    """ "{'label': 'positive'}" (how dspy_compare.py counts answers) -> "positive"; None stays "None"."""
    try:
        value = ast.literal_eval(predicted)
    except (ValueError, SyntaxError):
        return predicted
    return "/".join(map(str, value.values())) if isinstance(value, dict) else str(value)


def render(data: dict[str, Any]) -> str:
    """The Markdown section: one row per run, then mean and range per dataset and tool."""
    rows = data["runs"]
    lines = [
        START,
        "## bootstrap_fewshot over seeds",
        "",
        "The promptc vs DSPy table above runs bootstrap_fewshot once, with the config's seed (7).",
        "Its one demo draw decides the score on a 135M model, so here the same setup runs once",
        "per seed: promptc with that `optimizer.seed`, DSPy with its train set shuffled by it.",
        "",
        *(
            []
            if any(r["tool"] == "dspy" for r in rows)
            else [
                "DSPy was not run here (`--tools promptc,dspy` adds it; its CR runs are slow, see above).",
                "",
            ]
        ),
        f"Reproduce: `.venv-bench/bin/{data['command']}`",
        f"Machine: {data['machine']['cores']} cores, {data['machine']['cpu']}. Run: {data['started']} to "
        f"{data['finished']}.",
        "",
        "| dataset | tool | seed | holdout acc | compile calls | holdout calls | predicted |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "holdout" not in r:
            lines.append(f"| {r['dataset']} | {r['tool']} | {r['seed_run']} | {r.get('error', '?')} | | | |")
            continue
        predicted = ", ".join(
            f"{answer(k)} {v}" for k, v in sorted(r["predicted"].items(), key=lambda kv: -kv[1])
        )
        lines.append(
            f"| {r['dataset']} | {r['tool']} | {r['seed_run']} | {r['holdout']:.3f} | {r['compile_calls']} "
            f"| {r['eval_calls']} | {predicted} |"
        )
    lines += ["", "| dataset | tool | runs | mean holdout | min | max |", "|---|---|---:|---:|---:|---:|"]
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if "holdout" in r:
            groups.setdefault((r["dataset"], r["tool"]), []).append(r["holdout"])
    for (dataset, tool), scores in groups.items():
        lines.append(
            f"| {dataset} | {tool} | {len(scores)} | {statistics.mean(scores):.3f} | {min(scores):.3f} "
            f"| {max(scores):.3f} |"
        )
    lines.append(END)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="cr", choices=sorted(dc.DATASETS))
    parser.add_argument("--seeds", default="0-7", help="e.g. 0-7 or 0,3,7")
    parser.add_argument("--tools", default="promptc", help="promptc, dspy or promptc,dspy")
    parser.add_argument("--out", type=Path, default=RESULTS_JSON)
    parser.add_argument("--resume", action="store_true", help="keep the runs already in --out")
    parser.add_argument("--update-results", action="store_true", help="rewrite our section of RESULTS.md")
    args = parser.parse_args()

    previous = json.loads(args.out.read_text()) if args.out.exists() and args.resume else {}
    done = {(r["dataset"], r["tool"], r["seed_run"]): r for r in previous.get("runs", []) if "holdout" in r}
    data = {
        "command": "python bench/seed_spread.py " + " ".join(sys.argv[1:]),
        "machine": dc.machine(),
        "started": previous.get("started", time.strftime("%Y-%m-%d %H:%M:%S")),
        "runs": [
            r
            for r in previous.get("runs", [])
            if r["dataset"] != args.dataset or r["tool"] not in args.tools.split(",")
        ],
    }
    for tool in args.tools.split(","):
        for seed in seeds_of(args.seeds):
            key = (args.dataset, tool, seed)
            row = done.get(key) or dc.run_subprocess(args.dataset, PAIR, tool, None, seed)
            row["seed_run"] = seed
            data["runs"].append(row)
            data["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
            args.out.write_text(json.dumps(data, indent=2) + "\n")  # partial results survive
    print(render(data))
    if args.update_results:
        replace_section(render(data), START, END)


if __name__ == "__main__":
    main()
