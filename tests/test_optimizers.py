"""Optimizers against fake models: a gain where demos help, none where they cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptc.cache import CallCache
from promptc.config import load_config
from promptc.data import load_splits
from promptc.errors import ConfigError
from promptc.evaluate import evaluate
from promptc.lm import LM
from promptc.metrics import load_metric
from promptc.optimizers import OPTIMIZERS, get_optimizer
from promptc.optimizers.base import CompileInputs, CompileResult
from promptc.program import baseline_candidate
from tests.conftest import ConfigWriter


def _compile(path: Path, name: str, seed: int = 0) -> tuple[CompileResult, float]:
    cfg = load_config(path)
    splits = load_splits(cfg.data, cfg.program.signature)
    metric = load_metric(cfg.metric, cfg.program.signature, path.parent)
    lm = LM(cfg.target, CallCache(cfg.cache_path))
    result = OPTIMIZERS[name].compile(
        CompileInputs(cfg.program, splits.train, splits.val, metric, lm, seed, {})
    )
    zero_shot = evaluate(cfg.program, baseline_candidate(cfg.program), splits.val, metric, lm).overall.mean
    return result, zero_shot


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_demos_improve_a_model_that_learns_from_them(write_config: ConfigWriter, name: str) -> None:
    result, zero_shot = _compile(write_config(), name)
    assert zero_shot == pytest.approx(0.25)
    assert result.val_score >= zero_shot + 0.3
    assert result.candidate.demos


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_no_gain_is_reported_for_a_model_that_ignores_demos(write_config: ConfigWriter, name: str) -> None:
    result, zero_shot = _compile(write_config(model="fake/ignorer"), name)
    assert result.val_score == pytest.approx(zero_shot)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_same_seed_same_candidate_other_seed_other_demos(write_config: ConfigWriter, name: str) -> None:
    path = write_config()
    a, _ = _compile(path, name, seed=1)
    b, _ = _compile(path, name, seed=1)
    c, _ = _compile(path, name, seed=2)
    assert a.candidate == b.candidate
    assert [d.source_id for d in a.candidate.demos] != [d.source_id for d in c.candidate.demos]


def test_bootstrapped_demos_carry_teacher_outputs_the_metric_accepted(write_config: ConfigWriter) -> None:
    result, _ = _compile(write_config(), "bootstrap_fewshot")
    cfg = load_config(write_config())
    train = {e.id: e for e in load_splits(cfg.data, cfg.program.signature).train}
    for demo in result.candidate.demos:
        assert demo.outputs == train[str(demo.source_id)].outputs


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="labeled_fewshot accepts: k"):
        get_optimizer("labeled_fewshot", {"kk": 3})
