"""gepa: reflective instruction evolution over a per-example Pareto frontier (in the spirit of GEPA).

GEPA searches the instructions only; the configured program's demos are kept as they are.

1. The configured program is scored on the whole validation split (the incumbent), and val
   is split with the seed into a search half and a confirmation half (optimizers/base.py).
   The frontier is kept over the search half only, so the confirmation half stays unseen
   until the final, noise-aware selection.
2. Each round (seeded by the round number):
   - a parent is sampled from the per-example Pareto frontier: the candidates that score
     best on at least one search-half example, weighted by how many such examples they own;
   - it runs on a minibatch of `minibatch_size` training examples;
   - the reflection model (`reflection_model: {model, revision, temperature, max_tokens}`,
     its own model and revision) is shown the parent's instruction and, for each minibatch
     example scored below 1, the inputs, the answer and the metric's feedback; it replies
     with a rewritten instruction;
   - the rewrite passes mipro's hygiene (`mipro.rejection`: empty, too long, a duplicate,
     a copy of a training input, silent on a label name) or is refused;
   - the rewrite runs on the same minibatch; it is accepted only when its minibatch total
     beats the parent's, and then scored on the search half of val and added to the pool.
   With `merge: true`, every third round instead merges two frontier candidates of different
   lineages: the reflection model combines their instructions, and the merge is accepted
   when it beats both parents on the minibatch.
   A parent perfect on its minibatch gives no failures to reflect on; that round ends early.
3. The search stops before a round could take the metric calls past the budget
   (`max_metric_calls`, or `auto: light | medium | heavy` = 6, 12 or 24 rounds' worth),
   keeping room for step 4.
4. The `CONFIRM_TOP` candidates best on the search half that beat the configured program
   there are scored on the confirmation half, and selection is Search's: the configured
   program is kept unless a finalist is significantly better at the stated confidence.

A metric call is one example scored; the reflection model's calls are not metric calls.
With R rounds, mb = min(minibatch_size, |train|), S = ceil(|val| / 2), C = |val| - S, the
metric calls are at most |val| + R * (k * mb + S) + CONFIRM_TOP * C, with k = 3 when merging,
else 2, and R at most the budget's rounds; a dry run reports that bound and R reflection calls.

The search state (every score, answer and feedback by candidate and example, and every
reflection reply) is saved atomically as JSON after each evaluation, in
`<state dir>/gepa/<key>.json`, keyed by program, target, reflection model, seed, settings and
data. A run that is interrupted (even by kill -9) resumes where it stopped: the rounds replay
from the saved state and nothing already scored is evaluated again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptc.adapter import describe_field, user_message
from promptc.artifacts import atomic_write
from promptc.config import promptc_home
from promptc.data import Example
from promptc.errors import ConfigError, RevisionMismatch
from promptc.lm import LM
from promptc.optimizers.base import (
    CONFIRM_TOP,
    CallEstimate,
    CompileInputs,
    CompileResult,
    Search,
    Trial,
    mean,
    run_search,
    seeded_rng,
    with_defaults,
)
from promptc.optimizers.mipro import PROPOSAL_MAX_TOKENS, parse_instruction, prompt_lm, rejection
from promptc.program import Candidate, baseline_candidate

AUTO_ROUNDS = {"light": 6, "medium": 12, "heavy": 24}
MERGE_EVERY = 3  # with merge: true, rounds 3, 6, 9, ... merge two lineages
STATE_VERSION = 2
FEEDBACK_SHOWN_CHARS = 500  # per failure, in the reflection prompt and the lineage

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reflection_model"],
    "properties": {
        "reflection_model": {
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
        "auto": {"enum": list(AUTO_ROUNDS), "default": "light"},
        "max_metric_calls": {"type": "integer", "minimum": 1},
        "minibatch_size": {"type": "integer", "minimum": 1, "default": 3},
        "merge": {"type": "boolean", "default": False},
    },
}

REFLECTOR = (
    "You improve the instruction of a language model from its mistakes. Rewrite the instruction "
    "so that the model gets examples like the ones below right, and keeps what already works: "
    "name the cues in the inputs that decide each output, in a few sentences. Do not copy the "
    "examples. Reply in exactly this format:\ninstruction: <the new instruction>"
)
MERGER = (
    "You improve the instruction of a language model. Two instructions each get different "
    "examples right. Rewrite the instruction: combine what both of them teach into one, in a "
    "few sentences. Reply in exactly this format:\ninstruction: <the new instruction>"
)
REFLECTION_TEMPERATURE = 0.7


def _sizes(inputs: CompileInputs, s: dict[str, Any]) -> tuple[int, int, int]:
    """(minibatch, search half, confirmation half) sizes."""
    return _sizes_of(s, len(inputs.train), len(inputs.val))


def _sizes_of(s: dict[str, Any], n_train: int, n_val: int) -> tuple[int, int, int]:
    search = (n_val + 1) // 2
    return min(s["minibatch_size"], n_train), search, n_val - search


def _round_cost(s: dict[str, Any], mb: int, search: int) -> int:
    """The most metric calls one round takes."""
    return (3 if s["merge"] else 2) * mb + search


def budget(s: dict[str, Any], n_train: int, n_val: int) -> int:
    """The metric-call budget: max_metric_calls, or the auto preset's rounds' worth."""
    if "max_metric_calls" in s:
        return int(s["max_metric_calls"])
    mb, search, confirm = _sizes_of(s, n_train, n_val)
    return n_val + AUTO_ROUNDS[s["auto"]] * _round_cost(s, mb, search) + CONFIRM_TOP * confirm


def max_rounds(s: dict[str, Any], n_train: int, n_val: int) -> int:
    """The rounds the budget allows, keeping room for the incumbent and the confirmations."""
    mb, search, confirm = _sizes_of(s, n_train, n_val)
    room = budget(s, n_train, n_val) - n_val - CONFIRM_TOP * confirm
    return max(0, room // _round_cost(s, mb, search))


def reflection_lm(inputs: CompileInputs, s: dict[str, Any]) -> LM:
    """The reflection model (its revision checked), sampled at its temperature."""
    spec = s["reflection_model"]
    try:
        return prompt_lm(inputs, spec, float(spec.get("temperature", REFLECTION_TEMPERATURE)))
    except RevisionMismatch as exc:  # the message names target.revision; this is another key
        raise RevisionMismatch(
            f"optimizer.settings.reflection_model.revision: {exc.message}",
            fix="set reflection_model.revision to the revision named above",
        ) from None


def state_path(inputs: CompileInputs, s: dict[str, Any]) -> Path:
    """Where this search's state lives: named by program, target, seed, settings and data."""
    key = {
        "program": inputs.program.to_dict(),
        "target": [inputs.lm.target.model, inputs.lm.target.revision, inputs.lm.target.decoding],
        "seed": inputs.seed,
        "settings": s,
        "confidence": inputs.selection_confidence,
        "data": [
            [[e.id, e.inputs, e.outputs] for e in inputs.train],
            [[e.id, e.inputs, e.outputs] for e in inputs.val],
        ],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    folder = (inputs.state_dir or promptc_home()) / "gepa"
    return folder / f"{inputs.program.name}-{inputs.program.version}-{digest}.json"


class State:
    """The saved search: per candidate instruction, per example, the score, answer and feedback."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": STATE_VERSION, "scores": {}, "replies": {}}
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = None  # a damaged state is started afresh; the call cache still holds the calls
            if isinstance(loaded, dict) and loaded.get("version") == STATE_VERSION:
                self.data = loaded

    def scores(self, instruction: str) -> dict[str, dict[str, Any]]:
        """example id -> {score, feedback, answer} for one instruction."""
        table: dict[str, dict[str, Any]] = self.data["scores"].setdefault(instruction, {})
        return table

    def reply(self, key: str) -> dict[str, Any] | None:
        """A saved reflection reply: text and tokens."""
        reply: dict[str, Any] | None = self.data["replies"].get(key)
        return reply

    def save_reply(self, key: str, reply: dict[str, Any]) -> None:
        """Keep a reflection reply, on disk at once."""
        self.data["replies"][key] = reply
        self.save()

    def save(self) -> None:
        """Write the state atomically."""
        atomic_write(self.path, json.dumps(self.data, sort_keys=True))


@dataclasses.dataclass
class Member:
    """A candidate in the pool: its instruction, lineage and search-half scores."""

    index: int
    instruction: str
    parents: tuple[int, ...]
    root: int  # the first rewrite of the configured program this one descends from (0: configured)
    trial: Trial | None = None


class Gepa:
    """One gepa search over a Search log; all state lives here and in the saved State."""

    def __init__(self, log: Search, s: dict[str, Any]) -> None:
        self.log = log
        self.inputs = log.inputs
        self.s = s
        self.state = State(state_path(self.inputs, s))
        self.baseline = baseline_candidate(self.inputs.program)
        self.counted: set[tuple[str, str]] = set()  # (instruction, example id) scored in this search
        self.replayed = 0  # of those, the ones read from the saved state of an earlier run
        self.by_id = {e.id: e for e in self.inputs.val}
        search_ids, confirm_ids = log.halves()
        self.search_half = [self.by_id[i] for i in search_ids]
        self.confirm_half = [self.by_id[i] for i in confirm_ids]
        self.pool: list[Member] = []
        self.merged: set[tuple[int, int]] = set()  # pairs already merged, never drawn again

    def candidate(self, instruction: str) -> Candidate:
        """The configured program with another instruction."""
        return dataclasses.replace(self.baseline, instructions=instruction)

    def run(self, instruction: str, examples: Sequence[Example], stage: str) -> dict[str, dict[str, Any]]:
        """Scores of an instruction on examples; only those not saved yet are evaluated (then saved).

        Rows read from an earlier run's saved state are counted on the LM as cache hits, so the
        accounting is the same as an uninterrupted run's.
        """
        table = self.state.scores(instruction)
        missing = [e for e in examples if e.id not in table]
        fresh = {(instruction, e.id) for e in examples} - self.counted
        self.counted |= fresh
        replayed = [table[i] for _, i in sorted(fresh) if i in table]
        if replayed:
            self.replayed += len(replayed)
            self.inputs.lm.count_replayed(
                sum(int(r["requests"]) for r in replayed),
                sum(int(r["prompt_tokens"]) for r in replayed),
                sum(int(r["completion_tokens"]) for r in replayed),
            )
        if missing:
            ev, requests = self.log.evaluate(self.candidate(instruction), missing, stage)
            for n, r in enumerate(ev.records):
                p = r.prediction
                table[r.id] = {
                    "score": r.score,
                    "feedback": r.feedback,
                    "answer": p.raw,
                    # the batch's requests, spread over its rows (one each for an instruction candidate)
                    "requests": requests // len(missing) + (1 if n < requests % len(missing) else 0),
                    "prompt_tokens": p.prompt_tokens,
                    "completion_tokens": p.completion_tokens,
                }
            self.state.save()
        return {e.id: table[e.id] for e in examples}

    def trial(
        self, name: str, instruction: str, examples: Sequence[Example], calls: int | None = None
    ) -> Trial:
        """Score an instruction on val examples and record the trial (calls: those it took)."""
        rows = self.run(instruction, examples, f"scoring {name} on val")
        scores = {i: float(r["score"]) for i, r in rows.items()}
        trial = Trial(
            name=name,
            candidate=self.candidate(instruction),
            val_score=mean(list(scores.values())),
            calls=len(examples) if calls is None else calls,
            n=len(examples),
            full=len(examples) == len(self.inputs.val),
            scores=scores,
        )
        self.log.record(trial)
        return trial

    def frontier(self) -> dict[int, int]:
        """Pool index -> search-half examples on which it scores best (ties: all the best)."""
        owned: dict[int, int] = {}
        for e in self.search_half:
            scored = [(m.trial.scores[e.id], m.index) for m in self.pool if m.trial is not None]
            top = max(score for score, _ in scored)
            for score, index in scored:
                if score == top:
                    owned[index] = owned.get(index, 0) + 1
        return owned

    def sample_parent(self, round_: int) -> Member:
        """A frontier member, drawn with the seed, weighted by the examples it owns."""
        owned = sorted(self.frontier().items())
        rng = seeded_rng(self.inputs.seed, "gepa", "parent", round_)
        index = rng.choices([i for i, _ in owned], weights=[n for _, n in owned])[0]
        return self.pool[index]

    def merge_pair(self, round_: int) -> tuple[Member, Member] | None:
        """Two frontier members of different lineages not merged before, drawn with the seed; None when
        there are none (the round then reflects on one parent)."""
        owned = sorted(self.frontier())
        pairs = [
            (self.pool[a], self.pool[b])
            for a in owned
            for b in owned
            if a < b
            and (a, b) not in self.merged
            and self.pool[a].root != self.pool[b].root
            and self.pool[a].root
            and self.pool[b].root
        ]
        if not pairs:
            return None
        pair = seeded_rng(self.inputs.seed, "gepa", "merge", round_).choice(pairs)
        self.merged.add((pair[0].index, pair[1].index))
        return pair

    def minibatch(self, round_: int) -> list[Example]:
        """The round's training minibatch, drawn with the seed."""
        mb, _, _ = _sizes(self.inputs, self.s)
        return seeded_rng(self.inputs.seed, "gepa", "minibatch", round_).sample(list(self.inputs.train), mb)

    def reflect(self, lm: LM, key: str, messages: list[dict[str, str]], sample: int) -> str:
        """The reflection model's reply (saved, so a resumed run does not ask again)."""
        saved = self.state.reply(key)
        if saved is not None:
            lm.count_replayed(1, int(saved["prompt_tokens"]), int(saved["completion_tokens"]))
            return str(saved["text"])
        reply = lm.complete(messages, sample=sample)
        self.state.save_reply(
            key,
            {
                "text": reply.text,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
            },
        )
        return reply.text


def reflection_messages(
    inputs: CompileInputs, instruction: str, failures: list[tuple[Example, dict[str, Any]]]
) -> list[dict[str, str]]:
    """The reflection model's prompt: the instruction, the task, and the failures with feedback."""
    program = inputs.program
    parts = [
        f"Task: {program.name}",
        "Current instruction:\n" + (instruction or "(none)"),
        "Inputs:\n" + "\n".join(f"- {describe_field(f)}" for f in program.signature.inputs),
        "Outputs:\n" + "\n".join(f"- {describe_field(f)}" for f in program.signature.outputs),
    ]
    blocks = []
    for n, (example, row) in enumerate(failures, 1):
        blocks.append(
            f"Example {n} (score {float(row['score']):.2f}):\n"
            + user_message(program, example.inputs)
            + "\nModel answer:\n"
            + str(row["answer"])
            + "\nFeedback: "
            + _shown(row.get("feedback") or "wrong answer")
        )
    parts.append("Mistakes:\n" + "\n\n".join(blocks))
    return [{"role": "system", "content": REFLECTOR}, {"role": "user", "content": "\n\n".join(parts)}]


def merge_messages(inputs: CompileInputs, first: str, second: str) -> list[dict[str, str]]:
    """The reflection model's prompt to merge two instructions of different lineages."""
    program = inputs.program
    parts = [
        f"Task: {program.name}",
        "Instruction A:\n" + (first or "(none)"),
        "Instruction B:\n" + (second or "(none)"),
        "Outputs:\n" + "\n".join(f"- {describe_field(f)}" for f in program.signature.outputs),
    ]
    return [{"role": "system", "content": MERGER}, {"role": "user", "content": "\n\n".join(parts)}]


def _shown(feedback: str) -> str:
    return feedback if len(feedback) <= FEEDBACK_SHOWN_CHARS else feedback[:FEEDBACK_SHOWN_CHARS] + "..."


def _settings(inputs: CompileInputs) -> dict[str, Any]:
    s = with_defaults(SETTINGS, inputs.settings)
    if max_rounds(s, len(inputs.train), len(inputs.val)) < 1:
        mb, search, confirm = _sizes(inputs, s)
        need = len(inputs.val) + _round_cost(s, mb, search) + CONFIRM_TOP * confirm
        raise ConfigError(
            f"optimizer.settings.max_metric_calls: {budget(s, len(inputs.train), len(inputs.val))} "
            f"metric calls are too few for one gepa round on these splits (at least {need}: "
            f"{len(inputs.val)} for the configured program, {_round_cost(s, mb, search)} per round, "
            f"{CONFIRM_TOP * confirm} to confirm finalists)",
            fix=f"set max_metric_calls to {need} or more, or use auto: light",
        )
    return s


def compile_program(inputs: CompileInputs) -> CompileResult:
    """Evolve the instruction by reflecting on failures; keep the best on val, noise-aware."""
    s = _settings(inputs)
    reflection_lm(inputs, s)  # refuses a wrong reflection_model revision before any model call
    result = run_search(inputs, lambda log: _search(log, s))
    path = state_path(inputs, s)
    return dataclasses.replace(result, notes=(*result.notes, f"gepa search state: {path}"))


def _search(log: Search, s: dict[str, Any]) -> None:
    g = Gepa(log, s)
    inputs = g.inputs
    lm = reflection_lm(inputs, s)
    configured = g.baseline.instructions
    log.incumbent = g.trial("configured instructions", configured, inputs.val)
    g.pool.append(Member(0, configured, (), 0, log.incumbent))
    seen = [configured]
    rejected: dict[str, int] = {}
    rounds: list[dict[str, Any]] = []
    log.lineage.update(instructions=[configured], rejected_proposals=rejected, rounds=rounds)
    limit = max_rounds(s, len(inputs.train), len(inputs.val))
    log.lineage["budget"] = {
        "max_metric_calls": budget(s, len(inputs.train), len(inputs.val)),
        "rounds": limit,
    }

    for round_ in range(1, limit + 1):
        batch = g.minibatch(round_)
        pair = g.merge_pair(round_) if s["merge"] and round_ % MERGE_EVERY == 0 else None
        entry: dict[str, Any] = {"round": round_, "minibatch": [e.id for e in batch]}
        rounds.append(entry)
        if pair is not None:
            parents = list(pair)
            entry.update(kind="merge", parents=[p.index for p in parents])
            parent_rows = [
                g.run(p.instruction, batch, f"round {round_}: parents on a minibatch") for p in parents
            ]
            messages = merge_messages(inputs, parents[0].instruction, parents[1].instruction)
        else:
            parents = [g.sample_parent(round_)]
            entry.update(kind="reflect", parents=[parents[0].index])
            parent_rows = [g.run(parents[0].instruction, batch, f"round {round_}: parent on a minibatch")]
            failures = [
                (e, parent_rows[0][e.id]) for e in batch if float(parent_rows[0][e.id]["score"]) < 1.0
            ]
            entry["feedback"] = [
                {"id": e.id, "score": row["score"], "feedback": _shown(row.get("feedback") or "")}
                for e, row in failures
            ]
            if not failures:
                entry["outcome"] = "parent perfect on the minibatch; nothing to reflect on"
                continue
            messages = reflection_messages(inputs, parents[0].instruction, failures)
        parent_best = max(sum(float(r["score"]) for r in rows.values()) for rows in parent_rows)
        text = parse_instruction(g.reflect(lm, f"round {round_}", messages, round_))
        entry["rewrite"] = text
        why = rejection(inputs, text, seen)
        if why is not None:
            rejected[why] = rejected.get(why, 0) + 1
            entry["outcome"] = f"refused: {why}"
            continue
        seen.append(text)
        child_rows = g.run(text, batch, f"round {round_}: rewrite on the minibatch")
        child_total = sum(float(r["score"]) for r in child_rows.values())
        entry["minibatch_scores"] = {"parent": round(parent_best, 6), "rewrite": round(child_total, 6)}
        if child_total <= parent_best:
            entry["outcome"] = "not better on the minibatch"
            continue
        index = len(g.pool)
        root = index if parents[0].index == 0 and len(parents) == 1 else parents[0].root
        trial = g.trial(f"round {round_} rewrite of candidate {parents[0].index}", text, g.search_half)
        g.pool.append(Member(index, text, tuple(p.index for p in parents), root, trial))
        log.lineage["instructions"].append(text)
        entry.update(outcome="accepted", candidate=index, search_score=log.search_score(trial))

    if rejected:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(rejected.items()))
        log.notes.append(f"{sum(rejected.values())} rewritten instructions refused: {reasons}")
    floor = log.search_score(log.incumbent)
    better = sorted(
        (m for m in g.pool[1:] if m.trial is not None and log.search_score(m.trial) > floor),
        key=lambda m: (-log.search_score(m.trial), m.index),  # type: ignore[arg-type]
    )
    for member in better[:CONFIRM_TOP]:
        assert member.trial is not None
        g.trial(member.trial.name, member.instruction, inputs.val, calls=len(g.confirm_half))
    log.lineage["metric_calls"] = len(g.counted)
    if g.replayed:
        log.notes.append(f"resumed: {g.replayed} of {len(g.counted)} metric calls read from the saved state")
    if not better and len(g.pool) > 1:
        log.notes.append(
            f"no candidate was significantly better than the configured program: {len(g.pool) - 1} "
            f"rewrites scored on the search half of val ({len(g.search_half)} examples), none beat it "
            "there; keeping the configured program"
        )


def estimate_calls(settings: dict[str, Any], n_train: int, n_val: int) -> CallEstimate:
    """The most calls on a cold cache (module docstring): a bound, as rewrites may be refused."""
    s = with_defaults(SETTINGS, settings)
    mb, search, confirm = _sizes_of(s, n_train, n_val)
    rounds = max_rounds(s, n_train, n_val)
    k = 3 if s["merge"] else 2
    spec = s.get("reflection_model") or {}
    return CallEstimate(
        stages=(
            ("configured program on val", n_val),
            (f"{rounds} rounds x {k} x minibatch ({mb}), at most", rounds * k * mb),
            ("rewrites (reflection model), at most", rounds),
            (f"accepted rewrites x search half of val ({search}), at most", rounds * search),
            (
                f"{CONFIRM_TOP} finalists x confirmation half of val ({confirm}), at most",
                CONFIRM_TOP * confirm,
            ),
        ),
        max_demos=0,
        prompt_model_calls=rounds,
        prompt_model=spec.get("model"),
        prompt_model_max_tokens=spec.get("max_tokens", PROPOSAL_MAX_TOKENS),
    )
