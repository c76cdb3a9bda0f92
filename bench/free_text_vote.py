"""How an ensemble's free-text field is best voted: the first member's answer (the member with
the best validation score), the most common answer (word for word, ignoring case and spacing;
ties to the earlier member: promptc's vote for `str` fields), or the answer with the most word
overlap with the other members (minimum Bayes risk under token_f1).

For each seed of bench/suite.py's SQuAD `auto` runs, the three challengers (as auto's ensemble
takes them: not the configured program) with the best recorded validation scores in the
artifact's lineage are rebuilt from their demo ids (a candidate whose rebuilt digest differs from
the recorded one, such as bootstrapped or nearest-neighbour demos, is skipped) and answer the
validation split through the suite's call cache: the answers the search saw, plus fresh calls for
the examples a raced-out candidate was never scored on. Each voting rule combines the
three answers per example; each answer is scored by the task's metric (token_f1, best over the
gold answers). No rule is chosen on these examples, so val is a fair place to compare them.

Run: .venv/bin/python bench/free_text_vote.py [--seeds 0,1,2] [--update-results]
Needs the suite's SQuAD artifacts and call cache under bench/.suite/ (bench/suite.py makes them).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import suite
from results_md import replace_section

START = "## Ensembles: voting a free-text field (bench/free_text_vote.py)"
END = "<!-- end free text vote -->"
TASK, MEMBERS = "squad", 3


def most_overlap(values: list[Any]) -> Any:
    """The answer with the most word-overlap F1 summed over the other answers (ties: the earlier)."""
    words = [Counter(re.findall(r"\w+", str(v).casefold())) for v in values]

    def f1(a: Counter[str], b: Counter[str]) -> float:
        return float(a == b) if not a or not b else 2 * sum((a & b).values()) / (a.total() + b.total())

    def agreement(i: int) -> float:
        return sum(f1(words[i], w) for j, w in enumerate(words) if j != i)

    return values[max(range(len(values)), key=lambda i: (agreement(i), -i))]


def members(artifact: Any, train: dict[str, Any], program: Any) -> list[Any]:
    """The best fully scored candidates of the search, rebuilt from their demo ids."""
    from promptc.optimizers.demos import labeled_demo
    from promptc.prompting.program import Candidate

    out = []
    # As auto's ensemble takes them: challengers (not the configured program), best first.
    trials = list(artifact.typed.lineage.trials[1:])  # Trial.to_dict() each
    for trial in sorted(trials, key=lambda t: -t["val_score"]):
        demos = tuple(labeled_demo(train[i]) for i in trial["demo_ids"] if i in train)
        words = trial["name"].split()
        knn = int(words[0]) if "nearest" in words and words[0].isdigit() else 0
        candidate = Candidate(program.signature.instructions, demos, knn=knn)
        if trial["name"].startswith("ensemble") or candidate.digest() != trial["candidate"]:
            continue
        if len(out) < MEMBERS:
            out.append((trial["name"], candidate))
    return out


def run_seed(seed: int) -> dict[str, Any]:
    """The three rules' per-example scores on val for one seed's ensemble."""
    from promptc.artifacts.store import Store
    from promptc.commands.lifecycle import checked_splits, target_lm
    from promptc.config.load import load_config
    from promptc.evaluation.evaluate import evaluate, score_prediction
    from promptc.fields import kind_of
    from promptc.metrics import load_metric

    sizes = suite.default_sizes(TASK)
    config = load_config(suite.prepare(TASK, sizes))
    row = next(
        r
        for r in suite.load_rows()
        if (r["task"], r["optimizer"], r["seed"], tuple(r["sizes"])) == (TASK, "auto", seed, sizes)
    )
    paths = sorted((suite.WORK / TASK).glob(f"**/{row['artifact']}.json"))
    if not paths:
        raise SystemExit(f"no artifact {row['artifact']} under {suite.WORK / TASK}: run bench/suite.py first")
    artifact = Store.load(paths[0])
    splits = checked_splits(config)
    program = config.program
    chosen = members(artifact, {e.id: e for e in splits.train}, program)
    if len(chosen) < MEMBERS:
        raise SystemExit(f"seed {seed}: fewer than {MEMBERS} candidates could be rebuilt")
    lm = target_lm(config)
    metric = load_metric(config.metric, program.signature, config.path.parent)
    answers = [
        {r.id: r.prediction for r in evaluate(program, c, splits.val, metric, lm).records} for _, c in chosen
    ]
    field = program.signature.outputs[0]
    kind = kind_of(field)
    rules = {
        "first member": lambda values: values[0],
        "most common (promptc)": lambda values: kind.vote(field, values),
        "most overlap": most_overlap,
    }
    scores: dict[str, list[float]] = {name: [] for name in rules}
    scores["members"] = []
    for example in splits.val:
        predictions = [a[example.id] for a in answers]
        values = [p.outputs[field.name] for p in predictions if p.outputs is not None]
        scores["members"].append(statistics.mean(score_prediction(metric, example, p) for p in predictions))
        for name, rule in rules.items():
            voted = {field.name: rule(values)} if values else None
            scores[name].append(0.0 if voted is None else metric(example.outputs, voted).score)
    return {"seed": seed, "members": [n for n, _ in chosen], "calls": lm.usage.calls, "scores": scores}


def section(results: list[dict[str, Any]], seconds: float) -> str:
    """The RESULTS.md section."""
    from promptc.evaluation.stats import paired_interval

    def pooled(name: str) -> list[float]:
        return [s for r in results for s in r["scores"][name]]

    ours = pooled("most common (promptc)")
    lines = [
        START,
        "",
        f"Command: `.venv/bin/python bench/free_text_vote.py --update-results` ({time.strftime('%Y-%m-%d')},"
        f" {seconds:.0f} s, 2-core x86 VM; {sum(r['calls'] for r in results)} model calls made, every other"
        " answer from the suite's call cache). SQuAD (bench/suite.py, 200/20/20), the embedded"
        " SmolLM2-135M; per seed the"
        f" {MEMBERS} challengers of auto's search with the best recorded val scores that rebuild from labeled"
        " demos (not the configured program, as auto's ensemble takes them), best first, answer the 20"
        " validation examples, and"
        " each rule combines their three answers. token_f1 against every gold answer; differences are"
        " paired 95% intervals over the pooled seed x example rows (promptc.evaluation.stats.paired_interval;"
        " the seeds share the 20 examples, so the rows are not independent and the interval is a guide).",
        "",
        "| seed | members | mean member | first member | most common (promptc) | most overlap |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["scores"]
        means = [
            statistics.mean(s[k])
            for k in ("members", "first member", "most common (promptc)", "most overlap")
        ]
        lines.append(
            f"| {r['seed']} | {', '.join(r['members'])} | " + " | ".join(f"{m:.3f}" for m in means) + " |"
        )
    lines.append("")
    for other in ("first member", "most overlap"):
        low, high = paired_interval(ours, pooled(other), 0.95)
        diff = statistics.mean(ours) - statistics.mean(pooled(other))
        lines.append(f"- most common - {other}: {diff:+.3f} [{low:+.3f}, {high:+.3f}] (n={len(ours)})")
    lines += [
        "",
        "Why promptc keeps the most common answer: auto's ensemble lists its members best first on",
        "its search half, so a tie goes to the best member. Electing the answer nearest the others",
        "(minimum Bayes risk) was tried as a change to promptc and measured here. It scored lower in",
        "two seeds of three and was no better pooled, so it was not kept.",
        "",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--update-results", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    results = [run_seed(int(s)) for s in args.seeds.split(",")]
    text = section(results, time.perf_counter() - started)
    print(text)
    if args.update_results:
        replace_section(text, START, END)


if __name__ == "__main__":
    main()
