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
   refused (optimizers/proposals.py says why); the lineage and the notes count them.
3. The configured program (instruction 0, zero-shot) is scored on the whole
   validation split, which is split with the seed into a search half and a confirmation
   half (optimizers/base.py).
4. `num_trials` trials: `optuna.samplers.TPESampler(seed=...)` picks an (instruction,
   demo set) pair, scored on a seeded minibatch of `minibatch_size` examples of the search
   half. A trial never re-scores a pair: when TPE suggests one already scored, it is told
   the pair's known score on the search half and the trial goes to an untried pair drawn
   with the seed. So every trial costs the same, and the call count is known before the run.
5. After every `minibatch_full_eval_steps` trials, and after the last, the pair with
   the best minibatch score that is not yet fully scored is scored on the rest of the
   validation split. Nothing the search decides reads the confirmation half; selection is
   Search's: the configured program is kept unless a fully scored pair is significantly
   better on the confirmation half.

Presets (`auto`, default light); an explicit setting overrides its preset value:

    auto     num_candidates  num_trials  minibatch_size  minibatch_full_eval_steps
    light          6             10            25                    5
    medium        12             18            35                    5
    heavy         18             27            35                    5

Model calls on a cold cache, with T = min(num_trials, num_candidates**2 - 1) and
mb = min(minibatch_size, ceil(|val| / 2)) (the search half):
|val| + teacher traces + (num_candidates - 1) proposals + T * mb + ceil(T / steps) * (|val| - mb).

The optuna study is stored in SQLite next to the call cache (`optuna.sqlite` in the
directory of `cache:`, by default `$PROMPTC_HOME/optuna.sqlite`), named after the
program, target, seed, settings and data, plus a run id: each run has its own study. Open it with
`optuna-dashboard sqlite:///<path>`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import time
import uuid
from pathlib import Path
from typing import IO, Any

from promptc.config.load import promptc_home
from promptc.errors import BudgetExceeded, RuntimeFailure
from promptc.lm.model import LM
from promptc.optimizers.base import (
    CallEstimate,
    CompileInputs,
    CompileResult,
    Search,
    Trial,
    run_search,
    seeded_rng,
)
from promptc.optimizers.demos import bootstrapped_sets, labeled_set, trace_pool, traced_count
from promptc.optimizers.proposals import (
    data_summary,
    examples_part,
    max_tokens,
    parse_instruction,
    prompt_lm,
    refusals_note,
    rejection,
    request,
    task_parts,
)
from promptc.optimizers.settings import MiproSettings
from promptc.prompting.program import Candidate, Demo, Program
from promptc.prompting.prompt_text import PROPOSER, TIP_PREFIX

TIPS = (
    "Keep the instruction short and direct.",
    "Name the cues in the input that decide each possible output.",
    "Be detailed: describe the task, the outputs and the tricky cases.",
    'Open with a persona that fits the task ("You are ...").',
    "Say what a careless answer would get wrong, and how to avoid it.",
    "Explain what distinguishes outputs that are easy to confuse.",
)
PROPOSAL_TEMPERATURE = 0.7


def proposal_messages(inputs: CompileInputs, s: MiproSettings, index: int) -> list[dict[str, str]]:
    """The prompt-model messages for instruction proposal number index (seeded examples and tip)."""
    program = inputs.program
    rng = seeded_rng(inputs.seed, "propose", index)
    shown = rng.sample(list(inputs.train), min(s.proposal_examples, len(inputs.train)))
    parts = [*task_parts(program, program.signature.instructions), data_summary(inputs)]
    if shown:
        parts.append(examples_part(program, shown))
    if s.tips:
        parts.append(TIP_PREFIX + rng.choice(TIPS))
    return request(PROPOSER, parts)


def _prompt_lm(inputs: CompileInputs, s: MiproSettings) -> LM:
    spec = s.prompt_model
    temperature = spec.temperature if spec and spec.temperature is not None else PROPOSAL_TEMPERATURE
    return prompt_lm(inputs, spec, float(temperature))


