"""gepa against fake models: reflection on feedback improves the target, resume after kill -9,
noise-aware selection, the dry-run bound, bad settings."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptc.config.load import load_config
from promptc.data.load import load_splits
from promptc.errors import ConfigError
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.metrics import load_metric
from promptc.optimizers import OPTIMIZERS, get_optimizer
from promptc.optimizers.base import CompileInputs, CompileResult
from promptc.optimizers.gepa import reflection_messages
from promptc.optimizers.gepa_state import state_path
from promptc.optimizers.settings import GepaSettings
from promptc.prompting.program import baseline_candidate
from promptc.prompting.prompt_text import REFLECTOR
from tests.conftest import ConfigWriter, base_config
from tests.test_copro import val80, zero_shot_score

REFLECTION = {"model": "fake/learner", "revision": "fake00000000"}
SMALL = {"reflection_model": REFLECTION, "max_metric_calls": 200, "minibatch_size": 6}


def _inputs(path: Path, seed: int, settings: dict[str, Any]) -> CompileInputs:
    cfg = load_config(path)
    splits = load_splits(cfg.data, cfg.program.signature)
    metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
    lm = LM(cfg.target, CallCache(cfg.cache_path))
    return CompileInputs(
        cfg.program, splits.train, splits.val, metric, lm, seed, settings, state_dir=cfg.cache_path.parent
    )


def _compile(path: Path, seed: int = 0, settings: dict[str, Any] | None = None) -> tuple[CompileResult, LM]:
    inputs = _inputs(path, seed, settings or SMALL)
    return OPTIMIZERS["gepa"].compile(inputs), inputs.lm


def test_reflection_on_feedback_improves_a_target_that_follows_cues(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # fake/learner as the reflection model turns "expected billing, got ..." feedback into label
    # cues; fake/learner as the target follows cues in its instructions.
    path = write_config(val80(tmp_path))
    result, _ = _compile(path, settings={**SMALL, "max_metric_calls": 600})
    zero_shot = zero_shot_score(path)
    assert zero_shot == pytest.approx(0.25)
    assert result.candidate.demos == ()
    assert result.candidate.instructions.startswith("Route the ticket. Cues: ")
    assert result.val_score is not None and result.val_score >= zero_shot + 0.4
    rounds = result.lineage["rounds"]
    accepted = [r for r in rounds if r["outcome"] == "accepted"]
    assert accepted and all(r["rewrite"] in result.lineage["instructions"] for r in accepted)
    first = rounds[0]
    assert first["parents"] == [0] and first["feedback"]
    assert all("expected" in f["feedback"] and "got" in f["feedback"] for f in first["feedback"])
    names = [t.name for t in result.trials]
    assert names[0] == "configured instructions"
    assert result.candidate in [t.candidate for t in result.trials[1:] if t.full]
    assert result.lineage["metric_calls"] <= 600


def test_the_reflection_prompt_shows_inputs_answers_and_feedback(write_config: ConfigWriter) -> None:
    inputs = _inputs(write_config(), 0, {})
    example = inputs.train[0]
    row = {
        "score": 0.0,
        "answer": "category: technical",
        "feedback": "category: expected billing, got technical",
    }
    messages = reflection_messages(inputs, "Route the ticket.", [(example, row)])
    assert messages[0]["content"] == REFLECTOR
    user = messages[1]["content"]
    assert "Current instruction:\nRoute the ticket." in user
    assert f"ticket: {example.inputs['ticket']}" in user
    assert "Model answer:\ncategory: technical" in user
    assert "Feedback: category: expected billing, got technical" in user


def test_gepa_keeps_the_configured_program_when_no_rewrite_is_better(write_config: ConfigWriter) -> None:
    # fake/ignorer always answers the first label, whatever the instruction says.
    path = write_config(model="fake/ignorer")
    result, _ = _compile(
        path, settings={**SMALL, "reflection_model": {"model": "fake/ignorer", "revision": "fake00000000"}}
    )
    assert result.candidate == baseline_candidate(load_config(path).program)
    assert result.val_score == pytest.approx(zero_shot_score(path))
    assert all(r["outcome"] != "accepted" for r in result.lineage["rounds"])


def test_the_dry_run_bound_holds_and_a_second_run_makes_no_calls(write_config: ConfigWriter) -> None:
    path = write_config()
    first, lm1 = _compile(path)
    estimate = OPTIMIZERS["gepa"].estimate_calls(GepaSettings.from_dict(SMALL), 40, 24)
    assert estimate.total <= 200
    assert 0 < lm1.usage.calls <= estimate.total
    assert (
        first.lineage["metric_calls"] + len(first.lineage["rounds"])
        >= lm1.usage.calls - estimate.prompt_model_calls
    )
    second, lm2 = _compile(path)
    assert lm2.usage.prompt_tokens == lm1.usage.prompt_tokens
    assert lm2.usage.calls == 0 and lm2.usage.requests == lm1.usage.requests  # replayed from the saved state
    assert any(n.startswith("resumed: ") for n in second.notes)
    assert second.candidate == first.candidate and second.trials == first.trials
    assert second.lineage == first.lineage


def test_merge_rounds_combine_two_lineages(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config(val80(tmp_path))
    result, _ = _compile(path, settings={**SMALL, "max_metric_calls": 900, "merge": True})
    kinds = [r["kind"] for r in result.lineage["rounds"]]
    assert "reflect" in kinds
    merges = [r for r in result.lineage["rounds"] if r["kind"] == "merge"]
    assert merges and any(r["outcome"] == "accepted" for r in merges)
    assert all(len(r["parents"]) == 2 for r in merges)
    assert len({tuple(r["parents"]) for r in merges}) == len(merges)  # a pair is merged once


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({}, "reflection_model"),
        ({"reflection_model": {"model": "fake/learner"}}, "reflection_model"),
        ({"reflection_model": {"model": "", "revision": "x"}}, "reflection_model.model"),
        ({"reflection_model": REFLECTION, "max_metric_calls": 0}, "max_metric_calls"),
        ({"reflection_model": REFLECTION, "auto": "huge"}, "auto"),
        ({"reflection_model": REFLECTION, "minibatch_size": 0}, "minibatch_size"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_error(settings: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=r"optimizer\.settings") as err:
        get_optimizer("gepa", settings)
    assert where.split(".")[0] in str(err.value)
    assert "gepa accepts: reflection_model" in str(err.value.fix)


def test_a_budget_too_small_for_one_round_is_refused_before_any_call(write_config: ConfigWriter) -> None:
    path = write_config()
    inputs = _inputs(path, 0, {**SMALL, "max_metric_calls": 30})
    with pytest.raises(ConfigError, match="max_metric_calls: 30 metric calls are too few") as err:
        OPTIMIZERS["gepa"].compile(inputs)
    assert "set max_metric_calls to" in str(err.value.fix)
    assert inputs.lm.usage.requests == 0


def test_a_wrong_reflection_model_revision_is_refused(write_config: ConfigWriter) -> None:
    from promptc.errors import RevisionMismatch

    path = write_config()
    inputs = _inputs(path, 0, {**SMALL, "reflection_model": {"model": "fake/learner", "revision": "v9"}})
    with pytest.raises(RevisionMismatch, match=r"optimizer\.settings\.reflection_model\.revision: ") as err:
        OPTIMIZERS["gepa"].compile(inputs)
    assert "'v9'" in err.value.message
    assert inputs.lm.usage.requests == 0


COUNTING_METRIC = """
import os, time

