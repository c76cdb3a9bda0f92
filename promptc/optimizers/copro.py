"""copro: coordinate-ascent instruction search (in the spirit of DSPy's COPRO).

COPRO searches the instructions only; the configured program's demos are kept as they are.

1. The configured program is scored on the whole validation split (the incumbent), and
   val is split with the seed into a search half and a confirmation half (optimizers/base.py).
2. Round 1: the prompt model (`prompt_model: {model, revision, max_tokens}`, default the
   target; proposals are sampled at `init_temperature`) proposes `breadth` instructions,
   each grounded in the signature, the configured instructions, a summary of the training
   data and `proposal_examples` labeled training examples drawn with the seed.
3. Rounds 2..`depth`: the prompt model is shown the best instructions so far with their
   scores on the search half (ascending, best last; at most `breadth` of them, the
   configured one included) and asked for `breadth` better ones.
4. Every proposal passes the hygiene of optimizers/proposals.py (empty, too long, a duplicate
   of any instruction seen so far, a copy of a training input, silent on a label name) or
   is refused; the lineage counts refusals by reason and round. Each usable proposal is
   scored on the search half of val (trial "round R proposal K").
5. The `CONFIRM_TOP` best proposals that beat the configured program on the search half
   are scored on the confirmation half too, and selection is Search's: the configured
   program is kept unless a finalist is significantly better on the confirmation half.

Proposal calls use `sample=` indices (one per proposal), so with the call cache a rerun
makes no model calls. Model calls on a cold cache, at most, with P = depth * breadth,
S = ceil(|val| / 2) and C = |val| - S:
|val| + P proposals + P * S + min(CONFIRM_TOP, P) * C.
Refused proposals are not scored, and only proposals that beat the configured program on
the search half are confirmed, so a run may make fewer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from promptc.lm.model import LM
from promptc.optimizers.base import (
    CONFIRM_TOP,
    CallEstimate,
    CompileInputs,
    CompileResult,
    Search,
    Trial,
    run_search,
    seeded_rng,
)
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
from promptc.optimizers.settings import CoproSettings
from promptc.prompting.program import Candidate, Program, baseline_candidate
from promptc.prompting.prompt_text import NO_INSTRUCTION, PROPOSER

IMPROVE = (
    "Instructions tried so far, with their scores on validation examples "
    "(ascending, best last; 1.0 is perfect):"
)
ASK_HIGHER = "Propose an instruction that scores higher than all of these."


def _prompt_lm(inputs: CompileInputs, s: CoproSettings) -> LM:
    """The prompt model: another model when configured, else the target; sampled at init_temperature."""
    return prompt_lm(inputs, s.prompt_model, float(s.init_temperature))


def proposal_messages(
    inputs: CompileInputs,
    s: CoproSettings,
    round_: int,
    index: int,
    tried: list[tuple[str, float]],
) -> list[dict[str, str]]:
    """The prompt-model messages for proposal `index` of round `round_`.

    tried: (instruction, search-half score) of the best so far, ascending, best last;
    empty in round 1. The labeled examples come last.
    """
    program = inputs.program
    rng = seeded_rng(inputs.seed, "copro", round_, index)
    shown = rng.sample(list(inputs.train), min(s.proposal_examples, len(inputs.train)))
    current = tried[-1][0] if tried else program.signature.instructions
    parts = [*task_parts(program, current), data_summary(inputs)]
    if tried:
        lines = [
            f"{n}. score {score:.3f}: {text or NO_INSTRUCTION}" for n, (text, score) in enumerate(tried, 1)
        ]
        parts.append(IMPROVE + "\n" + "\n".join(lines))
        parts.append(ASK_HIGHER)
    if shown:
        parts.append(examples_part(program, shown))
    return request(PROPOSER, parts)


def _propose(
    inputs: CompileInputs, s: CoproSettings, lm: LM, round_: int, tried: list[tuple[str, float]]
) -> list[str]:
    """The prompt model's `breadth` replies for one round (sample indices unique to the whole search)."""
    breadth = s.breadth
    advance = inputs.reporter.stage(f"round {round_}/{s.depth}: proposing instructions", breadth)
    first = (round_ - 1) * breadth + 1
    return lm.map(
        lambda k: lm.complete(proposal_messages(inputs, s, round_, k - first, tried), sample=k).text,
        range(first, first + breadth),
        advance,
    )


def compile_program(inputs: CompileInputs, s: CoproSettings) -> CompileResult:
    """Propose instructions round by round, building on the best so far; keep the best on val."""
    _prompt_lm(inputs, s)  # refuses a wrong prompt_model revision before any model call
    return run_search(inputs, lambda log: _search(log, s))


