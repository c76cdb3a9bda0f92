"""What an evaluation is judged against: per-example scores, fresh or stored in an artifact, and
the reference the gates compare with (the baseline, or the artifact behind gates.reference)."""

from __future__ import annotations

from collections.abc import Callable

from promptc.config import Config
from promptc.data import Example, Splits
from promptc.evaluate import Evaluation, evaluate
from promptc.gates import GateReport, ScoreSet, check_gates
from promptc.lm import LM
from promptc.metrics import load_metric
from promptc.progress import Reporter
from promptc.registry import Registry
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


def reference_scores(
    config: Config,
    baseline: ScoreSet,
    splits: Splits,
    lm: Callable[[], LM],
    reporter: Reporter,
    examples: tuple[Example, ...] | None = None,
) -> tuple[str, ScoreSet]:
    """What changes are judged against: the baseline, or the artifact behind gates.reference.

    The reference's stored scores count only when it was evaluated on the current test split;
    otherwise it is re-evaluated there (cached calls are free), so compile, eval and promote agree.
    With examples (a shard of the test split), only those are re-evaluated.
    """
    name = config.gates.reference
    if name == "baseline":
        return "baseline", baseline
    aliases = Registry(config.artifacts_dir, config.program.name).aliases(
        config.target.model, config.target.revision
    )
    if name not in aliases:
        return f"baseline (no artifact behind {name!r} yet)", baseline
    artifact = Store(config.artifacts_dir).find(config.program.name, aliases[name])
    if artifact.typed.lineage.splits["test"] == splits.hashes()["test"]:
        return f"{name} ({artifact.id})", stored_scores(artifact)
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    test = splits.test if examples is None else examples
    advance = reporter.stage(f"evaluating {name} on test", len(test))
    candidate = artifact.typed.candidate
    evaluation = evaluate(config.program, candidate, test, metric, lm(), on_done=advance)
    return f"{name} ({artifact.id}, re-evaluated on the current test split)", scores_of(evaluation)


def stored_gates(config: Config, artifact: Artifact) -> GateReport:
    """The gate verdict on an artifact's stored holdout evaluation, against gates.reference; no model call.

    An alias reference counts when it points at another artifact of the same model revision
    evaluated on the same test split; otherwise the artifact is judged against its baseline.
    """
    label, reference = "baseline", stored_scores(artifact, "baseline")
    name = config.gates.reference
    if name != "baseline":
        aliases = Registry(config.artifacts_dir, config.program.name).aliases(
            artifact.model, artifact.revision
        )
        other = (
            Store(config.artifacts_dir).find(config.program.name, aliases[name]) if name in aliases else None
        )
        test = artifact.typed.lineage.splits["test"]
        if other is not None and other.id != artifact.id and other.typed.lineage.splits["test"] == test:
            label, reference = f"{name} ({other.id})", stored_scores(other)
        else:
            label = f"baseline (no other artifact behind {name!r} on this test split)"
    return check_gates(config.gates, stored_scores(artifact), reference, reference_label=label)
