"""promptc vs DSPy on programs whose output is not one label: same splits, same metric, same model.

Run (DSPy is never a promptc dependency; it lives in its own venv, see `make bench-dspy`):

    .venv-bench/bin/python bench/dspy_fields.py --update-results

Tasks: the non-label tasks of bench/suite.py (SNIPS intent + slots, ATIS slots, SQuAD subset),
with exactly its splits: the config and data come from suite.prepare(task, sizes), with
suite's sizes for the task. The metric is promptc's own, built from the config by
promptc.metrics.load_metric, so a DSPy prediction is scored by the same function as a promptc
one (the composite intent label_accuracy + slots json_f1, json_f1, token_f1 against every gold
answer).

DSPy side: dspy.Predict over the same signature (enum outputs as a Literal of the labels, json
outputs as a dict typed from the field's schema, str outputs as str), ChatAdapter, the embedded
SmolLM2-135M-Instruct through litellm (promptc.lm.bridge registers `local/`), temperature 0,
no cache, one thread. Optimizers: BootstrapFewShot and KNNFewShot, the latter with a TF-IDF
embedder written here (no network, no embedding model). Seeds: BootstrapFewShot and
KNNFewShot take none; a seed shuffles the train set first, as bench/dspy_compare.py does.

promptc side: the `auto`, `bootstrap_fewshot` rows (and zero-shot) are read from
bench/results/suite.json for the same task, seed and sizes; per-example holdout scores, for
the paired intervals, from the compiled artifacts under bench/.suite/<task>/ when present.

Results go to bench/results/dspy_fields.json; --update-results rewrites this benchmark's
section of bench/RESULTS.md (between its markers) and nothing else.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PROMPTC_LLAMA_THREADS", "1")

import suite
from dspy_compare import METER, count_provider_calls, machine, versions, warm_up
from results_md import replace_section

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results" / "dspy_fields.json"
SECTION_START = "<!-- dspy_fields:start -->"
SECTION_END = "<!-- dspy_fields:end -->"
ANCHOR = "<!-- dspy_compare:end -->"  # the section goes right after the classification comparison
SUITE_WORK = suite.WORK  # where bench/suite.py keeps its configs and compiled artifacts

TASKS = ("snips", "atis", "squad")
OPTIMIZERS = ("bootstrap_fewshot", "knn_fewshot")
PROMPTC_ROWS = ("auto", "bootstrap_fewshot")
# promptc's bootstrap_fewshot defaults (optimizers/demos.py): 4 bootstrapped demos, labeled ones up
# to 6. DSPy gets the same numbers and keeps its own acceptance rule (metric_threshold None: any
# trace scoring above 0 is kept; promptc keeps a trace at score 1.0 only). With a threshold of 1.0,
# DSPy traces the whole train split (200 calls) when the small model rarely gets a reply perfect.
DEMOS = {"max_bootstrapped_demos": 4, "max_labeled_demos": 6}
KNN_K = 3  # neighbours per input (DSPy's documented example); each input costs k + 1 calls
# ChatAdapter's "[[ ## field ## ]]" sections and completion marker need room beyond the answer.
ADAPTER_TOKENS = 32
MANY_ERRORS = 1_000_000  # a reply that does not parse scores 0; it must never abort a DSPy optimizer


def task_sizes(task: str) -> tuple[int, int, int]:
    """The sizes suite.py runs the task with by default."""
    return suite.default_sizes(task)


def load_task(task: str, sizes: tuple[int, int, int], work: Path) -> tuple[Any, Any]:
    """suite.py's config and splits for the task, exactly as its runs make them.

    suite.prepare writes them under its WORK folder; here WORK points at a folder of our own, so
    that a suite run going on at the same time never reads a file while we rewrite it.
    """
    from promptc.config.load import load_config
    from promptc.data.load import load_splits

    suite.WORK = work
    config = load_config(suite.prepare(task, sizes))
    return config, load_splits(config.data, config.program.signature)


# --- DSPy program, metric, embedder ------------------------------------------------------------


def output_annotation(field: Any) -> Any:
    """The DSPy type of a promptc output field."""
    from typing import Literal

    if field.type == "enum":
        return Literal[tuple(field.labels)]  # type: ignore[valid-type]
    if field.type == "json":
        schema = field.schema or {}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "array":
            return dict[str, list[str]]
        return dict[str, Any]
    if field.type in ("int", "integer"):
        return int
    if field.type in ("float", "number"):
        return float
    if field.type == "bool":
        return bool
    return str


def dspy_program(config: Any) -> Any:
    """dspy.Predict over the config's signature: instructions, field descriptions, typed outputs."""
    import dspy

    sig = config.program.signature
    fields: dict[str, Any] = {}
    for f in sig.inputs:
        fields[f.name] = (str, dspy.InputField(desc=f.description or f.name))
    for f in sig.outputs:
        fields[f.name] = (output_annotation(f), dspy.OutputField(desc=f.description or f.name))
    return dspy.Predict(dspy.make_signature(fields, sig.instructions))


