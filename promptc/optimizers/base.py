"""The optimizer contract, a pure compile(inputs) -> CompileResult, and the trial log optimizers share.

Every optimizer runs its search through `run_search`: candidates are scored on the
validation split and recorded as trials, and a budget cap reached mid-search ends it
cleanly with the best fully scored candidate so far.

Selection is noise-aware. A search that scores the configured program first
(`Search.score_incumbent`) keeps it unless another candidate, scored on the whole split,
is shown to be better on examples that played no part in choosing it:

1. Val is split with the seed into a search half and a confirmation half.
2. Candidates are ranked on the search half only (ties: fewer calls per input, then fewer
   demos shown, then the earlier trial); the `CONFIRM_TOP` best that beat the incumbent
   there are the finalists.
3. On the confirmation half (and on the training rows neither uses, where the optimizer declared
   rows its search did not read: `Search.confirm_on_train`, optimizers/holdout.py), each
   finalist's paired gain over the incumbent
   (promptc.evaluation.stats.paired_interval, the statistics the gates use) must have a lower bound
   above 0 at `selection_confidence`, Bonferroni-corrected for the number of finalists.
4. Of the finalists that pass, the best on the whole split wins; if none passes, the
   configured program is kept and the notes say so.

A one-point win on a hundred examples is noise and replaces nothing; and because the
finalists are chosen without the confirmation half, the best of many lucky draws cannot
pass for a real gain.

Nothing that decides what is scored or kept (minibatches, racing, fitted biases, ensemble
membership, which candidates are confirmed) may read the confirmation half. The guard: while
the search runs, the confirmation half is a sealed `Holdout`. Candidates may be scored on it
(`Search.score` on the whole split, `Search.complete`, or `Search.evaluate(..., confirm=True)`),
but a recorded trial's score on a held-out example, its whole-split score, or the held-out
examples themselves raise `PeekError` until `run_search` closes the search for selection.

An optimizer that builds a single candidate (labeled_fewshot, bootstrap_fewshot) has
nothing to choose between, so by default it records that candidate unscored
(`Search.keep`) and spends no calls on val; its `validate: true` setting scores it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptc.data.load import Example
from promptc.errors import BudgetExceeded, RuntimeFailure
from promptc.evaluation import stats
from promptc.evaluation.evaluate import evaluate
from promptc.lm.model import LM
from promptc.metrics import Metric
from promptc.optimizers.holdout import Holdout, Scores, leave_one_out, unused_rows
from promptc.prompting.program import Candidate, Program
from promptc.reports.progress import Advance, Reporter, Silent
from promptc.results import Evaluation, Prediction
from promptc.trials import Trial as Trial  # the trial log's type, a leaf; optimizers import it from here


@dataclass(frozen=True)
class CompileInputs:
    """Everything an optimizer may use. Randomness comes only from seed."""

    program: Program
    train: tuple[Example, ...]
    val: tuple[Example, ...]
    metric: Metric
    lm: LM
    seed: int
    settings: dict[str, Any]  # validated; Optimizer.compile reads them into the optimizer's Settings
    reporter: Reporter = field(default_factory=Silent)
    state_dir: Path | None = None  # where optimizers keep search records (mipro's study, gepa's state)
    selection_confidence: float = 0.9  # family-wise level of "significantly better than configured"


@dataclass(frozen=True)
class CompileResult:
    """The chosen candidate, every trial that led to it, and whether a budget cap ended the search."""

    candidate: Candidate
    trials: tuple[Trial, ...]
    stopped_by_budget: str | None = None  # the cap's message when it ended the search early
    lineage: dict[str, Any] = field(default_factory=dict)  # optimizer records stored in the artifact
    notes: tuple[str, ...] = ()  # for the user, not stored (e.g. where the optuna study lives)

    @property
    def val_score(self) -> float | None:
        """The chosen candidate's score on the whole validation split (None when it was not scored)."""
        scores = [t.full_score for t in self.trials if t.full and t.candidate == self.candidate]
        return max(scores) if scores else None


@dataclass(frozen=True)
class CallEstimate:
    """The model calls an optimizer will make on a cold cache, stage by stage."""

    stages: tuple[tuple[str, int], ...]
    max_demos: int = 0  # the most demos a scored prompt carries (for token estimates)
    prompt_model_calls: int = 0  # of the total, calls that go to the prompt model (mipro's proposals)
    prompt_model: str | None = None  # the prompt model, when it is not the target
    prompt_model_max_tokens: int = 0  # the longest reply a prompt-model call may get
    holdout_calls_per_example: int = 1  # at most, for the chosen candidate (an ensemble: one per member)

    @property
    def total(self) -> int:
        """All calls of the search."""
        return sum(n for _, n in self.stages)


CONFIRM_TOP = 3  # candidates chosen on the search half that are tested on the confirmation half


def serving_cost(candidate: Candidate) -> tuple[int, int]:
    """What a candidate costs per input, for breaking ties: model calls, then demos shown."""
    if candidate.members:
        return len(candidate.members), sum(serving_cost(m)[1] for m in candidate.members)
    return 1, candidate.knn or len(candidate.demos)