def score(gold, predicted):
    with open(os.environ["GEPA_METRIC_LOG"], "a") as fh:
        fh.write("scored\\n")
    time.sleep(0.01)
    ok = predicted.get("category") == gold["category"]
    feedback = None if ok else f"expected {gold['category']}, got {predicted.get('category')}"
    return {"score": float(ok), "feedback": feedback}
"""


def _project(root: Path) -> Path:
    """A config in its own folder (own cache and search state) that counts every metric call."""
    root.mkdir()
    cfg = base_config(root)
    cfg["metric"] = "counting_metric:score"
    cfg["cache"] = "state/calls.sqlite"
    cfg["gates"] = {}
    cfg["optimizer"] = {"name": "gepa", "settings": {**SMALL, "max_metric_calls": 400}}
    (root / "counting_metric.py").write_text(COUNTING_METRIC)
    path = root / "promptc.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _compile_process(path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GEPA_METRIC_LOG": str(log), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "promptc", "compile", str(path)],
        cwd=path.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _artifact_ids(root: Path) -> set[str]:
    return {p.stem for p in (root / "artifacts").rglob("*.json") if len(p.stem) == 16}


def test_a_run_killed_mid_search_resumes_without_scoring_anything_again(tmp_path: Path) -> None:
    # An uninterrupted run, for reference.
    fresh = _project(tmp_path / "fresh")
    fresh_log = tmp_path / "fresh.log"
    process = _compile_process(fresh, fresh_log)
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, 1), err.decode()
    fresh_calls = _lines(fresh_log)

    # The same project, killed with SIGKILL once the search has scored some examples.
    killed = _project(tmp_path / "killed")
    killed_log = tmp_path / "killed.log"
    process = _compile_process(killed, killed_log)
    deadline = time.monotonic() + 120
    while _lines(killed_log) < 60 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the compile ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    states = list((tmp_path / "killed" / "state" / "gepa").glob("*.json"))
    assert len(states) == 1
    saved = sum(len(rows) for rows in json.loads(states[0].read_text())["scores"].values())
    assert 0 < saved < fresh_calls
    assert not _artifact_ids(tmp_path / "killed")

    # The rerun scores only what the killed run had not saved, and ends with the same artifact.
    rerun_log = tmp_path / "rerun.log"
    process = _compile_process(killed, rerun_log)
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, 1), err.decode()
    assert _lines(rerun_log) == fresh_calls - saved
    assert _artifact_ids(tmp_path / "killed") == _artifact_ids(tmp_path / "fresh") != set()


def test_compile_without_a_reflection_model_exits_2_before_any_call(write_config: ConfigWriter) -> None:
    from tests.test_cli import invoke

    path = write_config(lambda c: c.update(optimizer={"name": "gepa", "settings": {"max_metric_calls": 500}}))
    result = invoke("compile", str(path))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "'reflection_model' is a required property" in text and "gepa accepts: reflection_model" in text


LENIENT_METRIC = """
def score(gold, predicted):
    return {"score": 1.0, "feedback": None}