def promptc_metric(config: Any) -> Any:
    """promptc's metric for the config, the function its evaluate() scores with."""
    from promptc.metrics import load_metric

    return load_metric(config.metric, config.program.signature, config.path.parent)


def dspy_metric(config: Any) -> Any:
    """promptc's metric seen from DSPy: gold outputs from the example, the prediction's fields."""
    metric = promptc_metric(config)
    names = [f.name for f in config.program.signature.outputs]

    def score(example: Any, prediction: Any, trace: Any = None) -> float:
        predicted = {n: prediction[n] for n in names if n in prediction}
        return float(metric(example["gold_outputs"], predicted).score)

    return score


def shown_value(value: Any) -> Any:
    """A gold output as a demo shows it: the first of several gold answers (SQuAD's `answer`)."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value[0]
    return value


def to_dspy_examples(examples: Any, config: Any) -> list[Any]:
    """promptc examples as dspy.Example records; the full gold outputs ride along for the metric."""
    import dspy

    names = [f.name for f in config.program.signature.inputs]
    str_outputs = {f.name for f in config.program.signature.outputs if f.type == "str"}
    out = []
    for e in examples:
        shown = {k: shown_value(v) if k in str_outputs else v for k, v in e.outputs.items()}
        out.append(dspy.Example(**e.inputs, **shown, gold_outputs=e.outputs, id=e.id).with_inputs(*names))
    return out


class TfidfEmbedder:
    """An offline vectorizer for KNNFewShot: L2-normalised TF-IDF over word unigrams.

    Fitted on the train inputs (as KNN embeds them); DSPy's KNN takes dot products, which on
    unit vectors are cosine similarities.
    """

    def __init__(self, texts: list[str]) -> None:
        docs = [self.tokens(t) for t in texts]
        df = Counter(w for d in docs for w in set(d))
        n = len(docs)
        self.vocab = {w: i for i, w in enumerate(sorted(df))}
        self.idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}

    @staticmethod
    def tokens(text: str) -> list[str]:
        # KNN prefixes each input with "name: "; the names are the same everywhere, so they only
        # add a constant; dropped with the punctuation.
        return re.findall(r"[a-z0-9]+", text.lower())

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for row, text in enumerate(texts):
            for w, c in Counter(self.tokens(text)).items():
                if w in self.vocab:
                    out[row, self.vocab[w]] = (1 + math.log(c)) * self.idf[w]
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


def run_dspy(config: Any, splits: Any, optimizer_name: str, seed: int) -> dict[str, Any]:
    """Compile with the DSPy optimizer on train, then score every holdout example with promptc's metric."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DSPY_CACHEDIR"] = tmp  # nothing of DSPy's lands in the home directory
        from promptc.lm.bridge import import_litellm

        import_litellm()  # registers local/ with litellm before DSPy calls it
        import dspy

        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
        max_tokens = config.target.max_tokens + ADAPTER_TOKENS
        lm = dspy.LM(
            config.target.model,
            temperature=config.target.temperature,
            max_tokens=max_tokens,
            cache=False,
            engine="litellm",
        )
        dspy.configure(lm=lm, adapter=dspy.ChatAdapter(), max_errors=MANY_ERRORS, num_threads=1)
        student, metric = dspy_program(config), dspy_metric(config)
        train = to_dspy_examples(splits.train, config)
        test = to_dspy_examples(splits.test, config)
        random.Random(seed).shuffle(train)
        warm_up(config)
        settings: dict[str, Any] = {**DEMOS, "max_rounds": 1, "max_errors": MANY_ERRORS}
        calls0, lm0, start = METER.calls, METER.seconds, time.perf_counter()
        if optimizer_name == "bootstrap_fewshot":
            compiled = dspy.BootstrapFewShot(metric=metric, **settings).compile(student, trainset=train)
        elif optimizer_name == "knn_fewshot":
            names = [f.name for f in config.program.signature.inputs]
            texts = [" | ".join(f"{k}: {e[k]}" for k in names) for e in train]
            embedder = dspy.Embedder(TfidfEmbedder(texts), caching=False)
            settings["k"] = KNN_K
            knn = dspy.KNNFewShot(
                KNN_K, train, embedder, metric=metric, **{k: v for k, v in settings.items() if k != "k"}
            )
            compiled = knn.compile(student)
        else:
            raise SystemExit(f"unknown optimizer {optimizer_name}")
        compile_s, compile_calls = time.perf_counter() - start, METER.calls - calls0
        compile_lm_s = METER.seconds - lm0
        scores: dict[str, float] = {}
        fields: dict[str, dict[str, float]] = {}
        failures = 0
        scorer = promptc_metric(config)
        outputs = [f.name for f in config.program.signature.outputs]
        calls0, lm0, start = METER.calls, METER.seconds, time.perf_counter()
        for example in test:
            try:
                prediction = compiled(**example.inputs())
                predicted = {n: prediction[n] for n in outputs if n in prediction}
            except Exception:
                predicted, failures = {}, failures + 1
            verdict = scorer(example["gold_outputs"], predicted)
            scores[example["id"]] = float(verdict.score)
            if verdict.field_scores:
                fields[example["id"]] = dict(verdict.field_scores)
        eval_s, eval_calls = time.perf_counter() - start, METER.calls - calls0
        eval_lm_s = METER.seconds - lm0
        demos = len(compiled.predictors()[0].demos) if optimizer_name == "bootstrap_fewshot" else None
    return {
        "settings": {k: v for k, v in settings.items() if k != "max_errors"},
        "train_shuffled_with": seed,
        "max_tokens": max_tokens,
        "holdout": statistics.mean(scores.values()),
        "scores": scores,
        "field_means": {
            name: statistics.mean(f[name] for f in fields.values() if name in f)
            for name in outputs
            if any(name in f for f in fields.values())
        },
        "parse_failures": failures,
        "compile_calls": compile_calls,
        "eval_calls": eval_calls,
        "compile_s": compile_s,
        "eval_s": eval_s,
        "compile_lm_s": compile_lm_s,
        "eval_lm_s": eval_lm_s,
        "demos": demos,
    }


