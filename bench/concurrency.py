"""Hosted-model throughput against target.concurrency, on a local server with a fixed latency.

Run: .venv/bin/python bench/concurrency.py [--latency 0.2] [--calls 160]

An OpenAI-compatible server on 127.0.0.1 (tests/fake_openai.py) answers every request after
`--latency` seconds, like a hosted model. promptc evaluates `--calls` distinct inputs through
litellm's real OpenAI client at concurrency 1, 4 and 16, each with a fresh call cache, and
reports calls per second, the speed-up, and promptc's own time per call (wall time x
concurrency / calls - latency: what the tool adds to each call). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["NO_PROXY"] = "127.0.0.1"

from promptc.config.load import Target  # noqa: E402
from promptc.data.load import Example  # noqa: E402
from promptc.evaluation.evaluate import evaluate  # noqa: E402
from promptc.lm.cache import CallCache  # noqa: E402
from promptc.lm.model import LM  # noqa: E402
from promptc.metrics import label_accuracy  # noqa: E402
from promptc.prompting.program import Candidate, Field, Program, Signature  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

LABELS = ("billing", "technical", "account", "shipping")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--calls", type=int, default=160)
    args = parser.parse_args()
    program = Program(
        "bench", "1.0.0", Signature((Field("ticket"),), (Field("category", "enum", labels=LABELS),))
    )
    candidate = Candidate("Route the ticket.")
    os.environ["PROMPTC_BENCH_KEY"] = "sk-bench"
    rows = []
    with FakeOpenAI() as server:
        server.start()
        server.latency_s = args.latency
        for concurrency in (1, 4, 16):
            examples = [
                Example(
                    f"c{concurrency}-{i}", {"ticket": f"ticket {concurrency} {i}"}, {"category": "billing"}
                )
                for i in range(args.calls)
            ]
            target = Target(
                "openai/promptc-test",
                "snapshot-1",
                concurrency=concurrency,
                api_base=server.url,
                api_key_env="PROMPTC_BENCH_KEY",
            )
            with tempfile.TemporaryDirectory() as tmp:
                lm = LM(target, CallCache(Path(tmp) / "cache.sqlite"))
                lm.complete([{"role": "user", "content": "warm-up"}])  # litellm's import, once
                start = time.perf_counter()
                evaluate(program, candidate, examples, label_accuracy, lm)
                wall = time.perf_counter() - start
            rate = args.calls / wall
            overhead_ms = (wall * concurrency / args.calls - args.latency) * 1000
            rows.append((concurrency, rate, overhead_ms))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"server latency {args.latency * 1000:.0f} ms a call, {args.calls} calls per row\n")
    print("| concurrency | calls/s | speed-up | promptc + litellm + HTTP per call |")
    print("|---:|---:|---:|---:|")
    for concurrency, rate, overhead_ms in rows:
        print(f"| {concurrency} | {rate:.1f} | {rate / rows[0][1]:.1f}x | {overhead_ms:.1f} ms |")


if __name__ == "__main__":
    main()