"""


def test_the_saved_state_is_not_replayed_under_another_metric(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config()
    strict = _inputs(path, 0, SMALL)
    first = OPTIMIZERS["gepa"].compile(strict)
    assert any(s < 1.0 for t in first.trials for s in t.scores.values())
    (tmp_path / "lenient_metric.py").write_text(LENIENT_METRIC)
    metric = load_metric("lenient_metric:score", strict.program.signature, tmp_path)
    second = OPTIMIZERS["gepa"].compile(dataclasses.replace(strict, metric=metric))
    # Every recorded score is the new metric's, none replayed from the first run's state.
    assert all(s == 1.0 for t in second.trials for s in t.scores.values())


def test_the_state_key_covers_every_input_that_changes_a_score(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    inputs = _inputs(write_config(), 0, SMALL)
    s = GepaSettings.from_dict(SMALL)
    target = inputs.lm.target

    def with_target(**changes: Any) -> CompileInputs:
        return dataclasses.replace(inputs, lm=inputs.lm.for_target(dataclasses.replace(target, **changes)))

    module = tmp_path / "lenient_metric.py"
    module.write_text(LENIENT_METRIC)
    custom = dataclasses.replace(
        inputs, metric=load_metric("lenient_metric:score", inputs.program.signature, tmp_path)
    )
    custom_path = state_path(custom, s)
    module.write_text(LENIENT_METRIC.replace("1.0", "0.5"))
    edited = dataclasses.replace(
        inputs, metric=load_metric("lenient_metric:score", inputs.program.signature, tmp_path)
    )
    other_metric = dataclasses.replace(
        inputs, metric=load_metric("exact_match", inputs.program.signature, tmp_path)
    )
    paths = [
        state_path(inputs, s),
        state_path(other_metric, s),
        custom_path,
        state_path(edited, s),
        state_path(with_target(constrained=not target.constrained), s),
        state_path(with_target(logprobs=not target.logprobs), s),
    ]
    assert len(set(paths)) == len(paths)
    assert state_path(_inputs(write_config(), 0, SMALL), s) == paths[0]  # and is stable across loads