COMPLETED = "[[ ## completed ## ]]"


def stop_at_completed_marker() -> None:
    """Let the embedded model stop at ChatAdapter's end marker, as a llama.cpp server told `stop` would.

    promptc's provider takes no stop strings (promptc ends replies with its grammar). ChatAdapter
    parses nothing after its `[[ ## completed ## ]]` marker, so stopping there changes no score;
    it only spares the tokens a small model goes on generating after it, up to max_tokens.
    Installed below the call counter, so every call is still counted once.
    """
    from promptc.lm.local import LocalProvider, model_path

    def complete(self: Any, model: str, messages: Any, params: dict[str, Any]) -> tuple[str, int, int]:
        path = model_path(model)
        with self._lock:
            llm = self._load(path)
            result = llm.create_chat_completion(
                messages=messages,
                temperature=float(params.get("temperature", 0.0)),
                max_tokens=int(params.get("max_tokens", 64)),
                seed=int(params.get("seed", 0)),
                grammar=self._grammar(params.get("grammar")),
                stop=[COMPLETED],
            )
        text = result["choices"][0]["message"]["content"] or ""
        usage = result.get("usage", {})
        STATS["completion_tokens"] += int(usage.get("completion_tokens", 0))
        STATS["prompt_tokens"] += int(usage.get("prompt_tokens", 0))
        return text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))

    LocalProvider.complete = complete  # type: ignore[method-assign]