def seeded_rng(seed: int, *purpose: object) -> random.Random:
    """A random generator for one purpose, derived from the config's seed."""
    return random.Random("/".join(map(str, (seed, *purpose))))


def mean(scores: Sequence[float]) -> float:
    """The mean, rounded as evaluation summaries are."""
    return round(stats.mean(scores), 6)


class Search:
    """The trial log of one compile run: scoring on val, the best fully scored candidate, live status."""

    def __init__(self, inputs: CompileInputs) -> None:
        self.inputs = inputs
        self.trials: list[Trial] = []
        self.lineage: dict[str, Any] = {}
        self.notes: list[str] = []
        self.incumbent: Trial | None = None
        self.answers: dict[int, dict[str, Prediction]] = {}  # id(trial) -> example id -> prediction
        ids = [e.id for e in inputs.val]
        seeded_rng(inputs.seed, "confirmation half").shuffle(ids)
        cut = (len(ids) + 1) // 2
        self.search_ids = sorted(ids[:cut])
        search = set(self.search_ids)
        self.search_half = [e for e in inputs.val if e.id in search]  # in val order
        self.holdout = Holdout([e for e in inputs.val if e.id not in search])
        self.train_rows: tuple[Example, ...] = ()  # declared by confirm_on_train
        self.on_train: dict[
            int, dict[str, float]
        ] = {}  # id(trial) -> train row id -> score, after the search

    def confirm_on_train(self, rows: Sequence[Example]) -> None:
        """Declare train rows no decision of this search read but to take demos: confirmation data too."""
        self.train_rows = tuple(rows)

    def score_on_train(self) -> None:
        """After the search: the incumbent and each finalist on the declared rows each does not use."""
        if self.incumbent is None or not self.train_rows:
            return
        scores: dict[int, dict[str, float]] = {}
        for trial in [self.incumbent, *self.finalists()]:
            rows = unused_rows(self.train_rows, trial.candidate)
            scores[id(trial)] = {}
            # One progress stage per trial, however many leave-one-out groups its rows fall into.
            advance = self.inputs.reporter.stage(f"confirming {trial.name} on unused train rows", len(rows))
            for candidate, group in leave_one_out(trial.candidate, rows):
                ev, _ = self.evaluate(candidate, group, "", confirm=True, advance=advance)
                scores[id(trial)].update({r.id: r.score for r in ev.records})
        self.on_train = scores

    def evaluate(
        self,
        candidate: Candidate,
        examples: Sequence[Example],
        stage: str,
        *,
        confirm: bool = False,
        advance: Advance | None = None,
    ) -> tuple[Evaluation, int]:
        """Run a candidate over some validation examples; returns the evaluation and its requests.

        Held-out examples only with confirm=True: their scores are recorded, never decided on.
        advance: a progress stage the caller opened (else one is opened, named stage).
        """
        inputs = self.inputs
        if not confirm:
            self.holdout.check(e.id for e in examples)
        before = inputs.lm.usage.requests
        advance = advance or inputs.reporter.stage(stage, len(examples))

        def step() -> None:
            advance()
            self.report()

        ev = evaluate(
            inputs.program,
            candidate,
            list(examples),
            inputs.metric,
            inputs.lm,
            on_done=step,
        )
        return ev, inputs.lm.usage.requests - before

    def score(self, name: str, candidate: Candidate, examples: Sequence[Example] | None = None) -> Trial:
        """Score a candidate on the validation split (or the given part of it) and record the trial."""
        whole = examples is None
        examples = self.inputs.val if examples is None else examples
        ev, requests = self.evaluate(candidate, examples, f"scoring {name} on val", confirm=whole)
        trial = self.record(
            Trial(
                name=name,
                candidate=candidate,
                val_score=ev.overall.mean,
                calls=requests,
                n=len(examples),
                full=len(examples) == len(self.inputs.val),
                scores={r.id: r.score for r in ev.records},
            )
        )
        self.answers[id(trial)] = {r.id: r.prediction for r in ev.records}
        return trial

    def complete(self, name: str, candidate: Candidate, scores: Mapping[str, float], stage: str) -> Trial:
        """Score a candidate on the val examples missing from scores (held-out ones too); record it."""
        known = dict(scores)
        rest = [e for e in self.inputs.val if e.id not in known]
        ev, requests = self.evaluate(candidate, rest, stage, confirm=True)
        known.update({r.id: r.score for r in ev.records})
        val = self.inputs.val
        return self.record(
            Trial(name, candidate, mean([known[e.id] for e in val]), requests, len(val), True, known)
        )

    def score_incumbent(self, name: str, candidate: Candidate) -> Trial:
        """Score the configured program on the whole validation split: what others must beat."""
        trial = self.score(name, candidate)
        self.incumbent = trial
        return trial

    def keep(self, name: str, candidate: Candidate, validate: bool = False) -> Trial:
        """Record the one candidate of a single-candidate optimizer: unscored, or scored if validate."""
        if validate:
            return self.score(name, candidate)
        return self.record(Trial(name=name, candidate=candidate, val_score=None, calls=0, n=0, full=False))

    def record(self, trial: Trial) -> Trial:
        """Add a trial to the log; the logged trial (use it, not the argument) guards its held-out scores."""
        trial = dataclasses.replace(trial, scores=Scores(trial.scores, self.holdout))
        self.trials.append(trial)
        self.report()
        return trial

    def close(self) -> None:
        """End the search: selection may now read the confirmation half."""
        self.holdout.open()
        self.report()

    def challengers(self) -> list[Trial]:
        """Fully scored trials other than the incumbent (the candidates selection compares)."""
        return [t for t in self.trials if t.full and t is not self.incumbent]

    def halves(self) -> tuple[list[str], list[str]]:
        """The validation ids of the search half and of the confirmation half (seeded), after the search."""
        return list(self.search_ids), sorted(e.id for e in self.holdout.examples)

    def search_score(self, trial: Trial) -> float:
        """A trial's mean score on the search half of val."""
        return mean([trial.scores[i] for i in self.search_ids if i in trial.scores])

    def finalists(self) -> list[Trial]:
        """The CONFIRM_TOP best challengers on the search half that beat the incumbent there."""
        if self.incumbent is None:
            return []
        order = {id(t): i for i, t in enumerate(self.trials)}
        floor = self.search_score(self.incumbent)
        ranked = sorted(
            self.challengers(), key=lambda t: (-self.search_score(t), serving_cost(t.candidate), order[id(t)])
        )
        return [t for t in ranked if self.search_score(t) > floor][:CONFIRM_TOP]

    def confirmed(self, trial: Trial, finalists: int) -> bool:
        """Whether trial beats the incumbent on the confirmation half (Bonferroni over the finalists)."""
        from promptc.evaluation.stats import significantly_better

        assert self.incumbent is not None
        _, confirm = self.halves()
        shared = [i for i in confirm if i in trial.scores and i in self.incumbent.scores]
        own, base = self.on_train.get(id(trial), {}), self.on_train.get(id(self.incumbent), {})
        extra = [e.id for e in unused_rows(self.train_rows, trial.candidate) if e.id in own and e.id in base]
        cand = [trial.scores[i] for i in shared] + [own[i] for i in extra]
        ref = [self.incumbent.scores[i] for i in shared] + [base[i] for i in extra]
        level = 1 - (1 - self.inputs.selection_confidence) / max(1, finalists)
        return bool(cand) and significantly_better(cand, ref, level)

    def best(self) -> Trial | None:
        """The trial to keep (see the module docstring); else the kept unscored one."""
        order = {id(t): i for i, t in enumerate(self.trials)}
        full = [t for t in self.trials if t.full]
        if self.incumbent is not None:
            finalists = self.finalists()
            full = [t for t in finalists if self.confirmed(t, len(finalists))] or [self.incumbent]
        if full:
            return min(full, key=lambda t: (-t.full_score, serving_cost(t.candidate), order[id(t)]))
        kept = [t for t in self.trials if t.val_score is None]
        return kept[-1] if kept else None

    def report(self) -> None:
        """Send the best score so far (on the search half while searching) and the calls and tokens spent."""
        if self.holdout.sealed:
            whole = [
                t
                for t in self.trials
                if t.val_score is not None and all(i in t.scores for i in self.search_ids)
            ]
            best_score = max((self.search_score(t) for t in whole), default=None)
        else:
            best = self.best()
            best_score = best.val_score if best else None
        usage = self.inputs.lm.usage
        self.inputs.reporter.status(best_score, usage.calls, usage.prompt_tokens + usage.completion_tokens)


