"""What a report shows, gathered in one place: an artifact's stored evaluation or a fresh one,
with the gate verdict and the test examples, for promptc.reports.html to draw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptc.artifacts.resolve import check_program, resolve_artifact
from promptc.artifacts.store import Artifact, Store
from promptc.config.load import Config
from promptc.data.load import Example, load_splits
from promptc.errors import BadInput
from promptc.outcomes import EvalOutcome
from promptc.release.gates import GateReport
from promptc.release.reference import config_differences, judge_stored, resolve_reference
from promptc.results import Evaluation, ScoreSet

NO_ANSWER = "(no answer)"


@dataclass(frozen=True)
class Answer:
    """One example's answer in one evaluation."""

    id: str
    slice: str | None
    outputs: dict[str, Any] | None
    raw: str
    score: float
    field_scores: dict[str, float] | None = None  # per output, where the metric scores outputs apart


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, gathered from an artifact or a fresh evaluation."""

    artifact: Artifact
    gates: GateReport
    higher_is_better: bool
    baseline: tuple[Answer, ...]
    candidate: tuple[Answer, ...]
    reference: tuple[Answer, ...]  # the answers flips are judged against
    flips_against: str
    examples: dict[str, Example]  # the test split by id
    source: str  # where the evaluation came from
    usage: str = ""


def _records(artifact: Artifact, which: str) -> list[dict[str, Any]]:
    """The per-example records of an artifact's stored evaluation ('baseline' or 'candidate'),
    inline or from its verified sidecar file (Artifact.records)."""
    return list(artifact.records(which))


def _stored(artifact: Artifact, which: str) -> tuple[Answer, ...]:
    return tuple(
        Answer(
            r["id"],
            r.get("slice"),
            r.get("prediction"),
            str(r.get("raw", "")),
            float(r["score"]),
            r.get("field_scores"),
        )
        for r in _records(artifact, which)
    )


def _fresh(evaluation: Evaluation) -> tuple[Answer, ...]:
    return tuple(
        Answer(r.id, r.slice, r.prediction.outputs, r.prediction.raw, r.score, r.field_scores)
        for r in evaluation.records
    )


def score_set(answers: Sequence[Answer]) -> ScoreSet:
    return ScoreSet(scores={a.id: a.score for a in answers}, slices={a.id: a.slice for a in answers})


def _test_examples(config: Config, artifact: Artifact) -> dict[str, Example]:
    splits = load_splits(config.data, config.program.signature)
    if artifact.typed.lineage.splits["test"] != splits.hashes()["test"]:
        raise BadInput(
            f"artifact {artifact.id} was evaluated on another test split than {config.path} names",
            fix=f"re-evaluate it on this split: promptc eval {config.path} --artifact {artifact.id} "
            "--html PATH",
        )
    return {e.id: e for e in splits.test}


def from_artifact(config: Config, ref: str, against: str | None = None) -> ReportData:
    """The report of an artifact's stored evaluation, judged against `against` (default: the gates'
    reference), read without a model call (promptc.release.reference.resolve_reference)."""
    artifact = resolve_artifact(config, ref)
    check_program(config, artifact)
    examples = _test_examples(config, artifact)
    baseline, candidate = _stored(artifact, "baseline"), _stored(artifact, "candidate")
    reference = resolve_reference(config, score_set(baseline), artifact, against=against)
    answers = _stored(reference.artifact, "candidate") if reference.artifact is not None else baseline
    gates = judge_stored(config, artifact, score_set(candidate), reference)
    return ReportData(
        artifact,
        gates,
        config.gates.higher_is_better,
        baseline,
        candidate,
        answers,
        reference.label,
        examples,
        f"the evaluation stored in artifact {artifact.id}",
    )


def from_eval(config: Config, outcome: EvalOutcome, usage: str = "") -> ReportData:
    """The report of a fresh `promptc eval`: its evaluations and gate verdict as they are."""
    splits = load_splits(config.data, config.program.signature)
    examples = {e.id: e for e in splits.test}
    baseline, candidate = _fresh(outcome.baseline), _fresh(outcome.candidate)
    flips_against, reference = "baseline", baseline
    compared_with = outcome.gates.reference_artifact  # recorded by the gates, never read from a label
    if compared_with is not None:
        other = Store(config.artifacts_dir).find(config.program.name, compared_with)
        # Stored answers pair with this run only when they were scored as it was (same test split too).
        alike = not config_differences(config, splits, other)
        if alike and set(examples) == {a.id for a in _stored(other, "candidate")}:
            flips_against, reference = outcome.gates.reference, _stored(other, "candidate")
    return ReportData(
        outcome.artifact,
        outcome.gates,
        config.gates.higher_is_better,
        baseline,
        candidate,
        reference,
        flips_against,
        examples,
        "a fresh evaluation (promptc eval)",
        usage,
    )