def propose_instructions(inputs: CompileInputs, s: MiproSettings) -> tuple[list[str], dict[str, int]]:
    """The configured instructions, then the prompt model's usable proposals; and why others were refused."""
    lm = _prompt_lm(inputs, s)
    advance = inputs.reporter.stage("proposing instructions", s.num_candidates - 1)
    replies = lm.map(
        lambda i: lm.complete(proposal_messages(inputs, s, i), sample=i).text,
        range(1, s.num_candidates),
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


def demo_candidates(inputs: CompileInputs, s: MiproSettings) -> list[tuple[str, tuple[Demo, ...]]]:
    """num_candidates demo sets: zero-shot, labeled only, then bootstrapped ones."""
    n = s.num_candidates
    sets: list[tuple[str, tuple[Demo, ...]]] = [("zero-shot", ())]
    labeled = labeled_set(inputs, s.max_labeled_demos)
    sets.append((f"labeled only {len(labeled)}", labeled))
    if n > 2:
        sets += bootstrapped_sets(inputs, trace_pool(inputs, s), s, n - 3, s.min_bootstrapped_demos)
    return sets[:n]


def study_name(inputs: CompileInputs, s: MiproSettings) -> str:
    """A name for the optuna study that is the same for the same program, target, settings and data."""
    key = {
        "program": inputs.program.to_dict(),
        "target": [inputs.lm.target.model, inputs.lm.target.revision, inputs.lm.target.decoding],
        "seed": inputs.seed,
        "settings": s.to_dict(),
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
    with _lock_file(state_dir / "optuna.lock") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        storage = optuna.storages.RDBStorage(url)
        study = optuna.create_study(
            study_name=f"{name}-{run_id}", storage=storage, sampler=sampler, direction="maximize"
        )
    return study, url


def _lock_file(path: Path) -> IO[bytes]:
    """The lock file, opened without following a link and without truncating what is there."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise RuntimeFailure(
            f"{path}: cannot open mipro's lock file ({exc.strerror}); it must be a regular file, not a link",
            fix=f"remove {path} (promptc creates it again)",
        ) from None
    return os.fdopen(fd, "r+b")


def compile_program(inputs: CompileInputs, s: MiproSettings) -> CompileResult:
    """Propose instructions, bootstrap demo sets, search pairs of them with TPE, keep the best on val."""
    _prompt_lm(inputs, s)  # refuses a wrong prompt_model revision before any model call
    return run_search(inputs, lambda log: _search(log, s))


Pair = tuple[int, int]  # (instruction index, demo set index)


def _search(log: Search, s: MiproSettings) -> None:
    inputs = log.inputs
    baseline = log.score_incumbent(
        "instruction 0 + zero-shot", Candidate(inputs.program.signature.instructions)
    )
    demo_sets = demo_candidates(inputs, s)
    instructions, rejected = propose_instructions(inputs, s)
    log.lineage.update(
        instructions=instructions, demo_sets=[name for name, _ in demo_sets], rejected_proposals=rejected
    )
    if rejected:
        log.notes.append(refusals_note(rejected, f"of {s.num_candidates - 1} proposed instructions"))
    n_trials = min(s.num_trials, len(instructions) * len(demo_sets) - 1)
    name = study_name(inputs, s)
    study, url = _study(inputs, name, n_trials)
    log.lineage["optuna_study"] = name
    log.notes.append(f"optuna study {study.study_name!r} in {url} (open it with: optuna-dashboard {url})")
    _PairSearch(log, s, study, instructions, demo_sets, baseline).run(n_trials)


class _PairSearch:
    """The TPE trials of one mipro search: what is known of each (instruction, demo set) pair.

    Per pair: its scores on the search-half examples scored so far, their mean (`known`), the
    minibatch score; which pairs are scored on the whole of val; the order pairs were tried.
    """

    def __init__(
        self,
        log: Search,
        s: MiproSettings,
        study: Any,
        instructions: list[str],
        demo_sets: list[tuple[str, tuple[Demo, ...]]],
        baseline: Trial,
    ) -> None:
        self.log, self.s, self.study = log, s, study
        self.instructions, self.demo_sets = instructions, demo_sets
        self.pairs: list[Pair] = [(i, j) for i in range(len(instructions)) for j in range(len(demo_sets))]
        self.search_half = log.search_half  # minibatches and known scores never touch the confirmation half
        self.size = min(s.minibatch_size, len(self.search_half))
        self.scores: dict[Pair, dict[str, float]] = {(0, 0): {i: baseline.scores[i] for i in log.search_ids}}
        self.known: dict[Pair, float] = {(0, 0): log.search_score(baseline)}  # mean on the search half so far
        self.minibatch_score: dict[Pair, float] = {}
        self.fully: set[Pair] = {(0, 0)}
        self.tried: list[Pair] = []
        self.untried_rng = seeded_rng(log.inputs.seed, "untried")
        self.minibatch_rng = seeded_rng(log.inputs.seed, "minibatch")

    def candidate(self, pair: Pair) -> Candidate:
        """The pair's instruction with its demo set."""
        return Candidate(self.instructions[pair[0]], self.demo_sets[pair[1]][1])

    def label(self, pair: Pair) -> str:
        """The pair's name in the trial log."""
        return f"instruction {pair[0]} + {self.demo_sets[pair[1]][0]}"

    def run(self, n_trials: int) -> None:
        """n_trials minibatch trials; every minibatch_full_eval_steps and at the end, a full validation."""
        for step in range(1, n_trials + 1):
            trial, pair = self.ask()
            self.score_minibatch(trial, pair, f"trial {step}/{n_trials}: {self.label(pair)}")
            if step % self.s.minibatch_full_eval_steps == 0 or step == n_trials:
                pending = [p for p in self.tried if p not in self.fully]
                if pending:
                    self.score_fully(min(pending, key=self.full_priority))

    def ask(self) -> tuple[Any, Pair]:
        """TPE's next pair; one already scored is told its known score and swapped for an untried one."""
        trial = self.study.ask()
        pair = self.suggest(trial)
        if pair in self.known:
            self.study.tell(trial, self.known[pair])
            pair = self.untried_rng.choice([p for p in self.pairs if p not in self.known])
            self.study.enqueue_trial({"instruction": pair[0], "demo_set": pair[1]})
            trial = self.study.ask()
            pair = self.suggest(trial)
        trial.set_user_attr("instruction", self.instructions[pair[0]])
        trial.set_user_attr("demo_set", self.demo_sets[pair[1]][0])
        return trial, pair

    def suggest(self, trial: Any) -> Pair:
        """The pair an optuna trial suggests."""
        return (
            trial.suggest_categorical("instruction", list(range(len(self.instructions)))),
            trial.suggest_categorical("demo_set", list(range(len(self.demo_sets)))),
        )

    def score_minibatch(self, trial: Any, pair: Pair, stage: str) -> None:
        """Score a pair on a seeded minibatch of the search half, tell the study and record the trial."""
        import optuna

        half = self.search_half
        batch = [half[k] for k in sorted(self.minibatch_rng.sample(range(len(half)), self.size))]
        try:
            ev, requests = self.log.evaluate(self.candidate(pair), batch, stage)
        except BudgetExceeded:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        self.study.tell(trial, ev.overall.mean)
        self.scores[pair] = {r.id: r.score for r in ev.records}
        self.known[pair] = self.minibatch_score[pair] = ev.overall.mean
        self.tried.append(pair)
        scores = dict(self.scores[pair])
        self.log.record(
            Trial(
                self.label(pair), self.candidate(pair), ev.overall.mean, requests, len(batch), False, scores
            )
        )

    def full_priority(self, pair: Pair) -> tuple[float, int, int]:
        """The order pending pairs are scored fully in: best minibatch score, fewer demos, earlier."""
        return -self.minibatch_score[pair], len(self.demo_sets[pair[1]][1]), self.tried.index(pair)

    def score_fully(self, pair: Pair) -> None:
        """Score a pair on the val examples it has not seen and record it, fully scored."""
        stage = f"scoring {self.label(pair)} on the rest of val"
        trial = self.log.complete(self.label(pair), self.candidate(pair), self.scores[pair], stage)
        self.fully.add(pair)
        self.known[pair] = self.log.search_score(trial)


def estimate_calls(
    s: MiproSettings, n_train: int, n_val: int, program: Program | None = None
) -> CallEstimate:
    """Calls on a cold cache, following the steps in the module docstring."""
    n = s.num_candidates
    trials = min(s.num_trials, n * n - 1)
    size = min(s.minibatch_size, (n_val + 1) // 2)
    full_evals = math.ceil(trials / s.minibatch_full_eval_steps) if trials else 0
    return CallEstimate(
        stages=(
            ("configured program on val", n_val),
            ("teacher traces on train", traced_count(s, n_train) if n > 2 else 0),
            ("instruction proposals (prompt model)", n - 1),
            (f"{trials} trials x minibatch of {size}", trials * size),
            (f"{full_evals} full validations of the best pairs", full_evals * (n_val - size)),
        ),
        max_demos=max(s.max_labeled_demos, s.max_bootstrapped_demos),
        prompt_model_calls=n - 1,
        prompt_model=s.prompt_model.model if s.prompt_model else None,
        prompt_model_max_tokens=max_tokens(s.prompt_model),
    )
