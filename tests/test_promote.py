"""promote and rollback: like-with-like scores, deciding under the registry lock, idempotence,
and rollback refusing an artifact that is gone."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from promptc.artifacts.registry import Registry
from promptc.config.load import load_config
from promptc.errors import CheckFailed
from promptc.release.promote import promote
from tests.conftest import ConfigWriter
from tests.test_cli import artifact_id, invoke

LENIENT = "def score(gold, predicted):\n    return 1.0\n"
STRICT = "def score(gold, predicted):\n    return float(predicted.get('category') == gold['category'])\n"


def _compile(config: Path) -> str:
    result = invoke("compile", config)
    assert result.exit_code == 0, result.output
    return artifact_id(result.output)


def _said(result: Any) -> str:
    return " ".join(result.output.split())


def _with(k: int, **changes: Any) -> Any:
    def edit(c: dict[str, Any]) -> None:
        c["optimizer"]["settings"] = {"k": k}
        c.update(changes)

    return edit


def _weak_production(write_config: ConfigWriter, **changes: Any) -> str:
    """Promote a weak artifact (k=1: label_accuracy 0.25 on the fake model) to production."""
    config = write_config(_with(1, gates={"overall": {"min": 0.0}}, **changes), name="weak.yaml")
    weak = _compile(config)
    assert invoke("promote", config, "--artifact", weak).exit_code == 0
    return weak


GAIN = {"reference": "production", "overall": {"min_gain": 0.10}}


def test_a_reference_scored_with_another_metric_is_re_evaluated(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    weak = _weak_production(write_config)
    (tmp_path / "lenient_metric.py").write_text(LENIENT)
    gated = write_config(_with(8, metric="lenient_metric:score", gates=GAIN), name="lenient.yaml")
    _compile(gated)
    # Under the lenient metric the weak production scores 1.0 too: no gain, whatever its stored
    # label_accuracy of 0.25 says.
    result = invoke("promote", gated, "--artifact", "latest")
    assert result.exit_code == 1, result.output
    said = _said(result)
    assert f"production ({weak}, re-evaluated under the current metric, metric fingerprint)" in said
    assert "fails the release gates" in said and "min_gain" in said


def test_a_reference_scored_by_an_edited_metric_module_is_re_evaluated(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    module = tmp_path / "strictness_metric.py"
    module.write_text(STRICT)
    weak = _weak_production(write_config, metric="strictness_metric:score")
    module.write_text(LENIENT)  # the same metric name, now scoring every answer 1.0
    gated = write_config(_with(8, metric="strictness_metric:score", gates=GAIN), name="gated.yaml")
    _compile(gated)
    result = invoke("promote", gated, "--artifact", "latest")
    assert result.exit_code == 1, result.output
    assert f"production ({weak}, re-evaluated under the current metric fingerprint)" in _said(result)


def test_a_reference_decoded_otherwise_is_re_evaluated(write_config: ConfigWriter) -> None:
    weak = _weak_production(write_config)

    def hotter(c: dict[str, Any]) -> None:
        _with(8, gates={"reference": "production", "overall": {"min_gain": 0.0}})(c)
        c["target"]["temperature"] = 0.5

    gated = write_config(hotter, name="hot.yaml")
    compiled = invoke("compile", gated)
    assert compiled.exit_code == 0, compiled.output
    assert f"production ({weak}, re-evaluated under the current target.temperature)" in _said(compiled)


def test_an_artifact_scored_otherwise_than_the_config_is_refused(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    art = _compile(write_config(_with(8)))
    (tmp_path / "lenient_metric.py").write_text(LENIENT)
    lenient = write_config(_with(8, metric="lenient_metric:score"), name="lenient.yaml")
    result = invoke("promote", lenient, "--artifact", art)
    assert result.exit_code == 1, result.output
    said = _said(result)
    assert f"artifact {art}: its stored evaluation was scored otherwise than {lenient} scores" in said
    assert "metric: 'label_accuracy' stored, 'lenient_metric:score' now" in said
    assert "fix: re-run promptc compile" in said
    assert "production" not in Registry(tmp_path / "artifacts", "triage").aliases(
        "fake/learner", "fake00000000"
    )


def test_an_artifact_from_before_scoring_was_recorded_needs_verify(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    from promptc.artifacts.content import content_id

    config = write_config(_with(8))
    art = _compile(config)
    path = next((tmp_path / "artifacts").rglob(f"{art}.json"))
    content = json.loads(path.read_text())
    del content["evaluation"]["scoring"]  # as promptc wrote artifacts before it recorded Scoring
    old = content_id(content)
    path.with_name(f"{old}.json").write_text(json.dumps(content))
    refused = invoke("promote", config, "--artifact", old)
    assert refused.exit_code == 1 and "target.logprobs: not recorded" in _said(refused), refused.output
    verified = invoke("promote", config, "--artifact", old, "--verify")
    assert verified.exit_code == 0, verified.output
    # As a reference it is re-evaluated, since how it was scored is not all known.
    gated = write_config(
        _with(8, gates={"reference": "production", "overall": {"max_drop": 0.1}}), name="g.yaml"
    )
    compiled = invoke("compile", gated)
    assert f"production ({old}, re-evaluated under the current target.logprobs)" in _said(compiled)


def test_promoting_the_artifact_an_alias_already_points_at_is_a_no_op(write_config: ConfigWriter) -> None:
    config = write_config(_with(8, gates={"reference": "production", "overall": {"min_gain": 0.0}}))
    art = _compile(config)
    first = invoke("promote", config, "--artifact", art)
    assert first.exit_code == 0 and f"production -> {art}" in first.output, first.output
    again = invoke("promote", config, "--artifact", art)
    assert again.exit_code == 0, again.output
    assert f"production already at {art}" in _said(again) and "nothing changed" in again.output
    assert invoke("history", config).output.count("promote") == 1


def test_rollback_to_a_deleted_artifact_is_refused_and_changes_nothing(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config()
    a = _compile(config)
    b = _compile(write_config(lambda c: c["optimizer"].update(seed=11), name="seed11.yaml"))
    for art in (a, b):
        assert invoke("promote", config, "--artifact", art).exit_code == 0
    registry = tmp_path / "artifacts/triage/registry.json"
    before = registry.read_text()
    next((tmp_path / "artifacts").rglob(f"{a}.json")).unlink()
    result = invoke("rollback", config)
    assert result.exit_code == 3, result.output
    said = _said(result)
    assert f"would point it at artifact {a}, which is no longer under" in said
    assert f"fix: restore {a}.json" in said
    assert registry.read_text() == before


def test_racing_promotions_never_let_the_worse_artifact_replace_the_better(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both are judged against the weak production before either moves it; the worse one (k=4,
    0.78) then takes the lock last. Against the better one (k=8, 0.875) it fails max_drop: 0."""
    _weak_production(write_config)
    gated = write_config(_with(8, gates={"reference": "production", "overall": {"max_drop": 0.0}}))
    better = _compile(gated)
    worse = _compile(write_config(_with(4, gates={"overall": {"min": 0.0}}), name="k4.yaml"))
    config = load_config(gated)
    judged, set_alias = threading.Barrier(2, timeout=30), Registry.set_alias
    first_calls: set[int] = set()

    def delayed(self: Registry, artifact: Any, alias: str, **options: Any) -> str | None:
        if threading.get_ident() not in first_calls:
            first_calls.add(threading.get_ident())
            judged.wait()  # both promotions have judged the gates
            if artifact.id == worse:
                time.sleep(0.5)
        return set_alias(self, artifact, alias, **options)

    monkeypatch.setattr(Registry, "set_alias", delayed)
    outcomes: dict[str, Any] = {}

    def run(art: str) -> None:
        try:
            outcomes[art] = promote(config, art)
        except CheckFailed as exc:
            outcomes[art] = exc

    threads = [threading.Thread(target=run, args=(art,)) for art in (better, worse)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    registry = Registry(config.artifacts_dir, "triage")
    assert registry.aliases("fake/learner", "fake00000000")["production"] == better
    assert isinstance(outcomes[worse], CheckFailed) and "max_drop" in str(outcomes[worse])
    assert "gain -0.094 vs production" in str(outcomes[worse])  # judged against the better one
    history = registry.history("fake/learner", "fake00000000")
    assert worse not in [e["artifact"] for e in history if e["alias"] == "production"]


def test_an_alias_whose_name_starts_with_baseline_is_judged_as_an_artifact(
    write_config: ConfigWriter,
) -> None:
    """What the gates compared with is recorded, never read back from the display label."""
    weak = _with(1, gates={"overall": {"min": 0.0}})
    first = write_config(weak, name="weak.yaml")
    old = _compile(first)
    assert invoke("promote", first, "--artifact", old, "--alias", "baseline-v1").exit_code == 0
    gated = write_config(
        _with(8, gates={"reference": "baseline-v1", "overall": {"min_gain": 0.0}}), name="gated.yaml"
    )
    compiled = invoke("compile", gated)
    assert compiled.exit_code == 0, compiled.output
    said = _said(compiled)
    assert f"baseline-v1 ({old})" in said
    assert "holdout: " in said and "1.0.0 vs baseline" in said  # the uncompiled program's table too
    evaluated = invoke("eval", gated, "--json", str(Path(gated).parent / "eval.json"))
    report = json.loads((Path(gated).parent / "eval.json").read_text())
    assert evaluated.exit_code == 0 and report["gates"]["reference_artifact"] == old
