"""A budget-capped compile on a model litellm prices, against a local server: cost and tokens.

Run: .venv/bin/python bench/cost_cap.py [--cap-share 0.5] [--write]

configs/support_triage.yaml's program and data, targeted at `openai/gpt-4o-mini` served by a
local OpenAI-compatible server (tests/fake_openai.py on 127.0.0.1, answering as the
gpt-4o-mini-2024-07-18 snapshot, with usage counted by the o200k_base encoding as OpenAI
counts it). So every call carries litellm's gpt-4o-mini price. First `--dry-run`'s estimate
(calls, tokens, cost) for the whole compile, then an uncapped compile (what it really spends),
then a compile with `budget.max_cost_usd` at `--cap-share` of the uncapped search's cost, each
on a fresh call cache. Prints Markdown; `--write` puts it in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["NO_PROXY"] = "127.0.0.1"

from bench.results_md import replace_section  # noqa: E402
from promptc.commands.lifecycle import compile_config  # noqa: E402
from promptc.config.load import Budget, OptimizerSpec, load_config  # noqa: E402
from promptc.lm.tokens import count_tokens  # noqa: E402
from promptc.optimizers.estimate import estimate_compile  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

MODEL, REVISION = "openai/gpt-4o-mini", "gpt-4o-mini-2024-07-18"
START, END = "## Hosted models: a cost cap on a priced model", "<!-- end cost_cap -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-share", type=float, default=0.5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    os.environ["PROMPTC_BENCH_KEY"] = "sk-bench"
    with FakeOpenAI(model=REVISION) as server, tempfile.TemporaryDirectory() as tmp:
        server.start()
        server.count_prompt = lambda messages: count_tokens(MODEL, messages).count
        base = load_config(ROOT / "configs" / "support_triage.yaml")
        target = dataclasses.replace(
            base.target,
            model=MODEL,
            revision=REVISION,
            api_base=server.url,
            api_key_env="PROMPTC_BENCH_KEY",
            concurrency=4,
        )
        optimizer = OptimizerSpec("random_search", 7, {"num_candidate_programs": 6})

        def config(name: str, budget: Budget) -> object:
            return dataclasses.replace(
                base,
                target=target,
                optimizer=optimizer,
                budget=budget,
                artifacts_dir=Path(tmp) / name / "artifacts",
                cache_path=Path(tmp) / name / "cache.sqlite",
            )

        free_config = config("free", Budget())
        estimate = estimate_compile(free_config)  # type: ignore[arg-type]
        free = compile_config(free_config)  # type: ignore[arg-type]
        cap = round(free.search_usage.cost_usd * args.cap_share, 6)
        capped = compile_config(config("capped", Budget(max_cost_usd=cap)))  # type: ignore[arg-type]

    today = datetime.date.today().isoformat()
    n = estimate.sizes
    used = free.usage
    rows = [
        "| run | search calls | holdout calls | search cost | stopped by budget |",
        "|---|---:|---:|---:|---|",
    ]
    for name, outcome in (("no cap", free), (f"max_cost_usd {cap}", capped)):
        s, t = outcome.search_usage, outcome.usage
        rows.append(
            f"| {name} | {s.calls} | {t.calls - s.calls} | ${s.cost_usd:.6f} | "
            f"{outcome.stopped_by_budget or 'no'} |"
        )
    section = f"""{START} (bench/cost_cap.py)

Command: `.venv/bin/python bench/cost_cap.py --cap-share {args.cap_share} --write` ({today}, 2-core
{platform.machine()} VM shared with other work, Python {platform.python_version()}). `support_triage`'s
program and data ({n["train"]} train, {n["val"]} val, {n["test"]} test), `random_search`
(6 candidate programs, seed 7), `max_tokens` {target.max_tokens}, concurrency 4, targeted at
`{MODEL}` through `api_base` on a local OpenAI-compatible server (tests/fake_openai.py) that
answers as `{REVISION}` and counts usage with o200k_base, so every call is priced by
litellm's table. Each run starts on a cold call cache.

{chr(10).join(rows)}

Dry-run estimate for the uncapped compile against what it spent:

| | dry-run | actual |
|---|---:|---:|
| model calls | {estimate.total_calls:,} | {used.calls:,} |
| prompt tokens | {estimate.prompt_tokens:,} ({estimate.tokenizer}) | {used.prompt_tokens:,} |
| completion tokens | at most {estimate.completion_tokens:,} | {used.completion_tokens:,} |
| cost | ${estimate.cost_usd or 0:.6f} | ${used.cost_usd:.6f} |

The cap stops the search at the first call that finds the search's spend at or past it
(calls already under way finish, so the spend can pass the cap by up to concurrency
calls' cost), keeps the best fully scored candidate, and still runs the full
holdout (not capped). The server's token counts here come from the same encoding the
dry-run uses, so the prompt-token gap is the estimate's sampling (the mean of 20 prompts,
and every search call counted with the most demos) rather than tokenizer error; replies
are counted at `max_tokens`, an upper bound.
{END}
"""
    print(section)
    if args.write:
        replace_section(section, START, END)


if __name__ == "__main__":
    main()