STATS = {"prompt_tokens": 0, "completion_tokens": 0}


def run_one(task: str, optimizer_name: str, seed: int, sizes: tuple[int, int, int]) -> dict[str, Any]:
    """One (task, optimizer, seed) DSPy run in this process."""
    stop_at_completed_marker()
    count_provider_calls()
    with tempfile.TemporaryDirectory() as home:
        config, splits = load_task(task, sizes, Path(home) / "suite")
        os.environ["PROMPTC_HOME"] = home
        outcome = run_dspy(config, splits, optimizer_name, seed)
    return {
        "task": task,
        "optimizer": optimizer_name,
        "seed": seed,
        "sizes": list(sizes),
        "metric": str(config.metric) if isinstance(config.metric, str) else repr(config.metric),
        "load_1min_end": os.getloadavg()[0],
        **STATS,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        **outcome,
    }


def run_subprocess(
    task: str, optimizer_name: str, seed: int, sizes: tuple[int, int, int], timeout: float | None
) -> dict[str, Any]:
    """One run in a fresh interpreter; its row, or an error row naming the exit code or time cap."""
    print(
        f"== {task} / {optimizer_name} / seed {seed}  ({time.strftime('%H:%M:%S')})",
        file=sys.stderr,
        flush=True,
    )
    command = [sys.executable, __file__, "--one", task, optimizer_name, str(seed)]
    command += ["--sizes", ",".join(map(str, sizes))]
    base = {"task": task, "optimizer": optimizer_name, "seed": seed, "sizes": list(sizes)}
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**base, "error": f"stopped at the {timeout:.0f} s cap", "wall_s": time.perf_counter() - start}
    try:
        row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " ".join(proc.stderr.strip().splitlines()[-1:])[:300]
        return {
            **base,
            "error": f"failed (exit {proc.returncode}): {tail}",
            "wall_s": time.perf_counter() - start,
        }
    row["wall_s"] = time.perf_counter() - start
    print(
        f"   holdout {row['holdout']:.3f}, compile calls {row['compile_calls']}, holdout calls "
        f"{row['eval_calls']}, {row['wall_s']:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return row


# --- promptc's side, from bench/suite.py's results ---------------------------------------------


def promptc_rows(task: str, sizes: list[int]) -> dict[tuple[str, int], dict[str, Any]]:
    """suite.json's rows for the task at these sizes, by (optimizer, seed)."""
    return {
        (r["optimizer"], r["seed"]): r
        for r in suite.load_rows()
        if r["task"] == task and list(r["sizes"]) == list(sizes) and r["optimizer"] in PROMPTC_ROWS
    }


def other_val_rows(task: str, sizes: list[int]) -> list[dict[str, Any]]:
    """suite.json's rows for the task run with another val size but the same train and test splits.

    DSPy's BootstrapFewShot and KNNFewShot read train only, so its runs pair with these too.
    """
    rows = [
        r
        for r in suite.load_rows()
        if r["task"] == task
        and r["optimizer"] in PROMPTC_ROWS
        and list(r["sizes"]) != list(sizes)
        and (r["sizes"][0], r["sizes"][2]) == (sizes[0], sizes[2])
    ]
    same = {tuple(r["sizes"]) for r in rows if test_ids(task, r["sizes"]) == test_ids(task, sizes)}
    return [r for r in rows if tuple(r["sizes"]) in same]


def promptc_scores(task: str, row: dict[str, Any]) -> dict[str, dict[str, float]] | None:
    """Per-example holdout scores of the compiled program and of zero-shot, from the artifact."""
    from promptc.artifacts.store import Store

    paths = sorted((SUITE_WORK / task).glob(f"**/{row['artifact']}.json"))
    try:
        artifact = Store.load(paths[0])
        return {
            "compiled": {r["id"]: float(r["score"]) for r in artifact.records("candidate")},
            "zero_shot": {r["id"]: float(r["score"]) for r in artifact.records("baseline")},
        }
    except Exception:
        return None


# --- the report ---------------------------------------------------------------------------------


def paired(cand: dict[str, float], ref: dict[str, float]) -> tuple[float, float, float] | None:
    """Mean difference cand - ref over the shared ids and its paired 95% interval."""
    from promptc.evaluation.stats import paired_interval

    ids = sorted(set(cand) & set(ref))
    if not ids or len(ids) != len(cand) or len(ids) != len(ref):
        return None
    low, high = paired_interval([cand[i] for i in ids], [ref[i] for i in ids], 0.95)
    return statistics.mean(cand[i] - ref[i] for i in ids), low, high


def fmt_interval(d: tuple[float, float, float] | None) -> str:
    """'+0.031 [-0.010, +0.072]' with a mark where the interval excludes 0."""
    if d is None:
        return "n/a"
    mean, low, high = d
    mark = " (above)" if low > 0 else " (below)" if high < 0 else ""
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]{mark}"