def _search(log: Search, s: CoproSettings) -> None:
    baseline = baseline_candidate(log.inputs.program)  # its demos are kept; only instructions change
    incumbent = log.score_incumbent("configured instructions", baseline)
    rounds = _Rounds(log, s, baseline, incumbent, _prompt_lm(log.inputs, s))
    for round_ in range(1, s.depth + 1):
        rounds.run(round_)
    rounds.confirm_best()


class _Rounds:
    """The rounds of one copro search: every instruction scored so far, the ones seen, the refusals."""

    def __init__(self, log: Search, s: CoproSettings, baseline: Candidate, incumbent: Trial, lm: LM) -> None:
        self.log, self.inputs, self.s, self.lm = log, log.inputs, s, lm
        self.baseline, self.incumbent = baseline, incumbent
        self.search_half = log.search_half
        configured = baseline.instructions
        # (instruction, search-half score, trial); the configured program has no trial here.
        self.scored: list[tuple[str, float, Trial | None]] = [(configured, log.search_score(incumbent), None)]
        self.seen = [configured]
        self.rejected: dict[str, int] = {}
        self.rounds: list[dict[str, Any]] = []
        log.lineage.update(instructions=[configured], rejected_proposals=self.rejected, rounds=self.rounds)

    def tried(self, round_: int) -> list[tuple[str, float]]:
        """What a round's proposals build on: the breadth best so far, ascending (none in round 1)."""
        if round_ == 1:
            return []
        best_first = sorted(enumerate(self.scored), key=lambda p: (-p[1][1], p[0]))[: self.s.breadth]
        return [(text, score) for _, (text, score, _) in reversed(best_first)]

    def run(self, round_: int) -> None:
        """One round: breadth proposals; the usable ones scored on the search half."""
        replies = _propose(self.inputs, self.s, self.lm, round_, self.tried(round_))
        summary: dict[str, Any] = {
            "round": round_,
            "proposed": self.s.breadth,
            "scored": 0,
            "rejected": {},
        }
        self.rounds.append(summary)
        for k, reply in enumerate(replies, 1):
            text = parse_instruction(reply)
            why = rejection(self.inputs, text, self.seen)
            if why is not None:
                self.rejected[why] = self.rejected.get(why, 0) + 1
                summary["rejected"][why] = summary["rejected"].get(why, 0) + 1
                continue
            self.seen.append(text)
            self.log.lineage["instructions"].append(text)
            candidate = dataclasses.replace(self.baseline, instructions=text)
            trial = self.log.score(f"round {round_} proposal {k}", candidate, self.search_half)
            summary["scored"] += 1
            self.scored.append((text, self.log.search_score(trial), trial))

    def confirm_best(self) -> None:
        """Score the CONFIRM_TOP best proposals that beat the configured program on the confirmation half."""
        log = self.log
        if self.rejected:
            proposed = f"of {self.s.depth * self.s.breadth} proposed instructions"
            log.notes.append(refusals_note(self.rejected, proposed))
        floor = log.search_score(self.incumbent)
        order = {id(t): i for i, (_, _, t) in enumerate(self.scored)}
        better = sorted(
            (t for _, score, t in self.scored if t is not None and score > floor),
            key=lambda t: (-log.search_score(t), order[id(t)]),
        )
        for trial in better[:CONFIRM_TOP]:
            self.confirm(trial)
        if not better and len(self.scored) > 1:
            log.notes.append(
                f"no candidate was significantly better than the configured program: {len(self.scored) - 1} "
                f"proposed instructions scored on the search half of val ({len(self.search_half)} examples), "
                "none beat it there; keeping the configured program"
            )

    def confirm(self, trial: Trial) -> None:
        """Score a trial on the confirmation half and record it, scored on the whole of val."""
        self.log.complete(trial.name, trial.candidate, trial.scores, f"confirming {trial.name} on val")


def estimate_calls(
    s: CoproSettings, n_train: int, n_val: int, program: Program | None = None
) -> CallEstimate:
    """The most calls on a cold cache, following the steps in the module docstring."""
    proposals = s.depth * s.breadth
    search = (n_val + 1) // 2
    finalists = min(CONFIRM_TOP, proposals)
    return CallEstimate(
        stages=(
            ("configured program on val", n_val),
            ("instruction proposals (prompt model)", proposals),
            (f"{proposals} proposals x search half of val ({search})", proposals * search),
            (
                f"{finalists} finalists x confirmation half of val ({n_val - search})",
                finalists * (n_val - search),
            ),
        ),
        max_demos=0,
        prompt_model_calls=proposals,
        prompt_model=s.prompt_model.model if s.prompt_model else None,
        prompt_model_max_tokens=max_tokens(s.prompt_model),
    )
