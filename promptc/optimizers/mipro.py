"""mipro: search instructions and demo sets together with optuna's TPE (in the spirit of DSPy's MIPROv2).

1. Demo-set candidates (`num_candidates`): zero-shot, labeled only, bootstrapped in
   train order, then seeded shuffles: the sets random_search scores.
2. Instruction candidates: the configured instructions plus `num_candidates - 1`
   proposals by the prompt model (`prompt_model: {model, revision, temperature: 0.7,
   max_tokens: 160}`; default: the target, with that temperature and length). Each proposal
   is grounded in the signature, a summary of the training data (computed, no model
   call), `proposal_examples` labeled training examples and a tip drawn with the seed
   from TIPS (`tips: false` leaves the tip out). Proposals that are empty, too long,
   duplicates, copies of training inputs, or (enum outputs) silent on a label name are
   refused (`rejection` says why); the lineage and the notes count them.
3. The configured program (instruction 0, zero-shot) is scored on the whole
   validation split.
4. `num_trials` trials: `optuna.samplers.TPESampler(seed=...)` picks an (instruction,
   demo set) pair, scored on a seeded minibatch of `minibatch_size` validation
   examples. A trial never re-scores a pair: when TPE suggests one already scored, it
   is told the known score and the trial goes to an untried pair drawn with the seed.
   So every trial costs the same, and the call count is known before the run.
5. After every `minibatch_full_eval_steps` trials, and after the last, the pair with
   the best minibatch score that is not yet fully scored is scored on the rest of the
   validation split. Only full-validation scores choose the winner (ties: fewer demos,
   then the earlier trial), so the result is never worse on val than the configured program.

Presets (`auto`, default light); an explicit setting overrides its preset value:

    auto     num_candidates  num_trials  minibatch_size  minibatch_full_eval_steps
    light          6             10            25                    5
    medium        12             18            35                    5
    heavy         18             27            35                    5

Model calls on a cold cache, with T = min(num_trials, num_candidates**2 - 1) and
mb = min(minibatch_size, |val|):
|val| + teacher traces + (num_candidates - 1) proposals + T * mb + ceil(T / steps) * (|val| - mb).

The optuna study is stored in SQLite next to the call cache (`optuna.sqlite` in the
directory of `cache:`, by default `$PROMPTC_HOME/optuna.sqlite`), named after the
program, target, seed, settings and data, plus a run id: each run has its own study. Open it with
`optuna-dashboard sqlite:///<path>`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import math
import os
import re
import time
import uuid
from collections import Counter
from typing import Any

from promptc.adapter import assistant_message, describe_field, user_message
from promptc.config import promptc_home
from promptc.errors import BudgetExceeded
from promptc.lm import LM
from promptc.optimizers.base import (
    CallEstimate,
    CompileInputs,
    CompileResult,
    Search,
    Trial,
    labeled_demo,
    mean,
    run_search,
    seeded_rng,
    with_defaults,
)
from promptc.optimizers.demos import (
    DEMO_SETTINGS,
    bootstrapped_sets,
    labeled_set,
    trace_pool,
    traced_count,
)
from promptc.program import Candidate, Demo

PRESETS: dict[str, dict[str, int]] = {
    "light": {"num_candidates": 6, "num_trials": 10, "minibatch_size": 25, "minibatch_full_eval_steps": 5},
    "medium": {"num_candidates": 12, "num_trials": 18, "minibatch_size": 35, "minibatch_full_eval_steps": 5},
    "heavy": {"num_candidates": 18, "num_trials": 27, "minibatch_size": 35, "minibatch_full_eval_steps": 5},
}

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "auto": {"enum": list(PRESETS), "default": "light"},
        "num_candidates": {"type": "integer", "minimum": 1},
        "num_trials": {"type": "integer", "minimum": 0},
        "minibatch_size": {"type": "integer", "minimum": 1},
        "minibatch_full_eval_steps": {"type": "integer", "minimum": 1},
        "proposal_examples": {"type": "integer", "minimum": 0, "default": 6},
        "tips": {"type": "boolean", "default": True},
        "prompt_model": {
            "type": "object",
            "additionalProperties": False,
            "required": ["model", "revision"],
            "properties": {
                "model": {"type": "string", "minLength": 1},
                "revision": {"type": "string", "minLength": 1},
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "max_tokens": {"type": "integer", "minimum": 1},
            },
        },
        "min_bootstrapped_demos": {"type": "integer", "minimum": 0, "default": 1},
        **DEMO_SETTINGS,
    },
}

PROPOSER = (
    "You write instructions for a language model. Propose one new instruction for the task below: "
    "what the model should look at in the inputs and how to decide the outputs, in a few sentences. "
    "Reply in exactly this format:\ninstruction: <the new instruction>"
)
TIPS = (
    "Keep the instruction short and direct.",
    "Name the cues in the input that decide each possible output.",
    "Be detailed: describe the task, the outputs and the tricky cases.",
    'Open with a persona that fits the task ("You are ...").',
    "Say what a careless answer would get wrong, and how to avoid it.",
    "Explain what distinguishes outputs that are easy to confuse.",
)
PROPOSAL_TEMPERATURE = 0.7
PROPOSAL_MAX_TOKENS = 160  # "a few sentences"; small local models ramble on when let


def _settings(raw: dict[str, Any]) -> dict[str, Any]:
    s = with_defaults(SETTINGS, raw)
    return {**PRESETS[s["auto"]], **s}


def summarise_data(inputs: CompileInputs) -> str:
    """A short description of the training data, computed without a model call."""
    train = inputs.train
    lines = [f"{len(train)} training examples."]
    for f in inputs.program.signature.outputs:
        values = [e.outputs[f.name] for e in train]
        if f.type in ("enum", "bool"):
            counts = Counter(str(v) for v in values).most_common()
            lines.append(f"{f.name}: " + ", ".join(f"{value} {n}" for value, n in counts))
        elif f.type in ("int", "float") and values:
            lines.append(f"{f.name}: from {min(values)} to {max(values)}")
        elif values:
            words = [len(json.dumps(v).split()) if f.type == "json" else len(str(v).split()) for v in values]
            lines.append(f"{f.name}: {sum(words) / len(words):.0f} words on average")
    for f in inputs.program.signature.inputs:
        if f.type == "str" and train:
            words = [len(str(e.inputs[f.name]).split()) for e in train]
            lines.append(
                f"{f.name}: {sum(words) / len(words):.0f} words on average ({min(words)}-{max(words)})"
            )
    return "\n".join(lines)


def proposal_messages(inputs: CompileInputs, s: dict[str, Any], index: int) -> list[dict[str, str]]:
    """The prompt-model messages for instruction proposal number index (seeded examples and tip)."""
    program = inputs.program
    rng = seeded_rng(inputs.seed, "propose", index)
    shown = rng.sample(list(inputs.train), min(s["proposal_examples"], len(inputs.train)))
    parts = [
        f"Task: {program.name}",
        "Current instruction:\n" + (program.signature.instructions or "(none)"),
        "Inputs:\n" + "\n".join(f"- {describe_field(f)}" for f in program.signature.inputs),
        "Outputs:\n" + "\n".join(f"- {describe_field(f)}" for f in program.signature.outputs),
        "Data summary:\n" + summarise_data(inputs),
    ]
    if shown:
        blocks = [
            user_message(program, e.inputs) + "\n" + assistant_message(program, labeled_demo(e))
            for e in shown
        ]
        parts.append("Examples:\n" + "\n\n".join(blocks))
    if s["tips"]:
        parts.append("Tip: " + rng.choice(TIPS))
    return [{"role": "system", "content": PROPOSER}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_instruction(text: str) -> str:
    """The instruction in a proposal reply, on one line."""
    m = re.search(r"instruction\s*:\s*", text, re.IGNORECASE)
    body = text[m.end() :] if m else text
    return " ".join(body.strip().strip("`\"'").split())


def prompt_lm(inputs: CompileInputs, spec: dict[str, Any] | None, temperature: float) -> LM:
    """The prompt model: spec's model when given (its revision checked), else the target;
    sampled at temperature, with spec's max_tokens or PROPOSAL_MAX_TOKENS."""
    target = inputs.lm.target
    if spec is not None:
        # Another model: the target's endpoints, key and rate caps are not its (litellm's defaults apply).
        target = dataclasses.replace(
            target,
            model=spec["model"],
            revision=spec["revision"],
            api_base=None,
            api_key_env=None,
            deployments=(),
            rpm=None,
            tpm=None,
        )
    target = dataclasses.replace(
        target,
        temperature=temperature,
        max_tokens=int((spec or {}).get("max_tokens", PROPOSAL_MAX_TOKENS)),
    )
    lm = inputs.lm.for_target(target)
    if spec is not None:
        lm.check_revision()
    return lm


