"""Hosted-model rate caps: what a local server receives per minute under target.rpm / target.tpm.

Run: .venv/bin/python bench/rate_caps.py [--calls 300] [--rpm 120] [--tpm 6000] [--write]

An OpenAI-compatible server on 127.0.0.1 (tests/fake_openai.py) answers after `--latency`
seconds and records when each request arrived and the tokens it reported. promptc sends
`--calls` distinct requests at concurrency 16, once capped by rpm and once by tpm, each on a
fresh call cache, and the server's log gives the most requests and tokens it saw in any
60-second window. Prints Markdown; `--write` puts it in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
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

from bench.results_md import replace_section  # noqa: E402
from promptc.config.load import Target  # noqa: E402
from promptc.lm.cache import CallCache  # noqa: E402
from promptc.lm.model import LM  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

START, END = "## Hosted models: rate caps", "<!-- end rate_caps -->"
WINDOW = 60.0


def busiest_window(served: list[tuple[float, int]]) -> tuple[int, int]:
    """The most requests, and the most tokens, that arrived inside any one 60-second window."""
    most = (0, 0)
    for start, _ in served:
        inside = [tokens for at, tokens in served if start <= at < start + WINDOW]
        most = (max(most[0], len(inside)), max(most[1], sum(inside)))
    return most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rpm", type=int, default=120)
    parser.add_argument("--tpm", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    os.environ["PROMPTC_BENCH_KEY"] = "sk-bench"
    rows = []
    for cap in ({"rpm": args.rpm}, {"tpm": args.tpm}):
        with FakeOpenAI() as server, tempfile.TemporaryDirectory() as tmp:
            server.start()
            server.latency_s = args.latency
            target = Target(
                "openai/promptc-test",
                "snapshot-1",
                max_tokens=16,
                concurrency=16,
                api_base=server.url,
                api_key_env="PROMPTC_BENCH_KEY",
                **cap,
            )
            lm = LM(target, CallCache(Path(tmp) / "cache.sqlite"))
            tickets = [f"ticket: parcel {i} has not arrived yet, please help" for i in range(args.calls)]
            start = time.perf_counter()
            lm.map(lambda t: lm.complete([{"role": "user", "content": t}]), tickets)  # noqa: B023
            wall = time.perf_counter() - start
            requests, tokens = busiest_window(server.served)
            usage = lm.usage
            name, value = next(iter(cap.items()))
            rows.append(
                f"| {name} {value} | {len(server.served)} | {requests} | {tokens:,} | "
                f"{wall:.0f} s | {usage.cap_wait_seconds:.0f} s |"
            )
    section = f"""{START} (bench/rate_caps.py)

Command: `.venv/bin/python bench/rate_caps.py --calls {args.calls} --rpm {args.rpm} --tpm {args.tpm} --write`
({datetime.date.today().isoformat()}, 2-core {platform.machine()} VM shared with other work). A local
OpenAI-compatible server (tests/fake_openai.py) answers after {args.latency * 1000:.0f} ms and logs when each
request arrived and the tokens it reported; promptc sends {args.calls} distinct requests at
`concurrency: 16` and `max_tokens: 16`, each cap on a fresh cache. "Busiest minute" is the most the server
received inside any 60-second window of its own clock. "Waiting" adds up every worker's time
blocked on the cap (16 workers wait at once, so it exceeds the wall time).

| cap | requests served | busiest minute: requests | busiest minute: tokens | wall | waiting |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

The tpm cap counts each request at its estimated prompt tokens (litellm's tokenizer; this
model name is unknown to tiktoken, so cl100k_base) plus `max_tokens` until the reply's
usage replaces the estimate, so it holds even while replies are outstanding.
{END}
"""
    print(section)
    if args.write:
        replace_section(section, START, END)


if __name__ == "__main__":
    main()
