"""The default optimizer with fake models: noise-aware selection, calibration, KNN demos, ensembles."""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptc.api import load
from promptc.cli.app import app
from promptc.commands.lifecycle import compile_config
from promptc.config.load import load_config
from promptc.data.load import Example, load_splits
from promptc.evaluation.evaluate import combine, evaluate
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.metrics import load_metric
from promptc.optimizers import OPTIMIZERS, auto
from promptc.optimizers.base import CompileInputs, CompileResult, Search, Trial
from promptc.optimizers.settings import AutoSettings
from promptc.prompting.calibration import content_free_bias, fit_bias, label_probs
from promptc.prompting.program import Candidate, Demo, Program, Signature
from promptc.prompting.program import Field as SigField
from promptc.prompting.retrieval import nearest_demos
from promptc.results import Prediction
from tests.conftest import LABELS, TOPICS, ConfigWriter, make_examples, write_jsonl

CUES = (
    "Route the ticket. Cues: " + "; ".join(f"{label} = {', '.join(TOPICS[label])}" for label in LABELS) + "."
)


def _inputs(path: Path, seed: int = 0, settings: dict[str, Any] | None = None) -> CompileInputs:
    cfg = load_config(path)
    splits = load_splits(cfg.data, cfg.program.signature)
    return CompileInputs(
        cfg.program,
        splits.train,
        splits.val,
        load_metric(cfg.metric, cfg.program.signature, path.parent),
        LM(cfg.target, CallCache(cfg.cache_path)),
        seed,
        settings or {},
    )


def _val_score(inputs: CompileInputs, candidate: Candidate) -> float:
    return evaluate(inputs.program, candidate, inputs.val, inputs.metric, inputs.lm).overall.mean


def _selection(write_config: ConfigWriter, n: int = 100) -> Search:
    """A search over n synthetic validation examples (ids v0..), for trials with made-up scores."""
    inputs = _inputs(write_config())
    val = tuple(Example(f"v{i}", {"ticket": "x"}, {"category": "billing"}) for i in range(n))
    return Search(dataclasses.replace(inputs, val=val))


def _trial(name: str, right: set[int], n: int = 100) -> Trial:
    scores = {f"v{i}": 1.0 if i in right else 0.0 for i in range(n)}
    return Trial(name, Candidate(name), sum(scores.values()) / n, 0, n, True, scores)


def _start(log: Search, right: set[int]) -> Trial:
    log.incumbent = log.record(_trial("configured", right))
    return log.incumbent


BASE = set(range(0, 100, 10)) | set(range(1, 100, 10)) | set(range(2, 100, 10)) | set(range(3, 100, 2))


def test_a_candidate_better_only_by_noise_is_not_selected(write_config: ConfigWriter) -> None:
    log = _selection(write_config)
    incumbent = _start(log, BASE)
    wrong = sorted(set(range(100)) - BASE)
    log.record(_trial("two lucky examples", BASE | set(wrong[:2])))
    log.close()
    assert log.best() is incumbent


def test_a_truly_better_candidate_is_selected(write_config: ConfigWriter) -> None:
    log = _selection(write_config)
    _start(log, BASE)
    wrong = sorted(set(range(100)) - BASE)
    for name, extra in (("noise", wrong[:2]), ("better", wrong[::2])):
        log.record(_trial(name, BASE | set(extra)))
    log.close()
    best = log.best()
    assert best is not None and best.name == "better"


def test_the_best_of_many_lucky_draws_is_not_selected(write_config: ConfigWriter) -> None:
    # Forty candidates, each right on four more examples than the incumbent, drawn at random: one of
    # them looks clearly better on the search half, and the confirmation half shows it was luck.
    log = _selection(write_config)
    incumbent = _start(log, BASE)
    wrong = sorted(set(range(100)) - BASE)
    rng = random.Random(0)
    for i in range(40):
        log.record(_trial(f"draw {i}", BASE | set(rng.sample(wrong, 4))))
    assert max(log.search_score(t) for t in log.challengers()) >= log.search_score(incumbent) + 0.08
    log.close()
    assert log.best() is incumbent


