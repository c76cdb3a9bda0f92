"""One core function per command: check, compile, evaluate, run, show.

The CLI parses arguments, calls one of these, and renders what it returns. Elsewhere: the dry
run (optimizers.estimate), the matrix (artifacts.matrix), a shard's evaluation and the merge
(evaluation.shards, evaluation.merge), `list` and `history` (artifacts.registry), which artifact
a reference names (artifacts.resolve), what evaluations are judged against (release.reference),
promote and rollback (release.promote), and `promptc.load` (api).
"""

from __future__ import annotations

from typing import Any

from promptc import __version__
from promptc.artifacts.content import (
    ArtifactContent,
    ArtifactTarget,
    Lineage,
    OptimizerRun,
    StoredEvaluation,
    StoredRun,
    check_target,
)
from promptc.artifacts.registry import LATEST, Registry
from promptc.artifacts.resolve import check_program, resolve_artifact
from promptc.artifacts.store import Artifact, Store
from promptc.config.load import Config
from promptc.config.paths import check_writable
from promptc.data.leakage import SplitReport, check_splits
from promptc.data.load import Example, Splits, load_splits
from promptc.errors import CheckFailed
from promptc.evaluation.evaluate import evaluate, predict
from promptc.lm.cache import CallCache
from promptc.lm.model import LM
from promptc.metrics import load_metric
from promptc.optimizers import get_optimizer
from promptc.optimizers.base import CompileInputs, CompileResult
from promptc.outcomes import CompileOutcome, EvalOutcome
from promptc.prompting.inputs import check_inputs
from promptc.prompting.program import Candidate, baseline_candidate
from promptc.release.gates import GateReport, check_gates
from promptc.release.ledger import HoldoutLooks, record_look
from promptc.release.reference import Reference, Rescore, config_scoring, resolve_reference, scores_of
from promptc.reports.progress import Reporter, Silent
from promptc.results import Evaluation, Prediction, ScoreSet
from promptc.usage import Usage


def check(config: Config) -> SplitReport:
    """Load the splits, check them against the signature and for leakage."""
    splits = load_splits(config.data, config.program.signature)
    return check_splits(splits, config.data.near_duplicate_threshold)


def checked_splits(config: Config) -> Splits:
    """The config's splits, refused (CheckFailed) when examples leak between them."""
    splits = load_splits(config.data, config.program.signature)
    report = check_splits(splits, config.data.near_duplicate_threshold)
    if not report.ok:
        raise CheckFailed(
            f"{len(report.leaks)} example(s) leak between splits",
            fix=f"run promptc check {config.path} to see them, then remove or move them",
        )
    return splits


def target_lm(config: Config) -> LM:
    """The config's target model behind its call cache, its revision checked against the provider."""
    check_writable(config, "cache")
    lm = LM(config.target, CallCache(config.cache_path))
    lm.check_revision(config.target_key)
    return lm


def compile_config(config: Config, reporter: Reporter | None = None) -> CompileOutcome:
    """Check data, compile on train+val, evaluate baseline and candidate on test, store the artifact."""
    reporter = reporter or Silent()
    check_target(config.target.model, config.target.revision, config.path, config.target_key)
    splits = checked_splits(config)
    check_writable(config, "artifacts")  # now, not after the model calls
    result, search_lm, lm = _search(config, splits, reporter)
    baseline, candidate = evaluate_pair(config, splits, lm, result.candidate, reporter)
    reference = resolve_reference(config, scores_of(baseline), rescore=Rescore(splits, lambda: lm, reporter))
    looks = record_look(config, result.candidate, splits.hashes()["test"], artifact=None, command="compile")
    gates = looks.refuse(judge_against(config, looks, scores_of(candidate), reference))
    content = artifact_content(config, splits, result, (baseline, candidate), (search_lm, lm))
    # The per-example records go to sidecar files next to the artifact, streamed one at a time.
    records = {
        name: (r.to_dict() for r in ev.records)
        for name, ev in (("baseline", baseline), ("candidate", candidate))
    }
    artifact = Store(config.artifacts_dir).write(content.to_dict(), records)
    Registry(config.artifacts_dir, config.program.name).set_alias(artifact, LATEST, action="compile")
    return CompileOutcome(
        artifact,
        baseline,
        candidate,
        gates,
        result.trials,
        usage=search_lm.usage + lm.usage,
        search_usage=search_lm.usage,
        stopped_by_budget=result.stopped_by_budget,
        notes=result.notes,
        looks=looks,
    )


def _search(config: Config, splits: Splits, reporter: Reporter) -> tuple[CompileResult, LM, LM]:
    """Run the optimizer on train+val: its result, the budget-capped LM it ran on, and the target's LM."""
    optimizer = get_optimizer(config.optimizer.name, config.optimizer.settings)
    lm = target_lm(config)
    # The budget caps the search only: the holdout evaluation runs on an uncapped LM, reported apart.
    search_lm = LM(
        config.target, lm.cache, max_calls=config.budget.max_calls, max_cost_usd=config.budget.max_cost_usd
    )
    # A judge metric's calls go beside the search's: the same cache, caps and counters.
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent, search_lm)
    inputs = CompileInputs(
        program=config.program,
        train=splits.train,
        val=splits.val,
        metric=metric,
        lm=search_lm,
        seed=config.optimizer.seed,
        settings=config.optimizer.settings,
        reporter=reporter,
        state_dir=config.cache_path.parent,
        selection_confidence=config.optimizer.confidence,
    )
    return optimizer.compile(inputs), search_lm, lm


