"""What a candidate is judged against: one resolver, a typed Reference, and decisions that read its
fields, never its label."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from promptc.artifacts.resolve import resolve_artifact
from promptc.artifacts.store import Artifact
from promptc.commands.lifecycle import checked_splits, target_lm
from promptc.config.load import Config, load_config
from promptc.errors import BadInput
from promptc.release.reference import Reference, ReferenceKind, Rescore, resolve_reference, stored_scores
from promptc.reports.progress import Silent
from promptc.results import ScoreSet
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke

LENIENT = "def score(gold, predicted):\n    return 1.0\n"


def _compile(config: Path) -> Artifact:
    result = invoke("compile", config)
    assert result.exit_code == 0, result.output
    return resolve_artifact(load_config(config), artifact_id(result.output))


def _gated(reference: str, **changes: Any) -> Any:
    def edit(c: dict[str, Any]) -> None:
        c["gates"] = {"reference": reference, "overall": {"min": 0.0}}
        c.update(changes)

    return edit


def _rescore(config: Config) -> Rescore:
    return Rescore(checked_splits(config), functools.cache(functools.partial(target_lm, config)), Silent())


BASELINE_SCORES = ScoreSet({"x": 0.5}, {"x": None})


def test_the_baseline_asked_for(write_config: ConfigWriter) -> None:
    config = load_config(write_config())
    reference = resolve_reference(config, BASELINE_SCORES, rescore=_rescore(config))
    assert reference.kind is ReferenceKind.BASELINE
    assert (reference.label, reference.scores, reference.alias, reference.artifact) == (
        "baseline",
        BASELINE_SCORES,
        None,
        None,
    )


def test_an_alias_not_set_yet_lets_the_baseline_stand_in(write_config: ConfigWriter) -> None:
    config = load_config(write_config(_gated("production")))
    fresh = resolve_reference(config, BASELINE_SCORES, rescore=_rescore(config))
    assert fresh.kind is ReferenceKind.NONE and fresh.scores == BASELINE_SCORES
    assert (fresh.alias, fresh.alias_target, fresh.compared_with) == ("production", None, None)
    assert fresh.label == "baseline (no artifact behind 'production' yet)"


def test_an_artifact_is_never_its_own_reference_unless_named(write_config: ConfigWriter) -> None:
    path = write_config(_gated("production"))
    art = _compile(path)
    assert invoke("promote", path, "--artifact", art.id).exit_code == 0
    config = load_config(path)
    baseline = stored_scores(art, "baseline")
    fresh = resolve_reference(config, baseline, art, rescore=_rescore(config))
    assert fresh.kind is ReferenceKind.NONE and fresh.alias_target == art.id  # promote watches it
    assert fresh.label == "baseline (production is this artifact)"
    stored = resolve_reference(config, baseline, art)
    assert stored.kind is ReferenceKind.NONE and stored.scores == baseline
    assert stored.label == "baseline (no other artifact behind 'production')"
    named = resolve_reference(config, baseline, art, against="production")
    assert named.kind is ReferenceKind.ARTIFACT and named.artifact is not None and named.artifact.id == art.id


def test_an_artifact_scored_alike_counts_with_its_stored_scores(write_config: ConfigWriter) -> None:
    first = write_config(_gated("baseline"), name="first.yaml")
    old = _compile(first)
    assert invoke("promote", first, "--artifact", old.id).exit_code == 0
    path = write_config(
        _gated("production", optimizer={"name": "labeled_fewshot", "seed": 3, "settings": {"k": 2}})
    )
    new = _compile(path)
    config = load_config(path)
    for reference in (
        resolve_reference(config, BASELINE_SCORES, rescore=_rescore(config)),
        resolve_reference(config, stored_scores(new, "baseline"), new),
    ):
        assert reference.kind is ReferenceKind.ARTIFACT
        assert reference.compared_with == old.id and reference.artifact is not None
        assert reference.scores == stored_scores(old)
        assert (reference.alias, reference.alias_target, reference.label) == (
            "production",
            old.id,
            f"production ({old.id})",
        )


def test_an_artifact_scored_otherwise_is_re_evaluated_or_passed_over(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    first = write_config(_gated("baseline"), name="first.yaml")
    old = _compile(first)
    assert invoke("promote", first, "--artifact", old.id).exit_code == 0
    (tmp_path / "lenient_metric.py").write_text(LENIENT)
    path = write_config(_gated("production", metric="lenient_metric:score"))
    new = _compile(path)
    config = load_config(path)
    fresh = resolve_reference(config, BASELINE_SCORES, rescore=_rescore(config))
    assert fresh.kind is ReferenceKind.ARTIFACT and fresh.compared_with == old.id
    assert set(fresh.scores.scores.values()) == {1.0}  # scored under the lenient metric
    assert f"production ({old.id}, re-evaluated under the current metric" in fresh.label
    baseline = stored_scores(new, "baseline")
    stored = resolve_reference(config, baseline, new)
    assert stored.kind is ReferenceKind.NONE and stored.scores == baseline and stored.artifact is None
    with pytest.raises(BadInput, match=f"artifact {old.id} \\(production\\) was scored otherwise"):
        resolve_reference(config, baseline, new, against="production")


def test_an_alias_named_like_the_baseline_is_an_artifact(write_config: ConfigWriter) -> None:
    first = write_config(_gated("baseline"), name="first.yaml")
    old = _compile(first)
    assert invoke("promote", first, "--artifact", old.id, "--alias", "baseline-v1").exit_code == 0
    config = load_config(write_config(_gated("baseline-v1")))
    reference = resolve_reference(config, BASELINE_SCORES, rescore=_rescore(config))
    assert reference.kind is ReferenceKind.ARTIFACT and reference.compared_with == old.id


def test_against_names_an_id_or_is_refused(write_config: ConfigWriter) -> None:
    path = write_config()
    art = _compile(path)
    config = load_config(path)
    by_id = resolve_reference(config, BASELINE_SCORES, art, against=art.id[:8])
    assert by_id.kind is ReferenceKind.ARTIFACT and by_id.compared_with == art.id
    with pytest.raises(BadInput, match="no artifact or alias 'staging'"):
        resolve_reference(config, BASELINE_SCORES, art, against="staging")


def test_a_merged_reference_knows_its_artifact_by_id() -> None:
    # As promptc.evaluation.merge builds it from shard files: the label and the artifact's id only.
    merged = Reference("production (0123456789abcdef)", BASELINE_SCORES, compared_with="0123456789abcdef")
    assert merged.kind is ReferenceKind.ARTIFACT and merged.artifact is None
    assert Reference("baseline (production is this artifact)", BASELINE_SCORES).kind is ReferenceKind.BASELINE