def test_a_gain_only_on_the_search_half_is_not_selected(write_config: ConfigWriter) -> None:
    log = _selection(write_config)
    incumbent = _start(log, BASE)
    lucky = {int(i[1:]) for i in log.search_ids} - BASE
    log.record(_trial("lucky on the search half", BASE | lucky))
    log.close()
    assert log.finalists() and log.best() is incumbent


def test_calibration_fixes_a_model_with_a_label_bias(write_config: ConfigWriter) -> None:
    path = write_config(lambda c: c["program"].update(instructions=CUES), model="fake/biased")
    inputs = _inputs(path)
    zero_shot = _val_score(inputs, Candidate(CUES))
    result = OPTIMIZERS["auto"].compile(inputs)
    chosen = result.candidate
    assert zero_shot == pytest.approx(0.25)  # the bias answers the first label every time
    assert chosen.decision == "logprob" and chosen.calibration
    assert chosen.calibration[LABELS[0]] < min(v for k, v in chosen.calibration.items() if k != LABELS[0])
    assert _val_score(inputs, chosen) >= 0.9


def test_content_free_bias_makes_content_free_inputs_uniform() -> None:
    rows = [{"a": math.log(0.7), "b": math.log(0.2), "c": math.log(0.1)}] * 3
    bias = content_free_bias(rows)
    probs = label_probs(rows[0], bias)
    assert all(p == pytest.approx(1 / 3, abs=1e-3) for p in probs.values())
    assert sum(bias.values()) == pytest.approx(0.0, abs=2e-3)


def test_fitted_bias_recovers_a_constant_offset() -> None:
    # The model prefers "a" by 2 nats on every input; the evidence says the truth is balanced.
    rows, gold = [], []
    for i in range(200):
        truth = "a" if i % 2 else "b"
        rows.append({"a": 2.0 + (1.0 if truth == "a" else 0.0), "b": 1.0 if truth == "b" else 0.0})
        gold.append(truth)
    bias = fit_bias(rows, gold)
    calibrated = [label_probs(r, bias) for r in rows]
    fixed = sum(max(p, key=lambda k: p[k]) == g for p, g in zip(calibrated, gold, strict=True))
    raw = sum(max(r, key=lambda k: r[k]) == g for r, g in zip(rows, gold, strict=True))
    assert raw == 100 and fixed == 200


def test_nearest_neighbour_demos_beat_random_demos_for_a_model_that_copies_them(
    write_config: ConfigWriter,
) -> None:
    inputs = _inputs(write_config())
    pool = tuple(Demo(dict(e.inputs), dict(e.outputs), source_id=e.id) for e in inputs.train)
    knn = _val_score(inputs, Candidate("Route the ticket.", pool, knn=1))
    random_demos = [
        _val_score(inputs, Candidate("Route the ticket.", pool[i : i + 4]))
        for i in range(0, len(pool) - 4, 4)
    ]
    assert knn > max(random_demos)
    assert knn >= 0.9


def test_nearest_demos_put_the_most_similar_last_and_never_the_input_itself() -> None:
    program = Program(
        "p", "1.0.0", Signature((SigField("text"),), (SigField("label", "enum", labels=("x", "y")),))
    )
    pool = tuple(
        Demo({"text": t}, {"label": "x"}, source_id=str(i))
        for i, t in enumerate(["red apple pie", "green apple tart", "blue car engine", "apple pie recipe"])
    )
    shown = nearest_demos(program, pool, {"text": "apple pie recipe"}, 2)
    assert [d.source_id for d in shown] == ["1", "0"]


def _prediction(label: str, logprobs: dict[str, float] | None = None) -> Prediction:
    return Prediction({"label": label}, None, f"label: {label}", None, 1, 1, True, 0.0, logprobs)


