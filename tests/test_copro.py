"""copro against fake models: proposals round by round, noise-aware selection, exact estimates, the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptc.config.load import load_config
from promptc.data.load import load_splits
from promptc.errors import ConfigError, RevisionMismatch
from promptc.evaluation.evaluate import evaluate
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.metrics import load_metric
from promptc.optimizers import OPTIMIZERS, get_optimizer
from promptc.optimizers.base import CompileInputs, CompileResult
from promptc.optimizers.copro import IMPROVE, proposal_messages
from promptc.optimizers.settings import CoproSettings
from promptc.prompting.program import baseline_candidate
from tests.conftest import ConfigWriter, make_examples, write_jsonl
from tests.test_compile import artifact_of, invoke, optimizer

# Twelve proposal examples show the fake prompt model every label, so its proposals name them all.
SMALL = {"breadth": 2, "depth": 2, "proposal_examples": 12}


def _inputs(path: Path, seed: int, settings: dict[str, Any]) -> CompileInputs:
    cfg = load_config(path)
    splits = load_splits(cfg.data, cfg.program.signature)
    metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
    lm = LM(cfg.target, CallCache(cfg.cache_path))
    return CompileInputs(cfg.program, splits.train, splits.val, metric, lm, seed, settings)


def _compile(path: Path, seed: int = 0, settings: dict[str, Any] | None = None) -> tuple[CompileResult, LM]:
    inputs = _inputs(path, seed, settings or {})
    return OPTIMIZERS["copro"].compile(inputs), inputs.lm


def zero_shot_score(path: Path) -> float:
    """The uncompiled program's score on the config's val split."""
    inputs = _inputs(path, 0, {})
    return evaluate(
        inputs.program, baseline_candidate(inputs.program), inputs.val, inputs.metric, inputs.lm
    ).overall.mean


def val80(tmp_path: Path) -> Any:
    """A config edit: an 80-example val split (two 40-example halves for the noise-aware selection)."""

    def edit(cfg: dict[str, Any]) -> None:
        write_jsonl(tmp_path / "data" / "val80.jsonl", make_examples(80, seed=2, start=100))
        cfg["data"]["val"] = "data/val80.jsonl"

    return edit


def test_copro_finds_a_better_instruction_and_beats_the_configured_program(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # fake/learner proposes the configured instruction plus label cues, and follows cues when it answers.
    path = write_config(val80(tmp_path))
    result, _ = _compile(path, settings={"proposal_examples": 12})
    zero_shot = zero_shot_score(path)
    assert zero_shot == pytest.approx(0.25)
    assert result.candidate.demos == ()
    assert result.candidate.instructions.startswith("Route the ticket. Cues: ")
    assert result.val_score is not None and result.val_score >= zero_shot + 0.5
    assert result.lineage["instructions"][0] == "Route the ticket."
    assert result.candidate.instructions in result.lineage["instructions"]
    names = [t.name for t in result.trials]
    assert names[0] == "configured instructions"
    assert {n.split(" proposal")[0] for n in names[1:]} == {"round 1", "round 2"}
    # Proposals are scored on the search half; only the finalists on all of val.
    partial = [t for t in result.trials if not t.full]
    assert partial and all(t.n == 40 for t in partial)
    finalists = [t for t in result.trials[1:] if t.full]
    assert 1 <= len(finalists) <= 3 and result.candidate in [t.candidate for t in finalists]
    assert [r["round"] for r in result.lineage["rounds"]] == [1, 2]
    assert sum(r["proposed"] for r in result.lineage["rounds"]) == 8


def test_later_rounds_show_the_best_instructions_with_scores_best_last(write_config: ConfigWriter) -> None:
    inputs = _inputs(write_config(), 0, {})
    s = CoproSettings(proposal_examples=2)
    first = proposal_messages(inputs, s, 1, 0, [])[-1]["content"]
    assert IMPROVE not in first and "Current instruction:\nRoute the ticket." in first
    tried = [("Route the ticket.", 0.25), ("Route it by its words.", 0.5), ("Route it well.", 0.75)]
    later = proposal_messages(inputs, s, 2, 0, tried)[-1]["content"]
    assert "Current instruction:\nRoute it well." in later
    listed = later.split(IMPROVE, 1)[1]
    assert (
        listed.index("0.250: Route the ticket.")
        < listed.index("0.500")
        < listed.index("0.750: Route it well.")
    )
    assert later.index(IMPROVE) < later.rindex("Examples:\n")  # the examples come last
    assert proposal_messages(inputs, s, 2, 1, tried) != proposal_messages(inputs, s, 2, 0, tried)


def test_copro_keeps_the_configured_program_when_no_proposal_is_better(write_config: ConfigWriter) -> None:
    # fake/ignorer proposes cue instructions but always answers the first label.
    path = write_config(model="fake/ignorer")
    result, _ = _compile(path, settings=SMALL)
    assert result.candidate == baseline_candidate(load_config(path).program)
    assert result.val_score == pytest.approx(zero_shot_score(path))
    assert len(result.trials) > 1
    assert any("no candidate was significantly better than the configured program" in n for n in result.notes)


def test_dry_run_estimate_equals_the_calls_on_a_cold_cache(write_config: ConfigWriter) -> None:
    path = write_config()
    result, lm = _compile(path, seed=3, settings=SMALL)
    # The worst case happened: no proposal refused, and three finalists confirmed on val.
    assert result.lineage["rejected_proposals"] == {}
    assert len([t for t in result.trials[1:] if t.full]) == 3
    estimate = OPTIMIZERS["copro"].estimate_calls(CoproSettings.from_dict(SMALL), 40, 24)
    assert lm.usage.calls == estimate.total == 24 + 4 + 4 * 12 + 3 * 12
    assert estimate.prompt_model_calls == 4 and estimate.max_demos == 0
    assert dict(estimate.stages)["instruction proposals (prompt model)"] == 4


def test_a_second_run_makes_no_model_calls(write_config: ConfigWriter) -> None:
    path = write_config()
    first, lm1 = _compile(path, seed=3, settings=SMALL)
    second, lm2 = _compile(path, seed=3, settings=SMALL)
    assert lm1.usage.calls > 0 and lm2.usage.calls == 0
    assert lm2.usage.requests == lm1.usage.requests
    assert second.candidate == first.candidate and second.trials == first.trials
    assert second.lineage == first.lineage


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"breadth": 0}, "breadth"),
        ({"depth": 0}, "depth"),
        ({"depth": "2"}, "depth"),
        ({"init_temperature": 3}, "init_temperature"),
        ({"prompt_model": {"model": "fake/learner"}}, "prompt_model"),
        ({"prompt_model": {"model": "fake/learner", "revision": "fake0", "temperature": 1}}, "prompt_model"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_error(settings: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=rf"optimizer\.settings\.{where}") as err:
        get_optimizer("copro", settings)
    assert "copro accepts: breadth, depth, init_temperature" in str(err.value.fix)


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="copro accepts: breadth, depth"):
        get_optimizer("copro", {"num_candidates": 4})


def test_copro_refuses_a_prompt_model_of_another_revision(write_config: ConfigWriter) -> None:
    wrong = {"model": "fake/learner", "revision": "abcdef123456"}
    with pytest.raises(RevisionMismatch):
        _compile(write_config(), settings={**SMALL, "prompt_model": wrong})


def test_compile_with_copro_writes_an_artifact_with_its_search(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(optimizer("copro", SMALL))
    result = invoke("compile", config)
    assert result.exit_code == 0, result.output
    search = artifact_of(result.output, tmp_path / "artifacts")["lineage"]["search"]
    assert search["instructions"][0] == "Route the ticket."
    assert [r["round"] for r in search["rounds"]] == [1, 2]
    dry = invoke("compile", config, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "instruction proposals (prompt model)" in dry.output
