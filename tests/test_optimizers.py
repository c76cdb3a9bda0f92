"""Optimizers against fake models: a gain where demos help, none where they cannot."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptc.config.load import load_config
from promptc.data.load import load_splits
from promptc.errors import ConfigError, RuntimeFailure
from promptc.evaluation.evaluate import evaluate
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.metrics import load_metric
from promptc.optimizers import OPTIMIZERS, get_optimizer
from promptc.optimizers.base import CompileInputs, CompileResult, Search, run_search
from promptc.optimizers.holdout import PeekError
from promptc.prompting.program import Candidate, Demo, baseline_candidate
from promptc.reports.progress import Advance, Reporter, Silent
from tests.conftest import LABELS, ConfigWriter, make_examples, write_jsonl


def _compile(
    path: Path,
    name: str,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> tuple[CompileResult, float]:
    cfg = load_config(path)
    splits = load_splits(cfg.data, cfg.program.signature)
    metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
    lm = LM(cfg.target, CallCache(cfg.cache_path))
    result = OPTIMIZERS[name].compile(
        CompileInputs(
            cfg.program, splits.train, splits.val, metric, lm, seed, settings or {}, reporter or Silent()
        )
    )
    zero_shot = evaluate(cfg.program, baseline_candidate(cfg.program), splits.val, metric, lm).overall.mean
    return result, zero_shot


def val_score_of(path: Path, candidate: Candidate) -> float:
    """The candidate's score on the validation split, measured here rather than taken from the optimizer."""
    cfg = load_config(path)
    splits = load_splits(cfg.data, cfg.program.signature)
    metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
    lm = LM(cfg.target, CallCache(cfg.cache_path))
    return evaluate(cfg.program, candidate, splits.val, metric, lm).overall.mean


SINGLE_CANDIDATE = ("bootstrap_fewshot", "labeled_fewshot")
INSTRUCTIONS_ONLY = ("copro", "gepa")  # search instructions, never demos (tests/test_copro.py, test_gepa.py)


@pytest.mark.parametrize("name", sorted(set(OPTIMIZERS) - set(INSTRUCTIONS_ONLY)))
def test_demos_improve_a_model_that_learns_from_them(write_config: ConfigWriter, name: str) -> None:
    path = write_config()
    result, zero_shot = _compile(path, name)
    assert zero_shot == pytest.approx(0.25)
    measured = val_score_of(path, result.candidate)
    assert measured >= zero_shot + 0.3
    # Searches report the winner's val score; single-candidate optimizers do not score by default.
    assert result.val_score == (None if name in SINGLE_CANDIDATE else pytest.approx(measured))
    assert result.candidate.demos


@pytest.mark.parametrize("name", SINGLE_CANDIDATE)
def test_single_candidate_optimizers_score_on_val_only_when_asked(
    write_config: ConfigWriter, name: str
) -> None:
    path = write_config()
    kept, _ = _compile(path, name)
    assert [(t.val_score, t.n, t.full, t.calls) for t in kept.trials] == [(None, 0, False, 0)]
    scored, _ = _compile(path, name, settings={"validate": True})
    assert scored.candidate == kept.candidate
    assert [(t.n, t.full) for t in scored.trials] == [(24, True)]
    assert scored.val_score == pytest.approx(val_score_of(path, kept.candidate))
    optimizer = OPTIMIZERS[name]
    stages = dict(optimizer.estimate_calls(optimizer.read_settings({"validate": True}), 40, 24).stages)
    assert stages["validation scoring"] == 24
    unscored = optimizer.estimate_calls(optimizer.read_settings({}), 40, 24)
    assert dict(unscored.stages)["validation scoring"] == 0


