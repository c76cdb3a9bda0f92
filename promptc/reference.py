"""What an evaluation is judged against: per-example scores, fresh or stored in an artifact, and
the reference the gates compare with (the baseline, or the artifact behind gates.reference).

Scores are compared only like with like: stored scores count only when they were scored as the
scores they are compared with (`Scoring`: the test split, the metric and, for a custom metric, its
module file, and the decoding settings); a reference scored otherwise is re-evaluated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.config import Config
from promptc.data import Example, Splits
from promptc.errors import ConfigError
from promptc.evaluate import evaluate
from promptc.gates import GateReport, check_gates
from promptc.lm import LM
from promptc.metrics import load_metric, metric_fingerprint, parse_metric
from promptc.metrics.spec import custom_names
from promptc.progress import Reporter
from promptc.registry import Registry
from promptc.results import Evaluation, ScoreSet
from promptc.scoring import (
    METRIC,
    METRIC_FINGERPRINT,
    TEST_SPLIT,
    Scoring,
    scoring_differences,
    scoring_fields,
)
from promptc.store import Artifact, Store


def scores_of(evaluation: Evaluation) -> ScoreSet:
    """Per-example scores of an evaluation, for the gates."""
    return ScoreSet(
        scores={r.id: r.score for r in evaluation.records}, slices={r.id: r.slice for r in evaluation.records}
    )


def stored_scores(artifact: Artifact, which: str = "candidate") -> ScoreSet:
    """Per-example scores stored in an artifact's holdout evaluation ('candidate' or 'baseline').

    The records come from the artifact's sidecar file (checked against its hash) or, in format 1
    artifacts, from the artifact itself.
    """
    return ScoreSet.from_records(artifact.records(which))


def config_scoring(config: Config, splits: Splits) -> Scoring:
    """How an evaluation under this config is scored (the metric is loaded, so a bad one is refused)."""
    config_dir = config.path.resolve().parent
    load_metric(config.metric, config.program.signature, config_dir)
    target = config.target
    return Scoring(
        test_split=splits.hashes()["test"],
        metric=config.metric,
        metric_fingerprint=metric_fingerprint(config.metric, config_dir),
        decoding={**target.decoding, "constrained": target.constrained, "logprobs": target.logprobs},
    )


def artifact_scoring(artifact: Artifact) -> dict[str, Any]:
    """How an artifact's stored evaluation was scored (scoring_fields); an artifact written before
    promptc recorded Scoring has what it did record (split, metric, temperature, ...) and no more."""
    typed = artifact.typed
    if typed.evaluation.scoring is not None:
        return scoring_fields(typed.evaluation.scoring)
    known: dict[str, Any] = {TEST_SPLIT: typed.lineage.splits["test"], METRIC: typed.evaluation.metric}
    fingerprint = _builtin_fingerprint(typed.evaluation.metric)
    if fingerprint is not None:
        known[METRIC_FINGERPRINT] = fingerprint
    known.update({f"target.{key}": value for key, value in typed.target.decoding.items()})
    if typed.target.constrained is not None:
        known["target.constrained"] = typed.target.constrained
    return known


def _builtin_fingerprint(metric: str) -> str | None:
    """The fingerprint of a stored metric made of built-ins only (it names no file); else None."""
    try:
        spec = parse_metric(metric)
    except ConfigError:
        return None
    return None if custom_names(spec) else metric_fingerprint(spec, Path("."))


@dataclass(frozen=True)
class Reference:
    """What the gates compare with: its label, its scores, and the alias and artifact they were
    read from (alias None: the baseline was asked for; artifact_id None: no artifact was behind it)."""

    label: str
    scores: ScoreSet
    alias: str | None = None
    artifact_id: str | None = None
    compared_with: str | None = None  # the artifact whose scores these are (None: the baseline's)


def find_reference(
    config: Config,
    baseline: ScoreSet,
    splits: Splits,
    lm: Callable[[], LM],
    reporter: Reporter,
    examples: tuple[Example, ...] | None = None,
    *,
    judged: str | None = None,
    aliases: dict[str, str] | None = None,
) -> Reference:
    """What changes are judged against: the baseline, or the artifact behind gates.reference.

    The reference's stored scores count only when they were scored as evaluations under this
    config are (same test split, metric and metric file, decoding settings); otherwise it is
    re-evaluated (cached calls are free), so compile, eval and promote agree. With examples (a
    shard of the test split), only those are re-evaluated. judged: the artifact being judged,
    never its own reference; aliases: the registry's aliases as read by the caller.
    """
    name = config.gates.reference
    if name == "baseline":
        return Reference("baseline", baseline)
    if aliases is None:
        aliases = Registry(config.artifacts_dir, config.program.name).aliases(
            config.target.model, config.target.revision
        )
    if name not in aliases:
        return Reference(f"baseline (no artifact behind {name!r} yet)", baseline, name)
    if aliases[name] == judged:
        return Reference(f"baseline ({name} is this artifact)", baseline, name, judged)
    artifact = Store(config.artifacts_dir).find(config.program.name, aliases[name])
    differences = scoring_differences(
        artifact_scoring(artifact), scoring_fields(config_scoring(config, splits))
    )
    if not differences:
        return Reference(f"{name} ({artifact.id})", stored_scores(artifact), name, artifact.id, artifact.id)
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    test = splits.test if examples is None else examples
    advance = reporter.stage(f"evaluating {name} on test", len(test))
    evaluation = evaluate(config.program, artifact.typed.candidate, test, metric, lm(), on_done=advance)
    why = (
        "on the current test split"
        if TEST_SPLIT in differences
        else "under the current " + ", ".join(differences)
    )
    label = f"{name} ({artifact.id}, re-evaluated {why})"
    return Reference(label, scores_of(evaluation), name, artifact.id, artifact.id)


def stored_gates(config: Config, artifact: Artifact) -> GateReport:
    """The gate verdict on an artifact's stored holdout evaluation, against gates.reference; no model call.

    An alias reference counts when it points at another artifact of the same model revision whose
    stored evaluation was scored alike; otherwise the artifact is judged against its baseline.
    """
    label, reference, compared_with = "baseline", stored_scores(artifact, "baseline"), None
    name = config.gates.reference
    if name != "baseline":
        aliases = Registry(config.artifacts_dir, config.program.name).aliases(
            artifact.model, artifact.revision
        )
        other = (
            Store(config.artifacts_dir).find(config.program.name, aliases[name]) if name in aliases else None
        )
        if other is None or other.id == artifact.id:
            label = f"baseline (no other artifact behind {name!r})"
        elif differences := scoring_differences(artifact_scoring(other), artifact_scoring(artifact)):
            label = f"baseline ({name} ({other.id}) was scored otherwise: {', '.join(differences)})"
        else:
            label, reference, compared_with = f"{name} ({other.id})", stored_scores(other), other.id
    return check_gates(
        config.gates,
        stored_scores(artifact),
        reference,
        reference_label=label,
        reference_artifact=compared_with,
    )