def _prompt_lm(inputs: CompileInputs, s: dict[str, Any]) -> LM:
    spec = s.get("prompt_model")
    return prompt_lm(inputs, spec, float((spec or {}).get("temperature", PROPOSAL_TEMPERATURE)))


MAX_INSTRUCTION_CHARS = 600  # "a few sentences"; longer ones are rambling or cut off by the token cap
COPY_WORDS = 6  # a run of this many words from a training input counts as copying it


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _runs(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def rejection(inputs: CompileInputs, text: str, kept: list[str]) -> str | None:
    """Why a proposed instruction is unusable, or None when it may be searched.

    Refused: empty; longer than MAX_INSTRUCTION_CHARS; a duplicate (same words) of one kept
    already; one that copies a training input (COPY_WORDS words in a row, or a whole
    shorter input of 4 or more words: training data in the prompt is memorised, not taught);
    and, for enum outputs, one that leaves out a label name (the model must be told them).
    """
    words = _words(text)
    if not words:
        return "empty"
    if len(text) > MAX_INSTRUCTION_CHARS:
        return f"longer than {MAX_INSTRUCTION_CHARS} characters"
    if any(words == _words(k) for k in kept):
        return "duplicate"
    runs, joined = _runs(words, COPY_WORDS), " " + " ".join(words) + " "
    for example in inputs.train:
        for value in example.inputs.values():
            source = _words(str(value))
            if runs & _runs(source, COPY_WORDS) or (
                4 <= len(source) < COPY_WORDS and " " + " ".join(source) + " " in joined
            ):
                return "copies a training input"
    for f in inputs.program.signature.outputs:
        missing = [str(label) for label in f.labels if " " + " ".join(_words(str(label))) + " " not in joined]
        if f.type == "enum" and missing:
            return "leaves out a label name"
    return None


def propose_instructions(inputs: CompileInputs, s: dict[str, Any]) -> tuple[list[str], dict[str, int]]:
    """The configured instructions, then the prompt model's usable proposals; and why others were refused."""
    lm = _prompt_lm(inputs, s)
    advance = inputs.reporter.stage("proposing instructions", s["num_candidates"] - 1)
    replies = lm.map(
        lambda i: lm.complete(proposal_messages(inputs, s, i), sample=i).text,
        range(1, s["num_candidates"]),
        advance,
    )
    out = [inputs.program.signature.instructions]
    rejected: dict[str, int] = {}
    for reply in replies:
        text = parse_instruction(reply)
        why = rejection(inputs, text, out)
        if why is None:
            out.append(text)
        else:
            rejected[why] = rejected.get(why, 0) + 1
    return out, rejected


def demo_candidates(inputs: CompileInputs, s: dict[str, Any]) -> list[tuple[str, tuple[Demo, ...]]]:
    """num_candidates demo sets: zero-shot, labeled only, then bootstrapped ones."""
    n = s["num_candidates"]
    sets: list[tuple[str, tuple[Demo, ...]]] = [("zero-shot", ())]
    labeled = labeled_set(inputs, s["max_labeled_demos"])
    sets.append((f"labeled only {len(labeled)}", labeled))
    if n > 2:
        sets += bootstrapped_sets(inputs, trace_pool(inputs, s), s, n - 3)
    return sets[:n]


def study_name(inputs: CompileInputs, s: dict[str, Any]) -> str:
    """A name for the optuna study that is the same for the same program, target, settings and data."""
    key = {
        "program": inputs.program.to_dict(),
        "target": [inputs.lm.target.model, inputs.lm.target.revision, inputs.lm.target.decoding],
        "seed": inputs.seed,
        "settings": s,
        "data": [[e.id for e in inputs.train], [e.id for e in inputs.val]],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{inputs.program.name}-{inputs.program.version}-mipro-{digest}"


def _study(inputs: CompileInputs, name: str, num_trials: int) -> tuple[Any, str]:
    """A new optuna study for this run: `name` plus a run id, so concurrent runs never share one.

    Earlier runs' studies are left alone (one may still be running); the name does not
    influence sampling, which only the seeded sampler decides.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    state_dir = inputs.state_dir or promptc_home()
    state_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(state_dir / 'optuna.sqlite').resolve()}"
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    sampler = optuna.samplers.TPESampler(
        seed=inputs.seed % 2**32, n_startup_trials=max(2, min(10, num_trials // 3))
    )
    # Two runs creating the schema of a new SQLite file at once can collide; take turns.
    with open(state_dir / "optuna.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        storage = optuna.storages.RDBStorage(url)
        study = optuna.create_study(
            study_name=f"{name}-{run_id}", storage=storage, sampler=sampler, direction="maximize"
        )
    return study, url


def compile_program(inputs: CompileInputs) -> CompileResult:
    """Propose instructions, bootstrap demo sets, search pairs of them with TPE, keep the best on val."""
    s = _settings(inputs.settings)
    _prompt_lm(inputs, s)  # refuses a wrong prompt_model revision before any model call
    return run_search(inputs, lambda log: _search(log, s))


def _search(log: Search, s: dict[str, Any]) -> None:
    import optuna

    inputs = log.inputs
    val = inputs.val
    scores: dict[tuple[int, int], dict[str, float]] = {}
    baseline = log.score_incumbent(
        "instruction 0 + zero-shot", Candidate(inputs.program.signature.instructions)
    )
    demo_sets = demo_candidates(inputs, s)
    instructions, rejected = propose_instructions(inputs, s)
    log.lineage.update(
        instructions=instructions, demo_sets=[name for name, _ in demo_sets], rejected_proposals=rejected
    )
    if rejected:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(rejected.items()))
        log.notes.append(
            f"{sum(rejected.values())} of {s['num_candidates'] - 1} proposed instructions refused: {reasons}"
        )

    pairs = [(i, j) for i in range(len(instructions)) for j in range(len(demo_sets))]
    n_trials = min(s["num_trials"], len(pairs) - 1)
    name = study_name(inputs, s)
    study, url = _study(inputs, name, n_trials)
    log.lineage["optuna_study"] = name
    log.notes.append(f"optuna study {study.study_name!r} in {url} (open it with: optuna-dashboard {url})")

    def candidate(pair: tuple[int, int]) -> Candidate:
        return Candidate(instructions[pair[0]], demo_sets[pair[1]][1])

    def label(pair: tuple[int, int]) -> str:
        return f"instruction {pair[0]} + {demo_sets[pair[1]][0]}"

    scores[(0, 0)] = dict(baseline.scores)
    known = {(0, 0): baseline.full_score}  # the mean of every example scored so far, per pair
    minibatch_score: dict[tuple[int, int], float] = {}
    fully = {(0, 0)}
    tried: list[tuple[int, int]] = []
    untried_rng = seeded_rng(inputs.seed, "untried")
    minibatch_rng = seeded_rng(inputs.seed, "minibatch")
    size = min(s["minibatch_size"], len(val))

    def suggest(trial: Any) -> tuple[int, int]:
        return (
            trial.suggest_categorical("instruction", list(range(len(instructions)))),
            trial.suggest_categorical("demo_set", list(range(len(demo_sets)))),
        )

    def score_fully(pair: tuple[int, int]) -> None:
        rest = [e for e in val if e.id not in scores[pair]]
        ev, requests = log.evaluate(candidate(pair), rest, f"scoring {label(pair)} on the rest of val")
        scores[pair].update({r.id: r.score for r in ev.records})
        known[pair] = mean([scores[pair][e.id] for e in val])
        fully.add(pair)
        log.record(
            Trial(
                label(pair),
                candidate(pair),
                known[pair],
                requests,
                n=len(val),
                full=True,
                scores=scores[pair],
            )
        )

    for step in range(1, n_trials + 1):
        trial = study.ask()
        pair = suggest(trial)
        if pair in known:
            study.tell(trial, known[pair])
            pair = untried_rng.choice([p for p in pairs if p not in known])
            study.enqueue_trial({"instruction": pair[0], "demo_set": pair[1]})
            trial = study.ask()
            pair = suggest(trial)
        trial.set_user_attr("instruction", instructions[pair[0]])
        trial.set_user_attr("demo_set", demo_sets[pair[1]][0])
        batch = [val[k] for k in sorted(minibatch_rng.sample(range(len(val)), size))]
        try:
            ev, requests = log.evaluate(candidate(pair), batch, f"trial {step}/{n_trials}: {label(pair)}")
        except BudgetExceeded:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        study.tell(trial, ev.overall.mean)
        scores[pair] = {r.id: r.score for r in ev.records}
        known[pair] = minibatch_score[pair] = ev.overall.mean
        tried.append(pair)
        full = len(batch) == len(val)
        if full:
            fully.add(pair)
        log.record(
            Trial(
                label(pair), candidate(pair), ev.overall.mean, requests, len(batch), full, dict(scores[pair])
            )
        )
        if step % s["minibatch_full_eval_steps"] == 0 or step == n_trials:
            pending = [p for p in tried if p not in fully]
            if pending:
                score_fully(
                    min(pending, key=lambda p: (-minibatch_score[p], len(demo_sets[p[1]][1]), tried.index(p)))
                )


def estimate_calls(settings: dict[str, Any], n_train: int, n_val: int) -> CallEstimate:
    """Calls on a cold cache, following the steps in the module docstring."""
    s = _settings(settings)
    n = s["num_candidates"]
    trials = min(s["num_trials"], n * n - 1)
    size = min(s["minibatch_size"], n_val)
    full_evals = math.ceil(trials / s["minibatch_full_eval_steps"]) if trials else 0
    return CallEstimate(
        stages=(
            ("configured program on val", n_val),
            ("teacher traces on train", traced_count(s, n_train) if n > 2 else 0),
            ("instruction proposals (prompt model)", n - 1),
            (f"{trials} trials x minibatch of {size}", trials * size),
            (f"{full_evals} full validations of the best pairs", full_evals * (n_val - size)),
        ),
        max_demos=max(s["max_labeled_demos"], s["max_bootstrapped_demos"]),
        prompt_model_calls=n - 1,
        prompt_model=(s.get("prompt_model") or {}).get("model"),
        prompt_model_max_tokens=(s.get("prompt_model") or {}).get("max_tokens", PROPOSAL_MAX_TOKENS),
    )