def run_search(inputs: CompileInputs, search: Callable[[Search], None]) -> CompileResult:
    """Run an optimizer's search; a budget cap ends it with the best fully scored candidate so far."""
    log = Search(inputs)
    stopped = None
    try:
        search(log)
    except BudgetExceeded as exc:
        stopped = exc.message
    log.close()
    if stopped is None:
        try:
            log.score_on_train()
        except BudgetExceeded as exc:
            log.notes.append(f"{exc.message} while confirming on unused training rows: confirmed on val only")
    best = log.best()
    if best is not None and best is log.incumbent and log.challengers():
        rows = f", with up to {len(log.train_rows)} unused training rows" if log.train_rows else ""
        log.notes.append(
            f"no candidate was significantly better than the configured program: "
            f"{len(log.challengers())} scored, {len(log.finalists())} beat it on the search half of val, "
            f"none was better on the confirmation half ({len(log.holdout)} examples{rows}) at "
            f"{inputs.selection_confidence:.0%}; keeping the configured program"
        )
    if best is None:
        if stopped is not None:
            raise BudgetExceeded(
                f"{stopped} before the search had a candidate to keep (none was scored on all "
                f"{len(inputs.val)} validation examples); no artifact was written",
                fix="raise budget.max_calls or budget.max_cost_usd in the config; "
                "promptc compile --dry-run shows the calls the search needs",
            )
        raise RuntimeFailure("the optimizer produced no candidate")
    return CompileResult(
        candidate=best.candidate,
        trials=tuple(log.trials),
        stopped_by_budget=stopped,
        lineage=dict(log.lineage),
        notes=tuple(log.notes),
    )
