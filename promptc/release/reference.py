"""What a candidate is judged against, resolved in one place (`resolve_reference`): the baseline
(gates.reference: baseline), or the stored artifact behind an alias, or, for `report --against`,
an alias or id; where no other artifact is behind the alias, the baseline's scores stand in.

Scores are compared only like with like: stored scores count only when they were scored as the
scores they are compared with (`Scoring`: the test split, the metric and, for a custom metric, its
module file, and the decoding settings). A reference scored otherwise is re-evaluated where a
model is at hand (compile, eval, promote), and otherwise passed over (report, matrix). What was
compared with is recorded in typed fields; the label is for display and never read back."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from promptc.artifacts.registry import Registry
from promptc.artifacts.resolve import resolve_artifact
from promptc.artifacts.store import Artifact, Store
from promptc.config.load import Config
from promptc.data.load import Example, Splits
from promptc.errors import BadInput, ConfigError
from promptc.evaluation.evaluate import evaluate
from promptc.evaluation.scoring import (
    METRIC,
    METRIC_FINGERPRINT,
    TEST_SPLIT,
    Scoring,
    scoring_differences,
    scoring_fields,
)
from promptc.lm.model import LM
from promptc.metrics import load_metric, metric_fingerprint, parse_metric
from promptc.metrics.spec import custom_names
from promptc.release.gates import GateReport, check_gates
from promptc.release.ledger import stored_look
from promptc.reports.progress import Reporter
from promptc.results import Evaluation, ScoreSet


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


def config_differences(config: Config, splits: Splits, artifact: Artifact) -> dict[str, str]:
    """How an artifact's stored evaluation was scored otherwise than this config scores (setting ->
    the difference); empty when alike, so its stored scores compare with fresh ones."""
    return scoring_differences(artifact_scoring(artifact), scoring_fields(config_scoring(config, splits)))


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


BASELINE = "baseline"  # the gates.reference (and --against) value naming the configured program


class ReferenceKind(Enum):
    """What a candidate is judged against."""

    BASELINE = "baseline"  # the configured program, uncompiled: gates.reference is 'baseline'
    ARTIFACT = "artifact"  # a stored artifact's candidate, on its stored scores or re-evaluated
    NONE = "none"  # the named reference has no usable artifact: the baseline's scores stand in


@dataclass(frozen=True)
class Reference:
    """What the gates compare with: a label for display (never read back), its scores, the name it
    was asked for by, and the artifact behind it."""

    label: str
    scores: ScoreSet
    alias: str | None = None  # the alias (or, for report --against, id) named; None: the baseline
    alias_target: str | None = None  # where that alias pointed when read (None: nowhere); promote watches it
    compared_with: str | None = None  # the artifact whose scores these are (None: the baseline's)
    artifact: Artifact | None = None  # that artifact, where loaded (merge knows only its id)

    @property
    def kind(self) -> ReferenceKind:
        """An artifact's scores, the baseline's as asked for, or the baseline's standing in."""
        if self.compared_with is not None:
            return ReferenceKind.ARTIFACT
        return ReferenceKind.BASELINE if self.alias is None else ReferenceKind.NONE


@dataclass(frozen=True)
class Rescore:
    """The model a reference scored otherwise than the config scores is evaluated again with."""

    splits: Splits
    lm: Callable[[], LM]
    reporter: Reporter
    examples: tuple[Example, ...] | None = None  # a shard of the test split (None: all of it)