SETTINGS_NOTES = [
    "Settings:",
    "",
    "- DSPy program: dspy.Predict over the config's signature (its instructions and field",
    "  descriptions; SNIPS' intent a Literal of the 7 intents, slots typed `dict[str, list[str]]` from",
    "  the config's JSON Schema, SQuAD's answer `str`), ChatAdapter with its JSON fallback (a reply it",
    f"  cannot parse gets a second call through JSONAdapter), max_tokens = the config's + {ADAPTER_TOKENS}",
    "  for the `[[ ## field ## ]]` sections, generation stopped at `[[ ## completed ## ]]` (ChatAdapter",
    "  reads nothing after it; promptc's provider takes no stop strings, so the bench adds it). promptc",
    "  holds its replies to the declared shape with a llama.cpp grammar; DSPy has no such option for a",
    "  litellm model, so its replies are free text. A reply neither adapter parses scores 0.",
    "- BootstrapFewShot: max_bootstrapped_demos 4, max_labeled_demos 6 (promptc's bootstrap_fewshot",
    "  defaults), max_rounds 1, DSPy's own acceptance rule (metric_threshold None: a trace scoring",
    "  above 0 is kept, so a SNIPS trace with the intent right and the slots wrong is a demo; promptc",
    "  keeps a trace only at 1.0 and traces 16 examples; DSPy traces until it has 4). It takes no",
    "  seed: each seed shuffles the train split first, as bench/dspy_compare.py does.",
    f"- KNNFewShot: k = {KNN_K} neighbours (the example in DSPy's documentation), the BootstrapFewShot",
    "  settings above, and a TF-IDF embedder written in the bench (word unigrams, L2-normalised, fitted",
    "  on the train inputs): DSPy's KNNFewShot needs an embedding model, and this machine has none",
    "  offline. Its compile costs nothing; at every call it bootstraps over the input's neighbours",
    f"  (up to {KNN_K} teacher calls) and then answers, so its cost is in the holdout calls. It has no",
    "  randomness (fixed neighbours, greedy decoding), so one run stands for every seed and is paired",
    "  with each seed's promptc rows.",
]


def test_ids(task: str, sizes: list[int]) -> list[str]:
    """The ids of suite.py's test split for the task at these sizes."""
    with tempfile.TemporaryDirectory() as tmp:
        suite.WORK = Path(tmp)
        try:
            path = suite.prepare(task, tuple(sizes))  # type: ignore[arg-type]
            lines = (path.parent / "data" / "test.jsonl").read_text().splitlines()
        finally:
            suite.WORK = SUITE_WORK
    return [json.loads(line)["id"] for line in lines if line.strip()]