MINIBATCH = {"num_candidates": 4, "num_trials": 6, "minibatch_size": 8, "minibatch_full_eval_steps": 3}
# Smaller searches than the defaults, to keep the tests quick.
QUICK: dict[str, dict[str, Any]] = {
    "random_search": {"num_candidate_programs": 4},
    "mipro": MINIBATCH,
    "copro": {"breadth": 2, "depth": 2, "proposal_examples": 12},
    "auto": {"demo_sets": 1},
    "gepa": {
        "reflection_model": {"model": "fake/learner", "revision": "fake00000000"},
        "max_metric_calls": 400,
        "minibatch_size": 6,
    },
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_no_gain_is_reported_for_a_model_that_ignores_demos(write_config: ConfigWriter, name: str) -> None:
    settings = {"validate": True} if name in SINGLE_CANDIDATE else QUICK[name]
    path = write_config(model="fake/ignorer")
    result, zero_shot = _compile(path, name, settings=settings)
    assert result.val_score == pytest.approx(zero_shot)
    assert val_score_of(path, result.candidate) == pytest.approx(zero_shot)
    assert all(t.val_score <= zero_shot + 1e-9 for t in result.trials if t.full)


def larger_val(tmp_path: Path) -> Callable[[dict[str, Any]], None]:
    """A config edit: 80 validation examples instead of 24, enough to show a real gain is not noise."""

    def edit(cfg: dict[str, Any]) -> None:
        write_jsonl(tmp_path / "data" / "val80.jsonl", make_examples(80, seed=2, start=100))
        cfg["data"]["val"] = "data/val80.jsonl"

    return edit


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_same_seed_same_candidate_other_seed_other_demos(
    write_config: ConfigWriter, tmp_path: Path, name: str
) -> None:
    path = write_config(larger_val(tmp_path))
    a, _ = _compile(path, name, seed=1, settings=QUICK.get(name))
    b, _ = _compile(path, name, seed=1, settings=QUICK.get(name))
    c, _ = _compile(path, name, seed=2, settings=QUICK.get(name))
    assert a.candidate == b.candidate
    assert a.trials == b.trials
    assert [t.to_dict() for t in a.trials] != [t.to_dict() for t in c.trials]  # the seed steers the search


def test_bootstrapped_demos_carry_teacher_outputs_the_metric_accepted(write_config: ConfigWriter) -> None:
    result, _ = _compile(write_config(), "bootstrap_fewshot")
    cfg = load_config(write_config())
    train = {e.id: e for e in load_splits(cfg.data, cfg.program.signature).train}
    for demo in result.candidate.demos:
        assert demo.outputs == train[str(demo.source_id)].outputs


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="labeled_fewshot accepts: k"):
        get_optimizer("labeled_fewshot", {"kk": 3})


def test_random_search_scores_every_kind_of_candidate_and_keeps_the_best(write_config: ConfigWriter) -> None:
    result, zero_shot = _compile(write_config(), "random_search", settings={"num_candidate_programs": 3})
    names = [t.name for t in result.trials]
    assert names[0] == "zero-shot" and names[1].startswith("labeled only")
    assert names[2].startswith("bootstrap in train order")
    assert [n.split(":")[0] for n in names[3:]] == ["shuffle 0", "shuffle 1", "shuffle 2"]
    assert all(t.full and t.n == 24 for t in result.trials)
    assert result.trials[0].val_score == zero_shot
    assert result.val_score == max(t.val_score for t in result.trials)


def test_random_search_breaks_ties_towards_fewer_demos(write_config: ConfigWriter) -> None:
    result, _ = _compile(
        write_config(model="fake/ignorer"), "random_search", settings={"num_candidate_programs": 2}
    )
    assert result.candidate.demos == ()
    assert result.candidate == result.trials[0].candidate


