"""auto, the default optimizer: zero-shot first, then calibrated decisions and a small demo search.

Built for tasks nobody tuned it on, where demos can hurt a small model as easily as help it.

1. The configured program is scored on val: the incumbent every candidate must beat.
2. Prompts: zero-shot; `demo_sets` class-balanced labeled demo sets (every label of the
   first enum output once or more, labels interleaved in a seeded order, up to `max_demos`,
   or one per label when there are more labels; each label's next demo the one showing the
   most slots and keys the set does not show yet; without an enum output, demos chosen to
   cover the outputs' keys); with `knn` > 0, the `knn` training examples most
   similar to each input (BM25, DSPy's KNNFewShot), most similar last; and, for a program
   beyond one enum output, with `bootstrap` > 0, bootstrap_fewshot's demo set for the same
   seed: up to `bootstrap` answers of a teacher (the program with labeled demos) that the
   metric accepts in full, topped up with labeled demos (optimizers/demos.py).
3. Each prompt is scored on val. Where the target can score labels by log-probability
   (one enum output; the embedded and fake models), one pass gives every example's
   label log-probabilities, plus one call per content-free input, and three decisions
   come from those same calls: the most likely label; contextual calibration from the
   content-free inputs; and per-label biases fitted to the gold labels of the search half
   only. No example's fitted answer uses its own label, and nothing reads the confirmation
   half's labels: search-half answers use biases cross-fitted within the search half, and
   confirmation-half answers use the biases fitted on the search half, which are the
   candidate's (so the candidate confirmed is the one stored). Elsewhere a prompt is scored
   by its generated answers.
   Racing: a prompt is scored first on the search half of val (optimizers/base.py) and
   stops there when even its best decision is significantly worse than the incumbent.
4. Ensemble: the `ensemble` best distinct candidates on the search half, their
   calibrated label distributions averaged (or, without label scores, their answers
   voted), scored on val from the members' recorded answers, at no call cost: each
   member's distribution on an example is calibrated as its own answer there was
   (cross-fitted on the search half), so no ensemble answer uses its example's label or
   the confirmation half's. At serving time it costs one call per member per input.
5. Selection (optimizers/base.py): finalists are chosen on the search half, and the
   configured program stays unless one is significantly better on the confirmation half
   at `optimizer.confidence`; the notes say so plainly when nothing is.

Worst case on a cold cache, with P prompts and V validation examples: V + P * (V + 3), plus
T teacher traces and V for the bootstrapped prompt of a program beyond one label.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptc.data.load import Example
from promptc.evaluation.evaluate import combine, decide, score_prediction
from promptc.fields import kind_of
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
)
from promptc.optimizers.demos import (
    balanced_demos,
    demo_set,
    labeled_demo,
    seeded_order,
    trace_pool,
    traced_count,
)
from promptc.optimizers.settings import AutoSettings, DemoSettings
from promptc.prompting.adapter import label_field, render_messages
from promptc.prompting.calibration import CONTENT_FREE, content_free_bias, fit_bias
from promptc.prompting.program import Candidate, Program
from promptc.results import Prediction


def one_label(program: Program) -> bool:
    """Whether the program answers one enum output (a classifier): no bootstrapped prompt for it."""
    outputs = program.signature.outputs
    return len(outputs) == 1 and kind_of(outputs[0]).closed


def bootstrap_settings(s: AutoSettings) -> DemoSettings:
    """bootstrap_fewshot's defaults with auto's `bootstrap` as the most bootstrapped demos, so the
    same seed traces the same examples and builds the same demo set as bootstrap_fewshot."""
    return DemoSettings(max_bootstrapped_demos=s.bootstrap)


def bootstrapped_prompt(inputs: CompileInputs, s: AutoSettings) -> tuple[str, Candidate] | None:
    """Demos the teacher traced and the metric accepted, topped up with labeled ones (see
    optimizers/bootstrap.py); None for a classifier or without a demo to show."""
    if not s.bootstrap or not inputs.train or one_label(inputs.program):
        return None
    settings = bootstrap_settings(s)
    accepted = trace_pool(inputs, settings)
    order, rng = seeded_order(inputs)
    demos, n_boot = demo_set(
        order, accepted, settings.max_bootstrapped_demos, settings.max_labeled_demos, rng
    )
    if not demos:
        return None
    name = f"bootstrap {n_boot}+{len(demos) - n_boot} labeled"
    return name, Candidate(inputs.program.signature.instructions, demos)


def prompts(inputs: CompileInputs, s: AutoSettings) -> list[tuple[str, Candidate]]:
    """The prompts to score: zero-shot, balanced demo sets, nearest-neighbour demos."""
    instructions = inputs.program.signature.instructions
    out = [("zero-shot", Candidate(instructions))]
    for i in range(s.demo_sets):
        demos = balanced_demos(inputs, s.max_demos, i)
        if demos and all(demos != c.demos for _, c in out):
            out.append((f"balanced {len(demos)} demos #{i}", Candidate(instructions, demos)))
    if s.knn and inputs.train:
        pool = list(inputs.train)
        if len(pool) > s.knn_pool:
            pool = sorted(seeded_rng(inputs.seed, "knn pool").sample(pool, s.knn_pool), key=pool.index)
        demos = tuple(labeled_demo(e) for e in pool)
        out.append((f"{s.knn} nearest demos", Candidate(instructions, demos, knn=s.knn)))
    bootstrapped = bootstrapped_prompt(inputs, s)
    if bootstrapped and all(bootstrapped[1] != c for _, c in out):
        out.append(bootstrapped)
    return out


class _Run:
    """One auto search: what each candidate answered on val, for decisions and ensembles at no cost."""

    def __init__(self, log: Search, s: AutoSettings) -> None:
        self.log = log
        self.s = s
        self.inputs = log.inputs
        self.field = label_field(self.inputs.program)
        self.scores_labels = self.field is not None and self.inputs.lm.scores_labels
        self.answers: dict[int, dict[str, Prediction]] = {}  # id(trial) -> example id -> prediction
        # id(trial) -> example id -> the candidate whose calibration gave that answer (default: the trial's)
        self.deciders: dict[int, dict[str, Candidate]] = {}
        self.by_id = {e.id: e for e in self.inputs.val}

    def record(
        self, trial: Trial, answers: dict[str, Prediction], deciders: dict[str, Candidate] | None = None
    ) -> None:
        trial = self.log.record(trial)
        self.answers[id(trial)] = answers
        self.deciders[id(trial)] = deciders or {}

    def score(self, answers: dict[str, Prediction]) -> dict[str, float]:
        return {i: score_prediction(self.inputs.metric, self.by_id[i], p) for i, p in answers.items()}

    def run(self) -> None:
        inputs = self.inputs
        base = self.log.score_incumbent(
            "configured program", Candidate(inputs.program.signature.instructions)
        )
        self.answers[id(base)] = self.log.answers[id(base)]
        if self.s.confirm_train and inputs.train:
            # Seeded train rows, declared before any candidate exists: each finalist is also
            # confirmed on those of them it does not show as demos (optimizers/holdout.py).
            rows = list(inputs.train)
            seeded_rng(inputs.seed, "confirm-train").shuffle(rows)
            self.log.confirm_on_train(rows[: self.s.confirm_train])
        for name, prompt in prompts(inputs, self.s):
            if self.scores_labels:
                self._score_label_prompt(name, prompt)
            elif prompt != base.candidate:
                self._score_generated_prompt(name, prompt)
        self._ensemble()

    def _race_split(self) -> tuple[list[Example], list[Example]]:
        """The search half (raced on), then the held-out rest (scored for the record only)."""
        return list(self.log.search_half), [e for e in self.inputs.val if e.id in self.log.holdout]

    def _dropped(self, variant_scores: list[dict[str, float]]) -> bool:
        """Whether even the best variant is significantly worse than the incumbent so far."""
        from promptc.evaluation.stats import significantly_better

        incumbent = self.log.incumbent
        assert incumbent is not None
        level = self.inputs.selection_confidence
        for scores in variant_scores:
            ids = [i for i in scores if i in incumbent.scores]
            if not significantly_better([incumbent.scores[i] for i in ids], [scores[i] for i in ids], level):
                return False
        return True

    def _score_generated_prompt(self, name: str, prompt: Candidate) -> None:
        head, rest = self._race_split()
        ev, calls = self.log.evaluate(prompt, head, f"scoring {name} on val")
        answers = {r.id: r.prediction for r in ev.records}
        scores = {r.id: r.score for r in ev.records}
        if rest and self._dropped([scores]):
            self.record(
                Trial(name, prompt, mean(list(scores.values())), calls, len(head), False, scores), answers
            )
            return
        if rest:
            ev2, calls2 = self.log.evaluate(prompt, rest, f"scoring {name} on the rest of val", confirm=True)
            answers.update({r.id: r.prediction for r in ev2.records})
            scores.update({r.id: r.score for r in ev2.records})
            calls += calls2
        self.record(
            Trial(name, prompt, mean(list(scores.values())), calls, len(scores), True, scores), answers
        )

    def _content_free(self, prompt: Candidate) -> tuple[list[dict[str, float]], int]:
        assert self.field is not None
        program, lm = self.inputs.program, self.inputs.lm
        before = lm.usage.requests
        rows = []
        for text in CONTENT_FREE:
            values = {f.name: text for f in program.signature.inputs}
            scored = lm.label_logprobs(
                render_messages(program, prompt, values), f"{self.field.name}:", list(self.field.labels)
            )
            rows.append(scored.logprobs)
        return rows, lm.usage.requests - before

    def _variants(
        self, prompt: Candidate, logprobs: dict[str, dict[str, float]], cf_rows: list[dict[str, float]]
    ) -> list[tuple[str, Candidate, dict[str, Prediction], dict[str, Candidate]]]:
        """The decisions one pass of label scores supports: their answers on the scored examples, and
        per example the candidate that answered when it is not the decision's own."""
        assert self.field is not None
        raw = Candidate(prompt.instructions, prompt.demos, "logprob", {}, prompt.knn)
        out: list[tuple[str, Candidate, dict[str, Prediction], dict[str, Candidate]]] = [
            ("label log-probabilities", raw, self._decide(raw, logprobs), {})
        ]
        if not self.s.calibrate:
            return out
        cf = Candidate(prompt.instructions, prompt.demos, "logprob", content_free_bias(cf_rows), prompt.knn)
        out.append(("content-free calibration", cf, self._decide(cf, logprobs), {}))
        search = [i for i in self.log.search_ids if i in logprobs]
        confirm = sorted(i for i in logprobs if i in self.log.holdout)  # none while racing
        if len(search) >= 4:
            inner = list(search)
            seeded_rng(self.inputs.seed, "cross-fit").shuffle(inner)
            folds = [inner[: len(inner) // 2], inner[len(inner) // 2 :]]
            fitted = Candidate(
                prompt.instructions, prompt.demos, "logprob", self._fit(logprobs, search), prompt.knn
            )
            answers = self._decide(fitted, {i: logprobs[i] for i in confirm})
            deciders = dict.fromkeys(confirm, fitted)
            for fit_on, apply_to in ((folds[0], folds[1]), (folds[1], folds[0])):
                bias = self._fit(logprobs, fit_on)
                held = Candidate(prompt.instructions, prompt.demos, "logprob", bias, prompt.knn)
                answers.update(self._decide(held, {i: logprobs[i] for i in apply_to}))
                deciders.update(dict.fromkeys(apply_to, held))
            out.append(("fitted calibration", fitted, answers, deciders))
        return out

    def _fit(self, logprobs: dict[str, dict[str, float]], ids: Sequence[str]) -> dict[str, float]:
        """Biases fitted to the gold labels of ids, which must all be in the search half."""
        assert self.field is not None
        self.log.holdout.check(ids)
        gold = [str(self.by_id[i].outputs[self.field.name]) for i in ids]
        return fit_bias([logprobs[i] for i in ids], gold)

    def _decide(self, candidate: Candidate, logprobs: dict[str, dict[str, float]]) -> dict[str, Prediction]:
        return {i: decide(self.inputs.program, candidate, lp) for i, lp in logprobs.items()}

    def _score_label_prompt(self, name: str, prompt: Candidate) -> None:
        raw = Candidate(prompt.instructions, prompt.demos, "logprob", {}, prompt.knn)
        cf_rows, calls = self._content_free(prompt) if self.s.calibrate else ([], 0)
        head, rest = self._race_split()
        ev, head_calls = self.log.evaluate(raw, head, f"scoring {name} on val (label log-probabilities)")
        calls += head_calls
        logprobs = {r.id: r.prediction.label_logprobs or {} for r in ev.records}
        if rest:
            partial = [self.score(answers) for _, _, answers, _ in self._variants(prompt, logprobs, cf_rows)]
            if self._dropped(partial):
                best = max(partial, key=lambda sc: mean(list(sc.values())))
                self.log.record(Trial(name, raw, mean(list(best.values())), calls, len(head), False, best))
                return
            ev2, rest_calls = self.log.evaluate(raw, rest, f"scoring {name} on the rest of val", confirm=True)
            calls += rest_calls
            logprobs.update({r.id: r.prediction.label_logprobs or {} for r in ev2.records})
        for i, (decision, candidate, answers, deciders) in enumerate(
            self._variants(prompt, logprobs, cf_rows)
        ):
            scores = self.score(answers)
            trial = Trial(
                f"{name}, {decision}",
                candidate,
                mean(list(scores.values())),
                calls if i == 0 else 0,
                len(scores),
                True,
                scores,
            )
            self.record(trial, answers, deciders)

    def _ensemble(self) -> None:
        k = self.s.ensemble
        ranked: list[Trial] = []
        for trial in sorted(self.log.challengers(), key=lambda t: -self.log.search_score(t)):
            if id(trial) in self.answers and all(trial.candidate != t.candidate for t in ranked):
                ranked.append(trial)
        members = ranked[:k]
        if k < 2 or len(members) < 2:
            return
        instructions = self.inputs.program.signature.instructions
        ensemble = Candidate(instructions, members=tuple(t.candidate for t in members))
        answers = {}
        for e in self.inputs.val:
            # Each member's distribution calibrated as its own answer on e was: never with e's label.
            deciders = tuple(self.deciders.get(id(t), {}).get(e.id, t.candidate) for t in members)
            answered = [self.answers[id(t)][e.id] for t in members]
            answers[e.id] = combine(self.inputs.program, Candidate(instructions, members=deciders), answered)
        scores = self.score(answers)
        self.record(
            Trial(
                f"ensemble of the {len(members)} best",
                ensemble,
                mean(list(scores.values())),
                0,
                len(scores),
                True,
                scores,
            ),
            answers,
        )


def compile_program(inputs: CompileInputs, s: AutoSettings) -> CompileResult:
    """Score the configured program, calibrated decisions, demo sets and an ensemble; keep what is better."""
    return run_search(inputs, lambda log: _Run(log, s).run())


def _prompt_count(s: AutoSettings) -> int:
    return 1 + s.demo_sets + (1 if s.knn else 0)


def estimate_calls(s: AutoSettings, n_train: int, n_val: int, program: Program | None = None) -> CallEstimate:
    """The worst case: no prompt raced out. A classifier (one enum output; also when the program is
    not given) scores every prompt by label log-probabilities, plus the content-free inputs; any
    other program reuses the configured program's answers for zero-shot and gets the
    bootstrapped prompt (teacher traces on train, then one pass over val)."""
    p = _prompt_count(s)
    stages: tuple[tuple[str, int], ...]
    if program is None or one_label(program):
        content_free = len(CONTENT_FREE) if s.calibrate else 0
        stages = (
            ("configured program on val", n_val),
            (f"{p} prompts x {n_val} val examples (at most)", p * n_val),
            (f"content-free inputs ({p} prompts x {content_free})", p * content_free),
        )
    else:
        traced = traced_count(bootstrap_settings(s), n_train) if s.bootstrap and n_train else 0
        stages = (
            ("configured program (zero-shot) on val", n_val),
            (f"{p - 1} demo prompts x {n_val} val examples (at most)", (p - 1) * n_val),
            ("teacher traces on train", traced),
            (f"bootstrapped prompt x {n_val} val examples", n_val if traced else 0),
        )
    rows = min(s.confirm_train, n_train)
    confirming = rows * (1 + CONFIRM_TOP * max(1, s.ensemble))  # the configured program and finalists
    stages = (*stages, (f"confirmation on {rows} train rows (at most)", confirming)) if rows else stages
    return CallEstimate(
        stages=stages,
        max_demos=max(s.max_demos, s.knn),
        holdout_calls_per_example=max(1, s.ensemble),
    )
