"""Compile with a large holdout on the fake model: wall time, peak memory and artifact sizes.

Run: .venv/bin/python bench/scale.py [--sizes 10000 100000] [--base 7c5b22e]

For each holdout size it writes a small train (40) and val (24) split and a test split of N
synthetic support tickets, a config on `fake/learner` with labeled_fewshot (k 8), and runs
`python -m promptc compile` in a child process on a fresh call cache. It reports the child's
wall time and peak RSS (os.wait4), the artifact JSON's size and the records sidecar's size.
With --base REV the same runs are made with promptc as it was at REV (extracted by git archive
into a temporary folder), in the same invocation, so both sets of figures share the machine's
load. Prints a Markdown table. Deterministic data: seeded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["billing", "technical", "account", "shipping"]
TOPICS = {
    "billing": ["invoice", "refund", "charged", "payment", "card", "price", "coupon", "subscription"],
    "technical": ["crash", "error", "firmware", "wifi", "bluetooth", "screen", "update", "battery"],
    "account": ["password", "login", "email", "profile", "locked", "username", "two-factor", "delete"],
    "shipping": ["parcel", "courier", "tracking", "delivery", "address", "package", "shipped", "late"],
}
FILLER = ["please", "help", "my", "the", "order", "today", "again", "still", "hi", "thanks", "urgent", "why"]
SLICES = ["email", "chat", "phone", "social"]
# Customer's own words: made-up, so that tickets of one label are not near-copies of each other.
VOCABULARY = [
    a + b + c
    for a in "bdfgklmprst"
    for b in ("a", "e", "i", "o", "u", "ai", "ou")
    for c in ("n", "r", "sk", "lt", "mp", "x")
]


def tickets(n: int, seed: int, prefix: str) -> list[dict[str, str]]:
    """Synthetic tickets: topic words reveal the label, filler and made-up words do not."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        words = rng.sample(TOPICS[label], 3) + rng.sample(FILLER, 3) + rng.sample(VOCABULARY, 5)
        rng.shuffle(words)
        rows.append({"id": f"{prefix}{i:06d}", "ticket": " ".join(words), "category": label,
                     "channel": SLICES[(i // 4) % 4]})  # fmt: skip
    return rows


def write_project(folder: Path, n_test: int) -> Path:
    """Data files and a config for one run; returns the config's path."""
    data = folder / "data"
    data.mkdir(parents=True)
    for name, rows in (
        ("train", tickets(40, 1, "tr")),
        ("val", tickets(24, 2, "va")),
        ("test", tickets(n_test, 3, "te")),
    ):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "program": {
            "name": "triage",
            "version": "1.0.0",
            "instructions": "Route the ticket.",
            "inputs": {"ticket": {"type": "str", "description": "the message"}},
            "outputs": {"category": {"type": "enum", "labels": LABELS}},
        },
        "target": {"model": "fake/learner", "revision": "fake00000000", "concurrency": 4},
        "data": {
            "train": "data/train.jsonl",
            "val": "data/val.jsonl",
            "test": "data/test.jsonl",
            "slice_column": "channel",
        },
        "metric": "label_accuracy",
        "optimizer": {"name": "labeled_fewshot", "seed": 3, "settings": {"k": 8}},
        "gates": {"overall": {"min": 0.5}, "default": {"max_drop": 0.1}},
        "artifacts": "artifacts",
        "cache": "cache/calls.sqlite",
    }
    path = folder / "promptc.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_compile(code: Path, config: Path) -> dict[str, float]:
    """Compile in a child process with promptc from code; wall seconds, peak RSS and file sizes."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "PROMPTC_HOME": str(config.parent / "home"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "promptc", "compile", str(config)],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    artifacts = [p for p in (config.parent / "artifacts").rglob("*.json") if p.name != "registry.json"]
    # Exit 1 (a gate said no) still writes the artifact; anything else is a failed run.
    if child.returncode not in (0, 1) or not artifacts:
        raise SystemExit(f"compile failed ({child.returncode}):\n{output.decode()[-3000:]}")
    sidecars = list((config.parent / "artifacts").rglob("*.records.jsonl.gz"))
    return {
        "wall_s": wall,
        "rss_mb": usage.ru_maxrss / 1024,  # Linux reports kilobytes
        "artifact_bytes": sum(p.stat().st_size for p in artifacts),
        "sidecar_bytes": sum(p.stat().st_size for p in sidecars),
    }


def extract(rev: str, into: Path) -> Path:
    """promptc's package as it was at rev, in a folder of its own."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "promptc"], check=True, capture_output=True
    )
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--base", help="a git revision to compare against, e.g. 7c5b22e")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="promptc-scale-") as tmp:
        codes = [(f"this tree ({head})", ROOT)]
        if args.base:
            codes.append((args.base, extract(args.base, Path(tmp) / "base")))
        for n in args.sizes:
            for label, code in codes:
                folder = Path(tmp) / f"{label.split()[0]}-{n}"
                figures = run_compile(code, write_project(folder, n))
                rows.append((n, label, figures))
                print(f"{n:,} {label}: {figures}", file=sys.stderr, flush=True)
    print(
        f"{dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print("| test examples | promptc | wall | peak RSS | artifact JSON | records sidecar |")
    print("|---:|---|---:|---:|---:|---:|")
    for n, label, f in rows:
        sidecar = f"{f['sidecar_bytes'] / 1e6:.2f} MB" if f["sidecar_bytes"] else "-"
        print(
            f"| {n:,} | {label} | {f['wall_s']:.1f} s | {f['rss_mb']:.0f} MB | "
            f"{f['artifact_bytes'] / 1e6:.2f} MB | {sidecar} |"
        )


if __name__ == "__main__":
    main()