def on_split(row: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """A DSPy row restricted to the test ids given (a run on a larger test subset that holds them).

    suite.py's subsets are prefixes of one seeded order, so its 20-example test split is the first
    20 of the 30-example one some runs here answered.
    """
    if set(row["scores"]) == set(ids):
        return row
    scores = {i: row["scores"][i] for i in ids}
    return {
        **row,
        "scores": scores,
        "holdout": statistics.mean(scores.values()),
        "answered": len(row["scores"]),
    }


def dspy_row(data: dict[str, Any], task: str, opt: str, seed: int) -> tuple[dict[str, Any] | None, str]:
    """The DSPy run for (task, optimizer, seed), and a note when it is another seed's run.

    KNNFewShot has no randomness (fixed neighbours, greedy traces): its one run stands for
    every seed.
    """
    runs = {(r["task"], r["optimizer"], r["seed"]): r for r in data["runs"]}
    if (task, opt, seed) in runs:
        return runs[(task, opt, seed)], ""
    if opt == "knn_fewshot":
        for (t, o, s), r in sorted(runs.items()):
            if (t, o) == (task, opt) and "error" not in r:
                return r, f" (seed {s}'s run)"
    return None, ""


def render(data: dict[str, Any]) -> str:
    """The Markdown section for bench/RESULTS.md."""
    v, m = data["versions"], data["machine"]
    lines = [
        SECTION_START,
        "### promptc vs DSPy on outputs beyond one label (bench/dspy_fields.py)",
        "",
        f"Command: `make .venv-bench/.installed && .venv-bench/bin/{data['command']}`. Machine: 2-core",
        "x86 VM, shared with other benchmark jobs while it ran (1-minute load 3 to 10: wall times are upper",
        f"bounds), one llama.cpp thread. Date: 2026-12-07 ({m['date']} to {data.get('finished', '?')}).",
        f"Versions: promptc {v['promptc']}, dspy {v['dspy']}, litellm {v['litellm']},",
        f"llama-cpp-python {v['llama_cpp_python']}.",
        "",
        "Same splits as bench/suite.py (its `prepare(task, sizes)`, default sizes, train / val / test",
        "= " + "; ".join(f"{t} {'/'.join(map(str, suite.default_sizes(t)))}" for t in data["tasks"]) + "),",
        "same model (the embedded SmolLM2-135M-Instruct, greedy), same metric: DSPy's predictions are",
        "scored by promptc's own metric function, built from the task's config by",
        "promptc.metrics.load_metric (SNIPS: intent label_accuracy + slots json_f1, mean of the two;",
        "ATIS: slots json_f1; SQuAD: token_f1, the best over the gold answers as suite.py stores",
        "them; a demo shows the first). promptc rows are read from bench/results/suite.json",
        "(bench/suite.py's runs, not re-run here); DSPy rows are run here. Search calls: model",
        "requests while compiling (promptc: its search requests, cache hits included; DSPy: calls",
        "counted at the llama.cpp",
        "provider, no cache). Holdout calls: model calls to answer the test split. Wall s: promptc's",
        "whole compile (search, then zero-shot and the candidate scored on test); DSPy's compile plus",
        "its holdout. Differences: mean over the test examples of the same seed, with the paired 95%",
        "interval (promptc.evaluation.stats.paired_interval); (above) / (below) where it excludes 0.",
        "",
        "| task | seed | tool / optimizer | holdout | - promptc zero-shot | - promptc auto "
        "| - promptc bootstrap_fewshot | search calls | holdout calls | wall s |",
        "|---|---:|---|---:|---|---|---|---:|---:|---:|",
    ]
    summary: dict[tuple[str, str], list[float]] = {}
    sig_lines: list[str] = []
    extra_lines: list[str] = []
    blank = " | | | | | | |"
    for task in data["tasks"]:
        sizes = list(suite.default_sizes(task))
        ids = test_ids(task, sizes)
        p_rows = promptc_rows(task, sizes)
        for seed in data["seeds"]:
            got = {name: p_rows.get((name, seed)) for name in PROMPTC_ROWS}
            per_ex = {name: promptc_scores(task, r) if r else None for name, r in got.items()}
            ref = {name: (per_ex[name] or {}).get("compiled") for name in PROMPTC_ROWS}
            zero = next((p["zero_shot"] for p in per_ex.values() if p), None)
            first = next((r for r in got.values() if r), None)
            if first:
                lines.append(
                    f"| {task} | {seed} | promptc zero-shot | {first['zero_shot']:.3f} | | | | 0 | "
                    f"{sizes[2]} | |"
                )
                summary.setdefault((task, "promptc zero-shot"), []).append(first["zero_shot"])
            if not any(got.values()):
                lines.append(f"| {task} | {seed} | promptc: no run for this seed in suite.json yet{blank}")
            for name, row in got.items():
                if row is None:
                    if any(got.values()):
                        lines.append(f"| {task} | {seed} | promptc {name} | not in suite.json{blank}")
                    continue
                cells = [f"{row['gain']:+.3f} [{row['gain_low']:+.3f}, {row['gain_high']:+.3f}]"]
                for other in PROMPTC_ROWS:
                    mine = ref[name]
                    theirs = ref[other]
                    cells.append(
                        "" if other == name or not mine or not theirs else fmt_interval(paired(mine, theirs))
                    )
                lines.append(
                    f"| {task} | {seed} | promptc {name} | {row['compiled']:.3f} | {' | '.join(cells)} | "
                    f"{row['search_requests']} | {sizes[2]} | {row['wall_s']:.0f} |"
                )
                summary.setdefault((task, f"promptc {name}"), []).append(row["compiled"])
            extra: dict[str, dict[str, float]] = {}
            for row in other_val_rows(task, sizes):
                if row["seed"] != seed:
                    continue
                label = f"promptc {row['optimizer']} (val {row['sizes'][1]})"
                mine = (promptc_scores(task, row) or {}).get("compiled")
                cells = [f"{row['gain']:+.3f} [{row['gain_low']:+.3f}, {row['gain_high']:+.3f}]"]
                cells += [fmt_interval(paired(mine, ref[n])) if mine and ref[n] else "" for n in PROMPTC_ROWS]
                lines.append(
                    f"| {task} | {seed} | {label} | {row['compiled']:.3f} | {' | '.join(cells)} | "
                    f"{row['search_requests']} | {row['sizes'][2]} | {row['wall_s']:.0f} |"
                )
                summary.setdefault(
                    (task, label.replace(f" (val {row['sizes'][1]})", " (other val)")), []
                ).append(row["compiled"])
                if mine:
                    extra[label] = mine
            for opt in OPTIMIZERS:
                row, note = dspy_row(data, task, opt, seed)
                if row is None:
                    lines.append(f"| {task} | {seed} | DSPy {opt} | not run{blank}")
                    continue
                if "error" in row:
                    lines.append(f"| {task} | {seed} | DSPy {opt} | {row['error']}{blank}")
                    continue
                row = on_split(row, ids)
                if "answered" in row:
                    note += f" (answered {row['answered']}; scored on the {len(ids)})"
                diffs = {
                    "promptc zero-shot": paired(row["scores"], zero) if zero else None,
                    **{
                        f"promptc {n}": paired(row["scores"], ref[n]) if ref[n] else None
                        for n in PROMPTC_ROWS
                    },
                }
                wall = row["compile_s"] + row["eval_s"]
                lines.append(
                    f"| {task} | {seed} | DSPy {opt}{note} | {row['holdout']:.3f} | "
                    + " | ".join(fmt_interval(d) for d in diffs.values())
                    + f" | {row['compile_calls']} | {row['eval_calls']} | {wall:.0f} |"
                )
                if not note.startswith(" (seed"):  # KNNFewShot's one run counts once
                    summary.setdefault((task, f"DSPy {opt}"), []).append(row["holdout"])
                for label, mine in extra.items():
                    d = paired(row["scores"], mine)
                    diffs[label] = d
                    extra_lines.append(f"{task} seed {seed}: DSPy {opt} - {label}: {fmt_interval(d)}")
                for label, d in diffs.items():
                    if d is not None and (d[1] > 0 or d[2] < 0):
                        side = "above" if d[1] > 0 else "below"
                        sig_lines.append(f"{task} seed {seed}: DSPy {opt} significantly {side} {label}")
    columns = list(dict.fromkeys(k[1] for k in summary))
    lines += ["", "Mean holdout over the seeds with a result (n = seeds):", ""]
    lines += ["| task | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for task in data["tasks"]:
        cells = []
        for col in columns:
            values = summary.get((task, col), [])
            cells.append(f"{statistics.mean(values):.3f} (n={len(values)})" if values else "")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    if extra_lines:
        lines += ["", "DSPy against promptc rows run with another val size (same train and test):", ""]
        lines += [f"- {x}" for x in extra_lines]
    lines += ["", "Significant paired differences (95%): " + ("; ".join(sig_lines) or "none") + "."]
    lines += ["", *SETTINGS_NOTES]
    if data.get("notes"):
        lines += ["", *data["notes"]]
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Our section right after the classification comparison (or where it already is)."""
    from results_md import RESULTS_MD

    text = RESULTS_MD.read_text()
    if SECTION_START not in text and ANCHOR in text:
        RESULTS_MD.write_text(text.replace(ANCHOR, ANCHOR + "\n\n" + SECTION_START + "\n" + SECTION_END, 1))
    replace_section(section, SECTION_START, SECTION_END)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--knn-seeds",
        default="0",
        help="seeds KNNFewShot runs for (it has no randomness: neighbours and traces are fixed)",
    )
    parser.add_argument("--sizes", help="train,val,test for every task (default: suite.py's per task)")
    parser.add_argument("--timeout", type=float, help="seconds one (task, optimizer, seed) run may take")
    parser.add_argument("--out", type=Path, default=RESULTS_JSON)
    parser.add_argument("--update-results", action="store_true", help="rewrite our section of RESULTS.md")
    parser.add_argument("--resume", action="store_true", help="keep the finished runs already in --out")
    parser.add_argument("--render-only", action="store_true", help="re-render from --out")
    parser.add_argument("--one", nargs=3, metavar=("TASK", "OPTIMIZER", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    fixed = tuple(int(n) for n in args.sizes.split(",")) if args.sizes else None
    if args.one:
        task, opt, seed = args.one
        print(json.dumps(run_one(task, opt, int(seed), fixed or task_sizes(task))))  # type: ignore[arg-type]
        return
    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    if not args.render_only:
        tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
        command = " ".join(["python bench/dspy_fields.py", *sys.argv[1:]])
        if not data:
            data = {"command": command, "machine": machine(), "versions": versions(), "runs": [], "notes": []}
        data.setdefault("sizes", {})
        data["tasks"] = list(dict.fromkeys([*data.get("tasks", []), *tasks]))
        data["seeds"] = sorted(set(data.get("seeds", [])) | set(seeds))
        knn_seeds = {int(s) for s in args.knn_seeds.split(",")}
        # Seed by seed, so that a run cut short still has every task.
        for seed in seeds:
            for opt in args.optimizers.split(","):
                if opt == "knn_fewshot" and seed not in knn_seeds:
                    continue
                for task in tasks:
                    sizes = fixed or task_sizes(task)
                    data["sizes"][task] = list(sizes)
                    key = (task, opt, seed)
                    done = {(r["task"], r["optimizer"], r["seed"]) for r in data["runs"] if "holdout" in r}
                    if args.resume and key in done:
                        continue
                    row = run_subprocess(task, opt, seed, sizes, args.timeout)  # type: ignore[arg-type]
                    data["runs"] = [r for r in data["runs"] if (r["task"], r["optimizer"], r["seed"]) != key]
                    data["runs"].append(row)
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(data, indent=1) + "\n")
        data["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        args.out.write_text(json.dumps(data, indent=1) + "\n")
    section = render(data)
    print(section)
    if args.update_results:
        write_section(section)


if __name__ == "__main__":
    main()
