"""Tool overhead per model call and evaluation throughput, on a zero-latency fake model.

Run: .venv/bin/python bench/overhead.py [--calls N]
Prints a Markdown table; paste it into bench/RESULTS.md with the date and machine.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from promptc.cache import CallCache
from promptc.config import Target
from promptc.data import Example
from promptc.evaluate import evaluate
from promptc.lm import LM, provider_for
from promptc.metrics import label_accuracy
from promptc.program import Candidate, Field, Program, Signature


def per_call(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds per call over n calls (after 5 warm-up calls)."""
    for i in range(5):
        fn(-1 - i)
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    n = args.calls
    target = Target("fake/learner", "fake00000000", concurrency=1)
    msgs = lambda i: [{"role": "system", "content": "x"}, {"role": "user", "content": f"ticket: t{i}"}]  # noqa: E731

    provider = provider_for(target.model)
    assert provider is not None
    raw = per_call(lambda i: provider.complete("learner", msgs(i), {}), n)

    import litellm

    via_litellm = per_call(lambda i: litellm.completion(model="fake/learner", messages=msgs(i)), n)
    with tempfile.TemporaryDirectory() as tmp:
        lm = LM(target, CallCache(Path(tmp) / "c.sqlite"))
        miss = per_call(lambda i: lm.complete(msgs(i)), n)
        hit = per_call(lambda i: lm.complete(msgs(i)), n)

        program = Program(
            "bench", "1.0.0", Signature((Field("ticket"),), (Field("category", "enum", labels=("a", "b")),))
        )
        examples = [Example(f"e{i}", {"ticket": f"text {i}"}, {"category": "a"}, "s") for i in range(n)]
        rows = []
        for workers in (1, 4):
            lm = LM(
                Target("fake/learner", "fake00000000", concurrency=workers),
                CallCache(Path(tmp) / f"w{workers}.sqlite"),
            )
            start = time.perf_counter()
            evaluate(program, Candidate(""), examples, label_accuracy, lm)
            rows.append((workers, n / (time.perf_counter() - start)))

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"litellm {importlib.metadata.version('litellm')}"
    )
    print(f"calls per measurement: {n} (median)\n")
    print("| path | ms per call |\n|---|---:|")
    print(f"| provider only (no litellm) | {raw * 1e3:.3f} |")
    print(f"| litellm.completion -> provider | {via_litellm * 1e3:.3f} |")
    print(f"| LM.complete, cache miss (litellm + SQLite write) | {miss * 1e3:.3f} |")
    print(f"| LM.complete, cache hit | {hit * 1e3:.3f} |")
    print("\n| evaluate(), fresh calls | examples/s |\n|---|---:|")
    for workers, rate in rows:
        print(f"| concurrency {workers} | {rate:.0f} |")


if __name__ == "__main__":
    main()