def test_an_ensemble_votes_and_averages_label_probabilities() -> None:
    program = Program(
        "p", "1.0.0", Signature((SigField("text"),), (SigField("label", "enum", labels=("x", "y", "z")),))
    )
    members = tuple(Candidate(str(i)) for i in range(3))
    ensemble = Candidate("", members=members)
    voted = combine(program, ensemble, [_prediction("y"), _prediction("x"), _prediction("y")])
    assert voted.outputs == {"label": "y"} and voted.prompt_tokens == 3
    # Averaged: one member is sure of z, two lean slightly to x; the mean distribution favours z.
    lean_x = {"x": math.log(0.45), "y": math.log(0.35), "z": math.log(0.2)}
    sure_z = {"x": math.log(0.01), "y": math.log(0.01), "z": math.log(0.98)}
    averaged = combine(
        program, ensemble, [_prediction("x", lean_x), _prediction("x", lean_x), _prediction("z", sure_z)]
    )
    assert averaged.outputs == {"label": "z"}


def test_auto_keeps_the_configured_program_when_nothing_is_better(write_config: ConfigWriter) -> None:
    result: CompileResult = OPTIMIZERS["auto"].compile(_inputs(write_config(model="fake/ignorer")))
    assert result.candidate == Candidate("Route the ticket.")
    assert any("keeping the configured program" in note for note in result.notes)


def test_auto_races_out_prompts_that_are_clearly_worse(write_config: ConfigWriter, tmp_path: Path) -> None:
    # With cue instructions the learner is right zero-shot; demos with wrong labels, which it copies,
    # are clearly worse, and racing stops scoring them after the first half of val.
    def edit(cfg: dict[str, Any]) -> None:
        rows = make_examples(40, seed=1)
        for row in rows:
            row["category"] = LABELS[(LABELS.index(row["category"]) + 1) % len(LABELS)]
        write_jsonl(tmp_path / "data" / "wrong.jsonl", rows)
        cfg["data"]["train"] = "data/wrong.jsonl"
        cfg["program"]["instructions"] = CUES

    result = OPTIMIZERS["auto"].compile(_inputs(write_config(edit)))
    raced = [t for t in result.trials if not t.full]
    assert len(raced) == 3 and all(t.n == 12 and t.calls == 12 + 3 for t in raced)  # 2 balanced sets, knn
    assert result.candidate.demos == ()


