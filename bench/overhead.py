"""Tool overhead per model call and evaluation throughput, on the zero-latency fake model.

Run: .venv/bin/python bench/overhead.py [--calls N] [--against DIR]
Prints a Markdown table of calls (or examples) per second, each the median of 3 rounds of N.
With --against DIR (a checkout of another commit, e.g. `git worktree add /tmp/base <commit>`)
the same measurements run in two fresh processes, promptc imported from DIR and from this
tree, and the table shows both with their ratio.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROUNDS = 3
Prompt = Callable[[int], list[dict[str, str]]]
ROOT = Path(__file__).resolve().parent.parent


def rate(call: Callable[[int], object], n: int, setup: Callable[[], None] | None = None) -> float:
    """Median calls per second over ROUNDS rounds of n calls; call(i) gets i unique across rounds."""
    if setup:
        setup()
    for i in range(5):
        call(-1 - i)  # warm-up: imports, first connections
    rates = []
    for r in range(ROUNDS):
        if setup:
            setup()
        start = time.perf_counter()
        for i in range(r * n, (r + 1) * n):
            call(i)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def complete_rates(
    lm_class: Any, cache_class: Any, target: Any, path: Path, name: str, messages: Prompt, n: int
) -> dict[str, float]:
    """LM.complete calls per second: fresh calls, hits on the same LM, hits on a reopened cache."""
    rendered = {i: messages(i) for i in range(-5, ROUNDS * n)}  # rendering is not LM.complete's cost
    messages = rendered.__getitem__
    lm = lm_class(target, cache_class(path))
    out = {f"LM.complete, cache miss, {name}": rate(lambda i: lm.complete(messages(i)), n)}
    out[f"LM.complete, cache hit (same LM), {name}"] = rate(lambda i: lm.complete(messages(i)), n)
    reopened: list[Any] = []  # a new LM and CallCache each round: entries come from SQLite
    out[f"LM.complete, cache hit (cache reopened), {name}"] = rate(
        lambda i: reopened[-1].complete(messages(i)),
        n,
        setup=lambda: reopened.append(lm_class(target, cache_class(path))),
    )
    return out


def evaluate_rates(lm_class: Any, cache_class: Any, target: Any, path: Path, n: int) -> dict[str, float]:
    """evaluate() examples per second on n examples (new ones each round): fresh, cached, reopened."""
    from promptc.data.load import Example
    from promptc.evaluation.evaluate import evaluate
    from promptc.metrics import label_accuracy
    from promptc.prompting.program import Candidate, Field, Program, Signature

    program = Program(
        "bench", "1.0.0", Signature((Field("ticket"),), (Field("category", "enum", labels=("a", "b")),))
    )
    rounds = [
        [Example(f"e{r}-{i}", {"ticket": f"text {r} {i}"}, {"category": "a"}, "s") for i in range(n)]
        for r in range(ROUNDS)
    ]
    lm = lm_class(target, cache_class(path))
    out = {}
    for state in ("fresh", "cached", "cached, cache reopened"):
        rates = []
        for examples in rounds:
            each = lm_class(target, cache_class(path)) if state == "cached, cache reopened" else lm
            start = time.perf_counter()
            evaluate(program, Candidate(""), examples, label_accuracy, each)
            rates.append(n / (time.perf_counter() - start))
        out[f"evaluate(), {state}, concurrency {target.concurrency}"] = statistics.median(rates)
    return out


def measure(n: int) -> dict[str, float]:
    """Every measurement, in calls or examples per second, on the promptc found on sys.path."""
    from promptc.config.load import Target
    from promptc.lm.bridge import import_litellm
    from promptc.lm.cache import CallCache
    from promptc.lm.model import LM
    from promptc.lm.providers import provider_for
    from promptc.prompting.adapter import render_messages
    from promptc.prompting.program import Candidate, Demo, Field, Program, Signature

    target = Target("fake/learner", "fake00000000", concurrency=1)
    program = Program(
        "bench",
        "1.0.0",
        Signature(
            (Field("ticket", description="the customer's message"),),
            (Field("category", "enum", labels=("billing", "technical", "account", "shipping")),),
            "Route the support ticket to the team that handles it.",
        ),
    )
    labels = program.signature.outputs[0].labels
    topics = ["invoice charged twice", "app crashes on start", "password reset fails", "parcel is late"]
    demos = tuple(
        Demo({"ticket": f"hello, my {topics[i % 4]} again, order {i}"}, {"category": labels[i % 4]})
        for i in range(8)
    )
    few_shot = Candidate(program.signature.instructions, demos)

    def short(i: int) -> list[dict[str, str]]:
        return [{"role": "system", "content": "x"}, {"role": "user", "content": f"ticket: t{i}"}]

    def eight_demos(i: int) -> list[dict[str, str]]:
        return render_messages(program, few_shot, {"ticket": f"please help with ticket number {i}"})

    prompts = {"short prompt": short, "8-demo prompt": eight_demos}
    out: dict[str, float] = {}
    provider = provider_for(target.model)
    assert provider is not None
    out["provider.complete only"] = rate(lambda i: provider.complete("learner", short(i), {}), n)
    litellm = import_litellm()  # imports litellm and registers promptc's providers with it

    out["litellm.completion -> provider"] = rate(
        lambda i: litellm.completion(model="fake/learner", messages=short(i)), n
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, messages in prompts.items():
            out |= complete_rates(LM, CallCache, target, Path(tmp) / f"{name}.sqlite", name, messages, n)
        os.environ["PROMPTC_VIA_LITELLM"] = "1"
        lm = LM(target, CallCache(Path(tmp) / "via.sqlite"))
        out["LM.complete, cache miss, short prompt, PROMPTC_VIA_LITELLM=1"] = rate(
            lambda i: lm.complete(short(i)), n
        )
        del os.environ["PROMPTC_VIA_LITELLM"]

        for workers in (1, 4):
            each = Target("fake/learner", "fake00000000", concurrency=workers)
            out |= evaluate_rates(LM, CallCache, each, Path(tmp) / f"eval{workers}.sqlite", n)
    return out


def machine() -> str:
    """The machine and versions, one line."""
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"litellm {importlib.metadata.version('litellm')}"
    )


def revision(tree: Path) -> str:
    """The short commit id of a checkout."""
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or str(tree)


def run_in(tree: Path, n: int) -> dict[str, float]:
    """measure() in a fresh process with promptc imported from tree."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PROMPTC_VIA_LITELLM", None)
    done = subprocess.run(
        [sys.executable, __file__, "--calls", str(n), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--against", type=Path, help="a checkout of another commit to compare with")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.calls)))
        return
    print(f"machine: {machine()}")
    print(f"{args.calls} calls or examples per round, median of {ROUNDS} rounds\n")
    if args.against is None:
        print("| measure | per second |\n|---|---:|")
        for name, value in measure(args.calls).items():
            print(f"| {name} | {value:,.0f} |")
        return
    before, after = run_in(args.against, args.calls), run_in(ROOT, args.calls)
    print(f"| measure | before ({revision(args.against)}) | after ({revision(ROOT)}) | after / before |")
    print("|---|---:|---:|---:|")
    for name, value in after.items():
        print(f"| {name} | {before[name]:,.0f} | {value:,.0f} | {value / before[name]:.1f}x |")


if __name__ == "__main__":
    main()