def test_mipro_finds_a_better_instruction_when_demos_are_off(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    no_demos = {"max_labeled_demos": 0, "max_bootstrapped_demos": 0, "num_candidates": 4, "num_trials": 8}
    result, zero_shot = _compile(write_config(larger_val(tmp_path)), "mipro", settings=no_demos)
    assert result.candidate.demos == ()
    assert result.candidate.instructions.startswith("Route the ticket. Cues: ")
    assert result.val_score >= zero_shot + 0.2
    assert result.lineage["instructions"][0] == "Route the ticket."
    assert result.candidate.instructions in result.lineage["instructions"]


def test_mipro_scores_minibatches_and_lets_only_full_scores_win(write_config: ConfigWriter) -> None:
    result, _ = _compile(write_config(), "mipro", settings=MINIBATCH)
    minibatch = [t for t in result.trials if not t.full]
    full = [t for t in result.trials if t.full]
    assert len(minibatch) == 6 and all(t.n == 8 and t.calls == 8 for t in minibatch)
    assert len(full) == 3  # the configured program, then the best pair after trials 3 and 6
    assert full[0].name == "instruction 0 + zero-shot" and full[0].calls == 24
    assert all(t.calls == 16 for t in full[1:])  # the rest of val; the minibatch is not re-scored
    assert result.candidate in [t.candidate for t in full]
    assert result.val_score == max(t.val_score for t in full)
    pairs = [t.name for t in minibatch]
    assert len(set(pairs)) == len(pairs)  # a trial never re-scores a pair


def test_mipro_keeps_its_optuna_study_in_sqlite(write_config: ConfigWriter) -> None:
    import logging

    import optuna

    result, _ = _compile(write_config(), "mipro", settings=MINIBATCH)
    url = f"sqlite:///{Path(os.environ['PROMPTC_HOME']) / 'optuna.sqlite'}"
    # The lineage names the search; the study of this run is that name plus a run id.
    (name,) = [n for n in optuna.get_all_study_names(url) if n.startswith(result.lineage["optuna_study"])]
    study = optuna.load_study(study_name=name, storage=url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 6
    assert {"instruction", "demo_set"} <= set(complete[0].params)
    assert "instruction" in complete[0].user_attrs
    assert optuna.logging.get_verbosity() == logging.WARNING
    assert any(url in note for note in result.notes)


def test_mipro_proposals_go_to_the_prompt_model(write_config: ConfigWriter) -> None:
    echo = {"model": "fake/echo", "revision": "fake00000000"}
    result, _ = _compile(write_config(), "mipro", settings={**MINIBATCH, "prompt_model": echo})
    # fake/echo replies with the proposal prompt itself, which is too long and quotes training tickets.
    assert result.lineage["instructions"] == ["Route the ticket."]
    assert sum(result.lineage["rejected_proposals"].values()) == MINIBATCH["num_candidates"] - 1
    db = sqlite3.connect(load_config(write_config()).cache_path)
    replies = [json.loads(v)["text"] for (v,) in db.execute("SELECT response FROM calls")]
    proposal = next(r for r in replies if "Data summary:" in r)
    assert "Data summary:\n40 training examples.\ncategory: " in proposal
    assert "Outputs:\n- category (one of: billing, technical, account, shipping)" in proposal
    assert "Tip: " in proposal


def test_mipro_refuses_a_prompt_model_of_another_revision(write_config: ConfigWriter) -> None:
    from promptc.errors import RevisionMismatch

    wrong = {"model": "fake/learner", "revision": "abcdef123456"}
    with pytest.raises(RevisionMismatch):
        _compile(write_config(), "mipro", settings={**MINIBATCH, "prompt_model": wrong})


def test_mipro_presets_and_manual_settings(write_config: ConfigWriter) -> None:
    from promptc.optimizers import mipro
    from promptc.optimizers.settings import MiproSettings

    light = mipro.estimate_calls(MiproSettings.from_dict({}), 40, 100)
    heavy = mipro.estimate_calls(MiproSettings.from_dict({"auto": "heavy"}), 40, 100)
    manual = mipro.estimate_calls(MiproSettings.from_dict({"auto": "heavy", "num_trials": 3}), 40, 100)
    assert light.total < heavy.total
    assert dict(manual.stages)["3 trials x minibatch of 35"] == 105
    assert light.prompt_model_calls == 5 and heavy.prompt_model_calls == 17
    with pytest.raises(ConfigError, match=r"optimizer\.settings\.auto"):
        get_optimizer("mipro", {"auto": "extreme"})


class Recorder:
    """A reporter that keeps what it is told."""

    def __init__(self) -> None:
        self.stages: list[str] = []
        self.statuses: list[tuple[float | None, int, int]] = []

    def stage(self, name: str, total: int) -> Advance:
        self.stages.append(name)
        return lambda: None

    def status(self, best: float | None, calls: int, tokens: int) -> None:
        self.statuses.append((best, calls, tokens))


def test_the_reporter_hears_the_best_score_and_the_calls_and_tokens_spent(write_config: ConfigWriter) -> None:
    recorder = Recorder()
    result, _ = _compile(
        write_config(), "random_search", settings={"num_candidate_programs": 1}, reporter=recorder
    )
    assert recorder.stages[0] == "scoring zero-shot on val"
    assert "bootstrapping demos on train" in recorder.stages
    assert recorder.statuses[0][0] is None  # nothing fully scored yet
    best, calls, tokens = recorder.statuses[-1]
    assert best == result.val_score and calls > 0 and tokens > 0
    calls_seen = [c for _, c, _ in recorder.statuses]
    assert calls_seen == sorted(calls_seen)


def test_chain_of_thought_demos_carry_the_teacher_reasoning(write_config: ConfigWriter) -> None:
    from promptc.prompting.adapter import parse_reply, render_messages

    path = write_config(lambda c: c["program"].update(module="chain_of_thought"))
    result, zero_shot = _compile(path, "bootstrap_fewshot")
    assert val_score_of(path, result.candidate) >= zero_shot + 0.3
    boot = [d for d in result.candidate.demos if d.reasoning is not None]
    labeled = [d for d in result.candidate.demos if d.reasoning is None]
    assert boot and labeled
    assert all(d.reasoning and d.reasoning.startswith("it shares ") for d in boot)
    program = load_config(path).program
    messages = render_messages(program, result.candidate, {"ticket": "refund please"})
    assert "reasoning: <think step by step" in messages[0]["content"]
    assert (
        messages[2]["content"] == f"reasoning: {boot[0].reasoning}\ncategory: {boot[0].outputs['category']}"
    )
    labeled_turn = messages[2 + 2 * result.candidate.demos.index(labeled[0])]["content"]
    assert labeled_turn == f"category: {labeled[0].outputs['category']}"  # no invented reasoning
    cfg = load_config(path)
    lm = LM(cfg.target, CallCache(cfg.cache_path))
    reply = lm.complete(messages).text
    outputs, reasoning = parse_reply(program, reply)
    assert reply.startswith("reasoning: ") and reasoning and outputs["category"] in LABELS


def test_labeled_demos_without_reasoning_render_in_chain_of_thought() -> None:
    from promptc.prompting.adapter import assistant_message
    from promptc.prompting.program import Field, Program, Signature

    program = Program(
        "t", "1.0.0", Signature((Field("q"),), (Field("a", "enum", labels=("x", "y")),)), "chain_of_thought"
    )
    assert assistant_message(program, Demo({"q": "hi"}, {"a": "x"})) == "a: x"
    assert assistant_message(program, Demo({"q": "hi"}, {"a": "x"}, reasoning="so")) == "reasoning: so\na: x"
    assert (
        Candidate("i", (Demo({"q": "hi"}, {"a": "x"}, reasoning="so"),)).to_dict()["demos"][0]["reasoning"]
        == "so"
    )


def test_mipro_refuses_unusable_proposals(write_config: ConfigWriter) -> None:
    from promptc.optimizers.proposals import rejection

    cfg = load_config(write_config())
    splits = load_splits(cfg.data, cfg.program.signature)
    lm = LM(cfg.target, CallCache(cfg.cache_path))
    inputs = CompileInputs(
        cfg.program,
        splits.train,
        splits.val,
        load_metric(cfg.metric, cfg.program.signature, cfg.path.parent),
        lm,
        0,
        {},
    )
    labels = ", ".join(LABELS)
    good = f"Route each ticket to one of {labels} by the words it uses."
    assert rejection(inputs, good, ["Route the ticket."]) is None
    assert rejection(inputs, "", []) == "empty"
    assert rejection(inputs, good + " x" * 400, []) == "longer than 600 characters"
    assert rejection(inputs, good.upper(), [good]) == "duplicate"
    copied = f"{good} For example: {splits.train[0].inputs['ticket']}"
    assert rejection(inputs, copied, []) == "copies a training input"
    assert rejection(inputs, "Route each ticket to billing or shipping.", []) == "leaves out a label name"


def test_mipro_reports_refused_proposals(write_config: ConfigWriter) -> None:
    # fake/ignorer proposes the configured instruction with cues for the labels its examples show;
    # with two proposal examples, most proposals cannot name all four labels.
    settings = {**MINIBATCH, "proposal_examples": 2, "num_candidates": 5}
    result, _ = _compile(write_config(model="fake/ignorer"), "mipro", settings=settings)
    rejected = result.lineage["rejected_proposals"]
    assert sum(rejected.values()) >= 1 and set(rejected) <= {"leaves out a label name", "duplicate"}
    assert any("proposed instructions refused" in note for note in result.notes)
    assert len(result.lineage["instructions"]) == 5 - sum(rejected.values())


def _inputs(path: Path, settings: dict[str, Any]) -> CompileInputs:
    cfg = load_config(path)
    splits = load_splits(cfg.data, cfg.program.signature)
    metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
    return CompileInputs(
        cfg.program, splits.train, splits.val, metric, LM(cfg.target, CallCache(cfg.cache_path)), 0, settings
    )


def _relabel_held_out(inputs: CompileInputs) -> CompileInputs:
    """The same inputs with every confirmation-half example's gold label changed to another."""
    held = Search(inputs).holdout

    def other(label: str) -> str:
        return LABELS[(LABELS.index(label) + 1) % len(LABELS)]

    val = tuple(
        dataclasses.replace(e, outputs={"category": other(e.outputs["category"])}) if e.id in held else e
        for e in inputs.val
    )
    return dataclasses.replace(inputs, val=val)


def search_decisions(result: CompileResult, search_ids: list[str]) -> list[Any]:
    """What a search decided, trial by trial: candidates, what they were scored on, search-half scores."""
    return [
        (
            t.name,
            t.candidate,
            t.n,
            t.full,
            None if t.full else t.val_score,
            {i: t.scores[i] for i in search_ids if i in t.scores},
        )
        for t in result.trials
    ]


GEPA = {"reflection_model": {"model": "fake/learner", "revision": "fake00000000"}, "max_metric_calls": 200}


@pytest.mark.parametrize(
    "name, settings",
    [
        ("mipro", MINIBATCH),
        ("random_search", {"num_candidate_programs": 2}),
        ("copro", {"breadth": 2, "depth": 2}),
        ("gepa", {**GEPA, "minibatch_size": 6}),
    ],
)
def test_the_confirmation_half_labels_change_nothing_a_search_decides(
    write_config: ConfigWriter, name: str, settings: dict[str, Any]
) -> None:
    inputs = _inputs(write_config(), settings)
    search_ids = Search(inputs).search_ids
    before = OPTIMIZERS[name].compile(inputs)
    after = OPTIMIZERS[name].compile(_relabel_held_out(inputs))
    assert search_decisions(before, search_ids) == search_decisions(after, search_ids)


def test_mipro_draws_its_minibatches_from_the_search_half(write_config: ConfigWriter) -> None:
    inputs = _inputs(write_config(), MINIBATCH)
    search_ids = set(Search(inputs).search_ids)
    result = OPTIMIZERS["mipro"].compile(inputs)
    minibatches = [set(t.scores) for t in result.trials if not t.full]
    assert minibatches and all(ids <= search_ids for ids in minibatches)


def test_a_search_that_reads_the_confirmation_half_is_an_error(write_config: ConfigWriter) -> None:
    inputs = _inputs(write_config(), {})
    configured = baseline_candidate(inputs.program)
    held = next(e for e in inputs.val if e.id in Search(inputs).holdout)
    peeks: dict[str, Callable[[Search], object]] = {
        "scoring a held-out example to decide on": lambda log: log.evaluate(configured, [held], "peek"),
        "a recorded score on a held-out example": lambda log: log.score_incumbent("c", configured).scores[
            held.id
        ],
        "a whole-split score": lambda log: log.score_incumbent("c", configured).full_score,
        "the held-out examples": lambda log: log.holdout.examples,
        "selection before the search is over": lambda log: (log.score_incumbent("c", configured), log.best()),
    }
    for peek in peeks.values():
        with pytest.raises(PeekError):
            run_search(inputs, peek)
    # Scoring the whole split for the record is allowed, and selection reads it once the search is over.
    result = run_search(inputs, lambda log: log.score_incumbent("configured", configured))
    assert result.val_score is not None and result.trials[0].scores[held.id] in (0.0, 1.0)


def test_mipro_refuses_a_lock_file_that_is_a_link(write_config: ConfigWriter, tmp_path: Path) -> None:
    home = Path(os.environ["PROMPTC_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (home / "optuna.lock").symlink_to(victim)
    with pytest.raises(RuntimeFailure, match=r"optuna\.lock") as err:
        _compile(write_config(), "mipro", settings=MINIBATCH)
    assert err.value.fix and "remove" in err.value.fix
    assert victim.read_text() == "keep me"
