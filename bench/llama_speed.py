"""Prompt evaluation speed of the embedded model by thread count and OpenMP wait policy.

Run: .venv/bin/python bench/llama_speed.py [--reps N]

Each setting runs in a fresh process (libgomp reads its environment once, at load). A
call decodes the tokens after the prefix it shares with the previous prompt, so the
table times decoding 1, 5, 25 and 100 new tokens after a 20-token prefix kept in the
key-value cache: the sizes of an answer step, a zero-shot ticket, and a few demos.
Prints a Markdown table of milliseconds per call (median of N).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SIZES = (1, 5, 25, 100)
SETTINGS = [
    ("1 thread", 1, {}),
    ("2 threads, OMP_WAIT_POLICY=PASSIVE (before)", 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("2 threads, OMP_WAIT_POLICY=ACTIVE", 2, {"OMP_WAIT_POLICY": "ACTIVE"}),
    ("2 threads, GOMP_SPINCOUNT=10000", 2, {"GOMP_SPINCOUNT": "10000"}),
]


def measure(threads: int, reps: int) -> dict[int, float]:
    """Median ms to decode n new tokens after a 20-token cached prefix, for each n in SIZES."""
    from llama_cpp import Llama

    from promptc.lm.local import model_path

    llm = Llama(
        model_path=str(model_path("smollm2-135m-instruct")), n_ctx=2048, n_threads=threads, verbose=False
    )
    text = "The customer says the order arrived late and the box was damaged, please refund. " * 12
    tokens = llm.tokenize(text.encode())
    llm.eval(tokens[:20])
    out = {}
    for n in SIZES:
        times = []
        for _ in range(reps):
            llm.n_tokens = 20  # keep the prefix, as a call sharing it with the previous prompt does
            start = time.perf_counter()
            llm.eval(tokens[20 : 20 + n])
            times.append(time.perf_counter() - start)
        out[n] = statistics.median(times) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # threads, in a child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.reps)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"median of {args.reps} calls, ms\n")
    print("| setting | " + " | ".join(f"{n} new tokens" for n in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for name, threads, extra in SETTINGS:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        env.update(extra)
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(threads), "--reps", str(args.reps)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {name} | " + " | ".join(f"{row[str(n)]:.0f}" for n in SIZES) + " |", flush=True)


if __name__ == "__main__":
    main()
