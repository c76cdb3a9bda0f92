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
   - the rewrite passes the hygiene of optimizers/proposals.py (empty, too long, a
     duplicate, a copy of a training input, silent on a label name) or is refused;
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
reflection reply; optimizers/gepa_state.py) is saved atomically as JSON after each evaluation, in
`<state dir>/gepa/<key>.json`, keyed by every input that changes a score (the program; the
target's model, revision, decoding, `constrained` and `logprobs`; the metric: its name and the
hash of the file that defines it, for a custom metric the user's module), the reflection model,
seed, settings and data. A run that is interrupted (even by kill -9) resumes where it stopped:
the rounds replay from the saved state and nothing already scored is evaluated again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from promptc.data.load import Example
from promptc.errors import ConfigError, RevisionMismatch
from promptc.lm.model import LM
from promptc.optimizers.base import (
    CONFIRM_TOP,
    CallEstimate,
    CompileInputs,
    CompileResult,
    Search,
    run_search,
    seeded_rng,
)
from promptc.optimizers.gepa_state import Member, Pool, Rows, SavedSearch, state_path
from promptc.optimizers.proposals import (
    field_list,
    max_tokens,
    parse_instruction,
    prompt_lm,
    refusals_note,
    rejection,
    request,
    task_parts,
)
from promptc.optimizers.settings import AUTO_ROUNDS, GepaSettings
from promptc.prompting.adapter import user_message
from promptc.prompting.program import Program
from promptc.prompting.prompt_text import (
    FEEDBACK,
    INSTRUCTION_A,
    INSTRUCTION_B,
    MERGER,
    MISTAKE,
    MISTAKES_HEADER,
    MODEL_ANSWER,
    NO_INSTRUCTION,
    OUTPUTS_HEADER,
    REFLECTOR,
    SECTION_BREAK,
    TASK,
)

MERGE_EVERY = 3  # with merge: true, rounds 3, 6, 9, ... merge two lineages
FEEDBACK_SHOWN_CHARS = 500  # per failure, in the reflection prompt and the lineage

REFLECTION_TEMPERATURE = 0.7


def _sizes(inputs: CompileInputs, s: GepaSettings) -> tuple[int, int, int]:
    """(minibatch, search half, confirmation half) sizes."""
    return _sizes_of(s, len(inputs.train), len(inputs.val))


def _sizes_of(s: GepaSettings, n_train: int, n_val: int) -> tuple[int, int, int]:
    search = (n_val + 1) // 2
    return min(s.minibatch_size, n_train), search, n_val - search


def _round_cost(s: GepaSettings, mb: int, search: int) -> int:
    """The most metric calls one round takes."""
    return (3 if s.merge else 2) * mb + search


def budget(s: GepaSettings, n_train: int, n_val: int) -> int:
    """The metric-call budget: max_metric_calls, or the auto preset's rounds' worth."""
    if s.max_metric_calls is not None:
        return s.max_metric_calls
    mb, search, confirm = _sizes_of(s, n_train, n_val)
    return n_val + AUTO_ROUNDS[s.auto] * _round_cost(s, mb, search) + CONFIRM_TOP * confirm


def max_rounds(s: GepaSettings, n_train: int, n_val: int) -> int:
    """The rounds the budget allows, keeping room for the incumbent and the confirmations."""
    mb, search, confirm = _sizes_of(s, n_train, n_val)
    room = budget(s, n_train, n_val) - n_val - CONFIRM_TOP * confirm
    return max(0, room // _round_cost(s, mb, search))


def reflection_lm(inputs: CompileInputs, s: GepaSettings) -> LM:
    """The reflection model (its revision checked), sampled at its temperature."""
    spec = s.reflection_model
    temperature = REFLECTION_TEMPERATURE if spec.temperature is None else spec.temperature
    try:
        return prompt_lm(inputs, spec, float(temperature))
    except RevisionMismatch as exc:  # the message names target.revision; this is another key
        raise RevisionMismatch(
            f"optimizer.settings.reflection_model.revision: {exc.message}",
            fix="set reflection_model.revision to the revision named above",
        ) from None


def reflection_messages(
    inputs: CompileInputs, instruction: str, failures: list[tuple[Example, dict[str, Any]]]
) -> list[dict[str, str]]:
    """The reflection model's prompt: the instruction, the task, and the failures with feedback."""
    program = inputs.program
    blocks = [
        MISTAKE.format(n=n, score=float(row["score"]))
        + user_message(program, example.inputs)
        + MODEL_ANSWER
        + str(row["answer"])
        + FEEDBACK
        + _shown(row.get("feedback") or "wrong answer")
        for n, (example, row) in enumerate(failures, 1)
    ]
    mistakes = MISTAKES_HEADER + SECTION_BREAK.join(blocks)
    return request(REFLECTOR, [*task_parts(program, instruction), mistakes])


def merge_messages(inputs: CompileInputs, first: str, second: str) -> list[dict[str, str]]:
    """The reflection model's prompt to merge two instructions of different lineages."""
    program = inputs.program
    parts = [
        TASK + program.name,
        INSTRUCTION_A + (first or NO_INSTRUCTION),
        INSTRUCTION_B + (second or NO_INSTRUCTION),
        OUTPUTS_HEADER + field_list(program.signature.outputs),
    ]
    return request(MERGER, parts)


def _shown(feedback: str) -> str:
    return feedback if len(feedback) <= FEEDBACK_SHOWN_CHARS else feedback[:FEEDBACK_SHOWN_CHARS] + "..."


def _check_budget(inputs: CompileInputs, s: GepaSettings) -> None:
    """Refuse a max_metric_calls too small for one round on these splits."""
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


def compile_program(inputs: CompileInputs, s: GepaSettings) -> CompileResult:
    """Evolve the instruction by reflecting on failures; keep the best on val, noise-aware."""
    _check_budget(inputs, s)
    reflection_lm(inputs, s)  # refuses a wrong reflection_model revision before any model call
    result = run_search(inputs, lambda log: _search(log, s))
    path = state_path(inputs, s)
    return dataclasses.replace(result, notes=(*result.notes, f"gepa search state: {path}"))


def _search(log: Search, s: GepaSettings) -> None:
    g = Gepa(log, s, reflection_lm(log.inputs, s))
    g.start()
    for round_ in range(1, max_rounds(s, len(log.inputs.train), len(log.inputs.val)) + 1):
        g.run_round(round_)
    g.finish()


Ask = tuple[list[Member], list[Rows], list[dict[str, str]]]  # parents, their minibatch rows, the request


class Gepa:
    """One gepa search over a Search log; its state lives here, in the Pool and in the saved State."""

    def __init__(self, log: Search, s: GepaSettings, lm: LM) -> None:
        self.log, self.inputs, self.s = log, log.inputs, s
        self.saved = SavedSearch(log, state_path(self.inputs, s), lm)
        self.search_half = log.search_half
        self.pool = Pool(self.inputs.seed, self.search_half)
        self.seen = [self.saved.baseline.instructions]  # every instruction so far, for the duplicate check
        self.rejected: dict[str, int] = {}
        self.rounds: list[dict[str, Any]] = []

    def start(self) -> None:
        """Score the configured program on val: the incumbent, and the pool's first member."""
        inputs, log = self.inputs, self.log
        configured = self.saved.baseline.instructions
        self.incumbent = log.incumbent = self.saved.trial(
            "configured instructions", configured, inputs.val, confirm=True
        )
        self.pool.members.append(Member(0, configured, (), 0, self.incumbent))
        log.lineage.update(instructions=[configured], rejected_proposals=self.rejected, rounds=self.rounds)
        log.lineage["budget"] = {
            "max_metric_calls": budget(self.s, len(inputs.train), len(inputs.val)),
            "rounds": max_rounds(self.s, len(inputs.train), len(inputs.val)),
        }

    def run_round(self, round_: int) -> None:
        """One round: ask for a rewrite (a reflection, or a merge of two lineages), then test it."""
        batch = self.minibatch(round_)
        pair = self.pool.merge_pair(round_) if self.s.merge and round_ % MERGE_EVERY == 0 else None
        entry: dict[str, Any] = {"round": round_, "minibatch": [e.id for e in batch]}
        self.rounds.append(entry)
        asked = (
            self.ask_merge(round_, pair, batch, entry)
            if pair is not None
            else self.ask_reflection(round_, batch, entry)
        )
        if asked is not None:
            self.try_rewrite(round_, batch, entry, *asked)

    def ask_merge(
        self, round_: int, pair: tuple[Member, Member], batch: list[Example], entry: dict[str, Any]
    ) -> Ask:
        """The merge request for two parents, and their minibatch rows."""
        parents = list(pair)
        entry.update(kind="merge", parents=[p.index for p in parents])
        rows = [
            self.saved.run(p.instruction, batch, f"round {round_}: parents on a minibatch") for p in parents
        ]
        return parents, rows, merge_messages(self.inputs, parents[0].instruction, parents[1].instruction)

    def ask_reflection(self, round_: int, batch: list[Example], entry: dict[str, Any]) -> Ask | None:
        """The reflection request on a frontier parent's failures, and its minibatch rows; None when
        the parent is perfect on the minibatch."""
        parent = self.pool.sample_parent(round_)
        entry.update(kind="reflect", parents=[parent.index])
        rows = self.saved.run(parent.instruction, batch, f"round {round_}: parent on a minibatch")
        failures = [(e, rows[e.id]) for e in batch if float(rows[e.id]["score"]) < 1.0]
        entry["feedback"] = [
            {"id": e.id, "score": row["score"], "feedback": _shown(row.get("feedback") or "")}
            for e, row in failures
        ]
        if not failures:
            entry["outcome"] = "parent perfect on the minibatch; nothing to reflect on"
            return None
        return [parent], [rows], reflection_messages(self.inputs, parent.instruction, failures)

    def try_rewrite(
        self,
        round_: int,
        batch: list[Example],
        entry: dict[str, Any],
        parents: list[Member],
        parent_rows: list[Rows],
        messages: list[dict[str, str]],
    ) -> None:
        """Ask for the rewrite; refuse it, or accept it when it beats its parents on the minibatch."""
        parent_best = max(sum(float(r["score"]) for r in rows.values()) for rows in parent_rows)
        text = parse_instruction(self.saved.reflect(f"round {round_}", messages, round_))
        entry["rewrite"] = text
        why = rejection(self.inputs, text, self.seen)
        if why is not None:
            self.rejected[why] = self.rejected.get(why, 0) + 1
            entry["outcome"] = f"refused: {why}"
            return
        self.seen.append(text)
        child_rows = self.saved.run(text, batch, f"round {round_}: rewrite on the minibatch")
        child_total = sum(float(r["score"]) for r in child_rows.values())
        entry["minibatch_scores"] = {"parent": round(parent_best, 6), "rewrite": round(child_total, 6)}
        if child_total <= parent_best:
            entry["outcome"] = "not better on the minibatch"
            return
        members = self.pool.members
        index = len(members)
        root = index if parents[0].index == 0 and len(parents) == 1 else parents[0].root
        trial = self.saved.trial(
            f"round {round_} rewrite of candidate {parents[0].index}", text, self.search_half
        )
        members.append(Member(index, text, tuple(p.index for p in parents), root, trial))
        self.log.lineage["instructions"].append(text)
        entry.update(outcome="accepted", candidate=index, search_score=self.log.search_score(trial))

    def finish(self) -> None:
        """Score the best rewrites that beat the configured program on the confirmation half; notes."""
        log, members = self.log, self.pool.members
        if self.rejected:
            log.notes.append(refusals_note(self.rejected, "rewritten instructions"))
        floor = log.search_score(self.incumbent)
        better = sorted(
            (m for m in members[1:] if m.trial is not None and log.search_score(m.trial) > floor),
            key=lambda m: (-log.search_score(m.trial), m.index),  # type: ignore[arg-type]
        )
        for member in better[:CONFIRM_TOP]:
            assert member.trial is not None
            self.saved.trial(
                member.trial.name, member.instruction, self.inputs.val, calls=len(log.holdout), confirm=True
            )
        log.lineage["metric_calls"] = len(self.saved.counted)
        if self.saved.replayed:
            log.notes.append(
                f"resumed: {self.saved.replayed} of {len(self.saved.counted)} metric calls "
                "read from the saved state"
            )
        if not better and len(members) > 1:
            log.notes.append(
                f"no candidate was significantly better than the configured program: {len(members) - 1} "
                f"rewrites scored on the search half of val ({len(self.search_half)} examples), none beat it "
                "there; keeping the configured program"
            )

    def minibatch(self, round_: int) -> list[Example]:
        """The round's training minibatch, drawn with the seed."""
        mb, _, _ = _sizes(self.inputs, self.s)
        return seeded_rng(self.inputs.seed, "gepa", "minibatch", round_).sample(list(self.inputs.train), mb)


def estimate_calls(s: GepaSettings, n_train: int, n_val: int, program: Program | None = None) -> CallEstimate:
    """The most calls on a cold cache (module docstring): a bound, as rewrites may be refused."""
    mb, search, confirm = _sizes_of(s, n_train, n_val)
    rounds = max_rounds(s, n_train, n_val)
    k = 3 if s.merge else 2
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
        prompt_model=s.reflection_model.model,
        prompt_model_max_tokens=max_tokens(s.reflection_model),
    )
