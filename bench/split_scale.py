"""Time `promptc split` at 10k and 100k synthetic rows, and the split check on what it wrote.

Run: .venv/bin/python bench/split_scale.py [--sizes 10000 100000]

Each row is 8-14 words drawn from a 3,000-word synthetic vocabulary, with one of five labels; 5% of
the rows are near-duplicate copies of another row (one word replaced) and 2% exact copies with case
changed. The script writes them as JSON Lines, times promptc.data.split_files.split_data (read, cluster,
assign stratified by label, write) and then promptc.commands.lifecycle.check on a config over the three
files it wrote, which must report no leak. Deterministic: seeded.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import tempfile
import time
from pathlib import Path

import yaml

from promptc.commands.lifecycle import check
from promptc.config.load import load_config
from promptc.data.load import SPLITS
from promptc.data.split_files import split_data

LABELS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def synthetic_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """n rows: distinct random sentences, then near and exact copies of some of them."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(3000)]
    copies = int(n * 0.07)
    rows = []
    for i in range(n - copies):
        words = rng.choices(vocabulary, k=rng.randint(8, 14))
        rows.append({"id": f"r{i}", "text": " ".join(words), "label": rng.choice(LABELS)})
    for i in range(copies):
        original = rng.choice(rows[: n - copies])
        words = original["text"].split()
        if i % 7 < 5:
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
            text = " ".join(words)
        else:
            text = original["text"].upper()
        rows.append({"id": f"c{i}", "text": text, "label": original["label"]})
    rng.shuffle(rows)
    return rows


def run(n: int, folder: Path) -> dict[str, float | int]:
    """Split n rows, then check the result; the timings and cluster figures."""
    data = folder / f"rows{n}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in synthetic_rows(n)))
    start = time.perf_counter()
    outcome = split_data([data], folder / f"out{n}", stratify="label", inputs=["text"], seed=0)
    split_s = time.perf_counter() - start
    config = {
        "program": {
            "name": "bench",
            "version": "1.0.0",
            "inputs": {"text": {"type": "str"}},
            "outputs": {"label": {"type": "enum", "labels": LABELS}},
        },
        "target": {"model": "fake/learner", "revision": "fake00000000"},
        "data": {name: str(path) for name, path in outcome.files.items()},
        "metric": "label_accuracy",
    }
    path = folder / f"config{n}.yaml"
    path.write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    report = check(load_config(path))
    check_s = time.perf_counter() - start
    assert report.ok, f"{len(report.leaks)} leaks"
    return {
        "rows": n,
        "split_s": round(split_s, 2),
        "check_s": round(check_s, 2),
        "merged_rows": outcome.merged_rows,
        "clusters": outcome.merged_clusters,
        "largest": outcome.largest,
        **{name: outcome.sizes[name] for name in SPLITS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    header = ["rows", "split (s)", "check of the output (s)", "rows merged", "clusters", "largest"]
    print("| " + " | ".join([*header, *SPLITS]) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            r = run(n, Path(folder))
            print(
                f"| {r['rows']:,} | {r['split_s']} | {r['check_s']} | {r['merged_rows']:,} "
                f"| {r['clusters']:,} | {r['largest']} | {r['train']:,} | {r['val']:,} | {r['test']:,} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