def artifact_content(
    config: Config,
    splits: Splits,
    result: CompileResult,
    evaluations: tuple[Evaluation, Evaluation],
    lms: tuple[LM, LM],
) -> ArtifactContent:
    """What compile stores: the program, target, chosen candidate, its lineage, and the baseline's
    and candidate's holdout summaries (their records go to sidecar files as the store writes it).

    lms are the search's LM and the holdout's: the lineage counts their usage apart and together.
    """
    search_lm, holdout_lm = lms
    search_usage = search_lm.usage
    usage = search_usage + holdout_lm.usage
    target = config.target
    lineage = Lineage(
        promptc_version=__version__,
        config_sha256=config.digest,
        splits=splits.hashes(),
        metric=config.metric,
        optimizer=OptimizerRun(config.optimizer.name, config.optimizer.seed, config.optimizer.settings),
        trials=[t.to_dict() for t in result.trials],
        search=result.lineage,
        stopped_by_budget=result.stopped_by_budget is not None,
        search_requests=search_usage.requests,
        lm_requests=usage.requests,
        tokens=usage.prompt_tokens + usage.completion_tokens,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        observed_models=_observed(search_lm, holdout_lm),
    )
    baseline, candidate = evaluations
    return ArtifactContent(
        program=config.program,
        target=ArtifactTarget(target.model, target.revision, target.decoding, target.constrained),
        candidate=result.candidate,
        lineage=lineage,
        evaluation=StoredEvaluation(
            "test",
            config.metric,
            StoredRun(dict(baseline.summaries)),
            StoredRun(dict(candidate.summaries)),
            config_scoring(config, splits),
        ),
    )


def _observed(*lms: LM) -> list[dict[str, str]]:
    """The model ids hosted providers reported to any of these LMs, each once."""
    seen = {tuple(o.items()): o for lm in lms for o in lm.observed}
    return [seen[k] for k in sorted(seen)]


def evaluate_pair(
    config: Config,
    splits: Splits,
    lm: LM,
    candidate: Candidate,
    reporter: Reporter,
    examples: tuple[Example, ...] | None = None,
) -> tuple[Evaluation, Evaluation]:
    """The baseline and the candidate on the test split (or on examples of it: a shard)."""
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    test = splits.test if examples is None else examples
    out = []
    for name, cand in (("baseline", baseline_candidate(config.program)), ("candidate", candidate)):
        advance = reporter.stage(f"evaluating {name} on test", len(test))
        out.append(evaluate(config.program, cand, test, metric, lm, on_done=advance))
    return out[0], out[1]


def evaluate_config(config: Config, ref: str = LATEST, reporter: Reporter | None = None) -> EvalOutcome:
    """Re-evaluate an artifact and the baseline on the test split; apply the gates against the reference."""
    reporter = reporter or Silent()
    artifact = resolve_artifact(config, ref)
    check_program(config, artifact)
    splits = checked_splits(config)
    lm = target_lm(config)
    candidate = artifact.typed.candidate
    baseline, cand_eval = evaluate_pair(config, splits, lm, candidate, reporter)
    reference = resolve_reference(config, scores_of(baseline), rescore=Rescore(splits, lambda: lm, reporter))
    return judge_evaluation(
        config, artifact, baseline, cand_eval, reference, lm.usage, splits.hashes()["test"]
    )


def judge_against(
    config: Config, looks: HoldoutLooks, candidate: ScoreSet, reference: Reference
) -> GateReport:
    """The gates (at this look's level) on a candidate's scores against its reference."""
    return check_gates(
        looks.gates(config.gates),
        candidate,
        reference.scores,
        reference_label=reference.label,
        reference_artifact=reference.compared_with,
    )


def judge_evaluation(
    config: Config,
    artifact: Artifact,
    baseline: Evaluation,
    candidate: Evaluation,
    reference: Reference,
    usage: Usage,
    test_split: str,
) -> EvalOutcome:
    """The gate verdict over fresh holdout evaluations: the one path from scores to an EvalOutcome,
    shared by `eval` and `merge` so a merged sharded run is judged exactly as an unsharded one.
    The look is recorded in the holdout ledger (test_split: the split's content hash) first."""
    looks = record_look(config, artifact.typed.candidate, test_split, artifact=artifact.id, command="eval")
    gates = looks.refuse(judge_against(config, looks, scores_of(candidate), reference))
    return EvalOutcome(artifact, baseline, candidate, gates, usage, looks)


def run_program(config: Config, inputs: dict[str, Any], ref: str = "production") -> Prediction:
    """Answer one set of inputs with the artifact behind an alias (or id)."""
    artifact = resolve_artifact(config, ref)
    program = artifact.typed.program
    values = check_inputs(program.signature, inputs)
    lm = target_lm(config)
    return predict(program, artifact.typed.candidate, lm, values)