def resolve_reference(
    config: Config,
    baseline: ScoreSet,
    judged: Artifact | None = None,
    *,
    rescore: Rescore | None = None,
    against: str | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Reference:
    """What judged scores are compared with: the artifact behind gates.reference's alias, or what
    `against` names explicitly (an alias or an id), else the baseline's scores.

    With rescore (compile, eval, promote) the judged scores are scored as the config scores, and a
    reference scored otherwise (test split, metric and its file, decoding) is re-evaluated, cached
    calls free, so the three agree. Without (report, matrix: no model call) they are the judged
    artifact's stored ones, and a reference scored otherwise than those is passed over for the
    baseline or, when named explicitly, refused. The judged artifact is never its own reference
    unless named explicitly. aliases: the registry's aliases as the caller read them.
    """
    name = against or config.gates.reference
    if name == BASELINE:
        return Reference(BASELINE, baseline)
    if aliases is None:
        registry = Registry(config.artifacts_dir, config.program.name)
        aliases = registry.aliases(config.target.model, config.target.revision)
    target = aliases.get(name)
    if against is None and (target is None or (judged is not None and target == judged.id)):
        return Reference(_stand_in_label(name, target, rescore is not None), baseline, name, target)
    if against is not None:
        artifact = resolve_artifact(config, against)  # an alias or an id; an unknown one is refused
    else:
        artifact = Store(config.artifacts_dir).find(config.program.name, aliases[name])
    found = Reference(f"{name} ({artifact.id})", stored_scores(artifact), name, target, artifact.id, artifact)
    if rescore is not None:
        return _scored_as_configured(config, found, artifact, rescore)
    assert judged is not None, "without a model, a reference is resolved for a stored artifact"
    return _scored_as_stored(config, found, artifact, judged, baseline, explicit=against is not None)


def _stand_in_label(name: str, target: str | None, fresh: bool) -> str:
    """The label of the baseline standing in for an alias with no other artifact behind it, as
    compile, eval and promote word it (fresh) and as report and matrix do."""
    if not fresh:
        return f"baseline (no other artifact behind {name!r})"
    return f"baseline ({name} is this artifact)" if target else f"baseline (no artifact behind {name!r} yet)"


def _scored_as_configured(
    config: Config, found: Reference, artifact: Artifact, rescore: Rescore
) -> Reference:
    """The reference found, re-evaluated (on rescore.examples) unless it was scored as the config scores."""
    differences = config_differences(config, rescore.splits, artifact)
    if not differences:
        return found
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    test = rescore.splits.test if rescore.examples is None else rescore.examples
    advance = rescore.reporter.stage(f"evaluating {found.alias} on test", len(test))
    lm = rescore.lm()
    evaluation = evaluate(config.program, artifact.typed.candidate, test, metric, lm, on_done=advance)
    why = (
        "on the current test split"
        if TEST_SPLIT in differences
        else "under the current " + ", ".join(differences)
    )
    label = f"{found.alias} ({artifact.id}, re-evaluated {why})"
    return dataclasses.replace(found, label=label, scores=scores_of(evaluation))


def _scored_as_stored(
    config: Config, found: Reference, artifact: Artifact, judged: Artifact, baseline: ScoreSet, explicit: bool
) -> Reference:
    """The reference found if it was scored as the judged artifact's stored evaluation; else the
    baseline stands in, or, when the reference was named explicitly, it is refused."""
    differences = scoring_differences(artifact_scoring(artifact), artifact_scoring(judged))
    if not differences:
        return found
    if not explicit:
        label = f"baseline ({found.alias} ({artifact.id}) was scored otherwise: {', '.join(differences)})"
        return Reference(label, baseline, found.alias, found.alias_target)
    raise BadInput(
        f"artifact {artifact.id} ({found.alias}) was scored otherwise than artifact {judged.id}:\n"
        + "\n".join(f"  {line}" for line in differences.values()),
        fix=f"compare them on fresh scores: promptc eval {config.path} --artifact {judged.id} "
        f"--html PATH, with gates.reference: {found.alias}",
    )


def stored_gates(config: Config, artifact: Artifact) -> GateReport:
    """The gate verdict on an artifact's stored holdout evaluation against gates.reference, read
    without a model call (resolve_reference)."""
    reference = resolve_reference(config, stored_scores(artifact, "baseline"), artifact)
    return judge_stored(config, artifact, stored_scores(artifact), reference)


def judge_stored(config: Config, artifact: Artifact, candidate: ScoreSet, reference: Reference) -> GateReport:
    """The gates on an artifact's stored scores at the level of its look on its test split, as
    eval and promote judged it (release.ledger.stored_look), so report and matrix show the same
    verdict; at the configured level for an artifact the ledger holds no look of."""
    look = stored_look(config, artifact)
    gates = config.gates if look is None else look.gates(config.gates)
    report = check_gates(
        gates,
        candidate,
        reference.scores,
        reference_label=reference.label,
        reference_artifact=reference.compared_with,
    )
    return report if look is None else look.refuse(report)