def test_auto_dry_run_counts_the_worst_case(write_config: ConfigWriter) -> None:
    path = write_config(lambda c: c["optimizer"].update(name="auto", settings={}))
    inputs = _inputs(path)
    estimate = OPTIMIZERS["auto"].estimate_calls(AutoSettings(), len(inputs.train), len(inputs.val))
    before = inputs.lm.usage.requests
    OPTIMIZERS["auto"].compile(inputs)
    assert inputs.lm.usage.requests - before <= estimate.total
    assert estimate.holdout_calls_per_example == 3
    shown = CliRunner().invoke(app, ["compile", str(path), "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "at most 3 calls per example for the candidate (an ensemble)" in " ".join(shown.output.split())


def test_calibration_is_stored_shown_and_applied_when_served(write_config: ConfigWriter) -> None:
    path = write_config(
        lambda c: (c["program"].update(instructions=CUES), c["optimizer"].update(name="auto", settings={})),
        model="fake/biased",
    )
    outcome = compile_config(load_config(path))
    stored = outcome.artifact.content["candidate"]
    assert stored["decision"] == "logprob" and stored["calibration"]
    ticket = "my parcel is late and the courier lost the tracking"
    result = CliRunner().invoke(app, ["run", str(path), "--alias", "latest", "--input", f"ticket={ticket}"])
    assert result.exit_code == 0, result.output
    assert "shipping" in result.output
    assert load(path, "latest")(ticket=ticket) == {"category": "shipping"}
    shown = CliRunner().invoke(app, ["show", outcome.artifact.id, "--config", str(path)])
    assert shown.exit_code == 0 and "calibration (added to each label's log-probability)" in shown.output
    plain = write_config(
        lambda c: (c["program"].update(instructions=CUES), c["optimizer"].update(name="labeled_fewshot")),
        model="fake/biased",
        name="plain.yaml",
    )
    other = compile_config(load_config(plain)).artifact
    diffed = CliRunner().invoke(app, ["diff", other.id, outcome.artifact.id, "--config", str(path)])
    assert diffed.exit_code == 0, diffed.output
    assert "-answer: the model's generated reply, parsed" in diffed.output
    assert "+calibration (added to each label's log-probability)" in diffed.output


def test_prompts_are_sent_in_prompt_order_where_the_model_reuses_prefixes(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = _inputs(write_config(lambda c: c["target"].update(concurrency=1)))  # one call at a time
    pool = tuple(Demo(dict(e.inputs), dict(e.outputs), source_id=e.id) for e in inputs.train)
    candidate = Candidate("Route the ticket.", pool, knn=2)
    plain = evaluate(inputs.program, candidate, inputs.val, inputs.metric, inputs.lm)
    sent: list[list[dict[str, str]]] = []
    complete = LM.complete

    def recording(self: LM, messages: list[dict[str, str]], *args: Any, **kwargs: Any) -> Any:
        sent.append(messages)
        return complete(self, messages, *args, **kwargs)

    monkeypatch.setattr(LM, "reuses_prompt_prefix", property(lambda self: True))
    monkeypatch.setattr(LM, "complete", recording)
    ordered = evaluate(inputs.program, candidate, inputs.val, inputs.metric, inputs.lm)
    assert [r.to_dict() for r in ordered.records] == [r.to_dict() for r in plain.records]  # example order
    assert ordered.summaries == plain.summaries
    keys = [[(m["role"], m["content"]) for m in messages] for messages in sent]
    assert len(keys) == len(inputs.val) and keys == sorted(keys)


def test_calibration_and_the_ensemble_never_read_the_confirmation_labels(write_config: ConfigWriter) -> None:
    # Fitted biases, and the ensemble's members with them, come from the search half only: changing
    # every confirmation-half gold label changes no candidate and no search-half score.
    from tests.test_optimizers import _relabel_held_out, search_decisions

    path = write_config(lambda c: c["program"].update(instructions=CUES), model="fake/biased")
    inputs = _inputs(path)
    search_ids = Search(inputs).search_ids
    before = OPTIMIZERS["auto"].compile(inputs)
    after = OPTIMIZERS["auto"].compile(_relabel_held_out(inputs))
    names = [t.name for t in before.trials]
    assert any(n.endswith("fitted calibration") for n in names) and any(
        n.startswith("ensemble") for n in names
    )
    assert search_decisions(before, search_ids) == search_decisions(after, search_ids)


def _slots_program(cfg: dict[str, Any], tmp_path: Path) -> None:
    """The tickets as slot filling: each ticket's topic words under its category, as a JSON object."""
    for split, (n, seed, start) in {"train": (40, 1, 0), "val": (40, 2, 100), "test": (32, 3, 200)}.items():
        rows = make_examples(n, seed=seed, start=start)
        for row in rows:
            label = row.pop("category")
            row["slots"] = {label: sorted(w for w in row["ticket"].split() if w in TOPICS[label])}
        write_jsonl(tmp_path / "data" / f"{split}.jsonl", rows)
    schema = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
    cfg["program"]["outputs"] = {"slots": {"type": "json", "schema": schema}}
    cfg["metric"] = "json_f1"
    cfg["optimizer"] = {"name": "auto", "settings": {}}


def test_auto_improves_a_slot_filling_program_over_zero_shot(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # The learner cannot fill slots zero-shot (its reply is no JSON object); with demos it copies the
    # nearest one's slots. auto scores zero-shot, demo sets covering the slots, nearest demos and a
    # bootstrapped set, and keeps one only when the confirmation half shows it is better.
    inputs = _inputs(write_config(lambda c: _slots_program(c, tmp_path)))
    zero_shot = _val_score(inputs, Candidate("Route the ticket."))
    result = OPTIMIZERS["auto"].compile(inputs)
    names = [t.name for t in result.trials]
    assert any(n.startswith("bootstrap ") for n in names) and any("nearest" in n for n in names)
    assert not any("calibration" in n for n in names)  # no label scores without one enum output
    assert zero_shot == 0.0
    assert result.candidate.demos and _val_score(inputs, result.candidate) >= zero_shot + 0.5


def test_auto_dry_run_bounds_the_calls_of_a_slot_filling_program(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(lambda c: _slots_program(c, tmp_path))
    inputs = _inputs(path, settings={"confirm_train": 0})
    estimate = OPTIMIZERS["auto"].estimate_calls(
        AutoSettings(confirm_train=0), len(inputs.train), len(inputs.val), inputs.program
    )
    stages = dict(estimate.stages)
    before = inputs.lm.usage.requests
    OPTIMIZERS["auto"].compile(inputs)
    made = inputs.lm.usage.requests - before
    # Nothing is raced out here: without confirmation on train rows (how many finalists there are
    # is known only after the search) the estimate is exact (no content-free calls, and the
    # zero-shot prompt is the configured program, scored once).
    assert made == estimate.total
    default = auto.estimate_calls(AutoSettings(), len(inputs.train), len(inputs.val), inputs.program)
    rows = min(60, len(inputs.train))
    assert dict(default.stages)[f"confirmation on {rows} train rows (at most)"] == rows * (1 + 3 * 3)
    assert stages["teacher traces on train"] == 16
    shown = CliRunner().invoke(app, ["compile", str(path), "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "teacher traces on train" in shown.output


def test_a_classifier_gets_no_bootstrapped_prompt(write_config: ConfigWriter) -> None:
    inputs = _inputs(write_config())
    before = inputs.lm.usage.requests
    result = OPTIMIZERS["auto"].compile(inputs)
    assert not any(t.name.startswith("bootstrap") for t in result.trials)
    estimate = auto.estimate_calls(AutoSettings(), len(inputs.train), len(inputs.val), inputs.program)
    assert not any("teacher" in name or "bootstrapped" in name for name, _ in estimate.stages)
    assert inputs.lm.usage.requests - before <= estimate.total


def _small_val_slots(cfg: dict[str, Any], tmp_path: Path) -> None:
    """The slot-filling program with 6 validation examples: a confirmation half of 3."""
    _slots_program(cfg, tmp_path)
    path = tmp_path / "data" / "val.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:6]))


@pytest.mark.parametrize("confirm_train", [0, 30])
def test_unused_train_rows_confirm_what_a_tiny_val_cannot(
    write_config: ConfigWriter, tmp_path: Path, confirm_train: int
) -> None:
    settings = {"confirm_train": confirm_train}
    inputs = _inputs(write_config(lambda c: _small_val_slots(c, tmp_path)), settings=settings)
    estimate = OPTIMIZERS["auto"].estimate_calls(
        AutoSettings(confirm_train=confirm_train), len(inputs.train), len(inputs.val), inputs.program
    )
    before = inputs.lm.usage.requests
    result = OPTIMIZERS["auto"].compile(inputs)
    assert inputs.lm.usage.requests - before <= estimate.total
    stages = dict(estimate.stages)
    if confirm_train:  # 30 rows, less the demos each finalist shows: enough to confirm the demos
        assert stages["confirmation on 30 train rows (at most)"] == 30 * (1 + 3 * 3)
        assert result.candidate.demos or result.candidate.members  # demos, or an ensemble of them
    else:  # three confirmation examples can confirm nothing: the configured program stays
        assert not any(name.startswith("confirmation") for name in stages)
        assert not result.candidate.demos and not result.candidate.members


def test_confirming_on_train_rows_is_one_progress_stage_per_candidate(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # Nearest-neighbour demos are confirmed leave-one-out, one group per row; progress shows one
    # stage per confirmed candidate, whose steps are all its rows, not a bar per row.
    from dataclasses import replace

    from tests.test_optimizers import Recorder

    recorder = Recorder()
    inputs = _inputs(write_config(lambda c: _small_val_slots(c, tmp_path)), settings={"confirm_train": 30})
    OPTIMIZERS["auto"].compile(replace(inputs, reporter=recorder))
    confirming = [s for s in recorder.stages if s.startswith("confirming")]
    assert confirming and len(confirming) == len(set(confirming))
    assert any("nearest" in s for s in confirming)
