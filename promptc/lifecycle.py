"""One core function per command: check, compile, evaluate, promote, run.

The CLI parses arguments, calls one of these, and renders what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc import __version__
from promptc.artifacts import Artifact, Registry, Store
from promptc.cache import CallCache
from promptc.config import Config, load_config
from promptc.data import SplitReport, Splits, check_splits, coerce_value, load_splits
from promptc.errors import BadInput, CheckFailed, RevisionMismatch, RuntimeFailure
from promptc.evaluate import Evaluation, Prediction, Summary, evaluate, predict
from promptc.gates import GateReport, check_gates
from promptc.lm import LM, Usage
from promptc.metrics import load_metric
from promptc.optimizers import get_optimizer
from promptc.optimizers.base import CompileInputs, Trial
from promptc.program import Candidate, Program, baseline_candidate
from promptc.progress import Reporter, Silent

LATEST = "latest"


def check(config: Config) -> SplitReport:
    """Load the splits, check them against the signature and for leakage."""
    splits = load_splits(config.data, config.program.signature)
    return check_splits(splits, config.data.near_duplicate_threshold)


def _checked_splits(config: Config) -> Splits:
    splits = load_splits(config.data, config.program.signature)
    report = check_splits(splits, config.data.near_duplicate_threshold)
    if not report.ok:
        raise CheckFailed(
            f"{len(report.leaks)} example(s) leak between splits",
            fix=f"run promptc check {config.path} to see them, then remove or move them",
        )
    return splits


def _lm(config: Config) -> LM:
    lm = LM(config.target, CallCache(config.cache_path))
    lm.check_revision()
    return lm


@dataclass(frozen=True)
class CompileOutcome:
    """What compile produced: the artifact, both holdout evaluations, gates, trials, usage."""

    artifact: Artifact
    baseline: Evaluation
    candidate: Evaluation
    gates: GateReport
    trials: tuple[Trial, ...]
    usage: Usage


def compile_config(config: Config, reporter: Reporter | None = None) -> CompileOutcome:
    """Check data, compile on train+val, evaluate baseline and candidate on test, store the artifact."""
    reporter = reporter or Silent()
    splits = _checked_splits(config)
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    optimizer = get_optimizer(config.optimizer.name, config.optimizer.settings)
    lm = _lm(config)
    result = optimizer.compile(
        CompileInputs(
            program=config.program,
            train=splits.train,
            val=splits.val,
            metric=metric,
            lm=lm,
            seed=config.optimizer.seed,
            settings=config.optimizer.settings,
            reporter=reporter,
        )
    )
    baseline, candidate = _evaluate_pair(config, splits, lm, result.candidate, reporter)
    gates = check_gates(config.gates, candidate.summaries, baseline.summaries)
    usage = lm.usage
    content = {
        "program": config.program.to_dict(),
        "target": {
            "model": config.target.model,
            "revision": config.target.revision,
            **config.target.decoding,
        },
        "candidate": result.candidate.to_dict(),
        "lineage": {
            "promptc_version": __version__,
            "config_sha256": config.digest,
            "splits": splits.hashes(),
            "metric": config.metric,
            "optimizer": {
                "name": config.optimizer.name,
                "seed": config.optimizer.seed,
                "settings": config.optimizer.settings,
            },
            "trials": [t.to_dict() for t in result.trials],
            "lm_requests": usage.requests,
            "tokens": usage.prompt_tokens + usage.completion_tokens,
        },
        "evaluation": {
            "split": "test",
            "metric": config.metric,
            "baseline": baseline.to_dict(),
            "candidate": candidate.to_dict(),
        },
    }
    artifact = Store(config.artifacts_dir).write(content)
    Registry(config.artifacts_dir, config.program.name).set_alias(artifact, LATEST, action="compile")
    return CompileOutcome(artifact, baseline, candidate, gates, result.trials, usage)


def _evaluate_pair(
    config: Config, splits: Splits, lm: LM, candidate: Candidate, reporter: Reporter
) -> tuple[Evaluation, Evaluation]:
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    seed = config.optimizer.seed
    out = []
    for name, cand in (("baseline", baseline_candidate(config.program)), ("candidate", candidate)):
        advance = reporter.stage(f"evaluating {name} on test", len(splits.test))
        out.append(evaluate(config.program, cand, splits.test, metric, lm, seed=seed, on_done=advance))
    return out[0], out[1]


def resolve_artifact(config: Config, ref: str) -> Artifact:
    """An artifact by alias (for the config's model revision) or id, refused for another revision."""
    registry = Registry(config.artifacts_dir, config.program.name)
    aliases = registry.aliases(config.target.model, config.target.revision)
    artifact = Store(config.artifacts_dir).find(config.program.name, aliases.get(ref, ref))
    if artifact.model != config.target.model or artifact.revision != config.target.revision:
        raise RevisionMismatch(
            f"artifact {artifact.id} was compiled for {artifact.model}@{artifact.revision}, "
            f"but {config.path} targets {config.target.model}@{config.target.revision}",
            fix="compile and evaluate an artifact for this model revision",
        )
    return artifact


@dataclass(frozen=True)
class EvalOutcome:
    """A fresh holdout evaluation of an artifact and its baseline, with the gate verdict."""

    artifact: Artifact
    baseline: Evaluation
    candidate: Evaluation
    gates: GateReport
    usage: Usage


def evaluate_config(config: Config, ref: str = LATEST, reporter: Reporter | None = None) -> EvalOutcome:
    """Re-evaluate an artifact and the baseline on the test split and apply the gates."""
    artifact = resolve_artifact(config, ref)
    splits = _checked_splits(config)
    lm = _lm(config)
    candidate = Candidate.from_dict(artifact.content["candidate"])
    baseline, cand_eval = _evaluate_pair(config, splits, lm, candidate, reporter or Silent())
    gates = check_gates(config.gates, cand_eval.summaries, baseline.summaries)
    return EvalOutcome(artifact, baseline, cand_eval, gates, lm.usage)


@dataclass(frozen=True)
class PromoteOutcome:
    """The alias change and the gate report that allowed it."""

    artifact: Artifact
    alias: str
    previous: str | None
    gates: GateReport


def stored_summaries(artifact: Artifact, which: str) -> dict[str, Summary]:
    """The per-slice summaries stored in an artifact ('baseline' or 'candidate')."""
    raw = artifact.content["evaluation"][which]["summaries"]
    return {name: Summary.from_dict(s) for name, s in raw.items()}


def promote(config: Config, ref: str, alias: str = "production") -> PromoteOutcome:
    """Move alias to the artifact if it is for this revision and its holdout evaluation passes the gates."""
    if alias == LATEST:
        raise BadInput(f"alias {LATEST!r} is set by compile", fix="promote to another alias, e.g. production")
    artifact = resolve_artifact(config, ref)
    splits = load_splits(config.data, config.program.signature)
    if artifact.content["lineage"]["splits"]["test"] != splits.hashes()["test"]:
        raise CheckFailed(
            f"artifact {artifact.id} was evaluated on a different test split than {config.path} names",
            fix="re-run promptc compile so the artifact carries an evaluation on the current test split",
        )
    gates = check_gates(
        config.gates, stored_summaries(artifact, "candidate"), stored_summaries(artifact, "baseline")
    )
    if not gates.passed:
        raise CheckFailed(
            f"artifact {artifact.id} fails the release gates:\n"
            + "\n".join(f"  {c.message}" for c in gates.failures),
            fix="improve the program, or change the gates deliberately in the config",
        )
    previous = Registry(config.artifacts_dir, config.program.name).set_alias(artifact, alias)
    return PromoteOutcome(artifact, alias, previous, gates)


def run_program(config: Config, inputs: dict[str, Any], ref: str = "production") -> Prediction:
    """Answer one set of inputs with the artifact behind an alias (or id)."""
    artifact = resolve_artifact(config, ref)
    program = Program.from_dict(artifact.content["program"])
    missing = [f.name for f in program.signature.inputs if f.name not in inputs]
    unknown = sorted(set(inputs) - {f.name for f in program.signature.inputs})
    if missing or unknown:
        expected = ", ".join(f.name for f in program.signature.inputs)
        raise BadInput(
            f"inputs: missing {missing} unknown {unknown}" if unknown else f"inputs: missing {missing}",
            fix=f"pass --input NAME=VALUE for each of: {expected}",
        )
    values = {}
    for f in program.signature.inputs:
        try:
            values[f.name] = coerce_value(f, inputs[f.name])
        except ValueError as exc:
            raise BadInput(f"--input {f.name}: {exc}", fix=f"pass a {f.type} value for {f.name}") from None
    lm = _lm(config)
    return predict(program, Candidate.from_dict(artifact.content["candidate"]), lm, values)


class CompiledProgram:
    """A released artifact as a callable: outputs for keyword inputs; no optimizer in the loop."""

    def __init__(self, config: Config, artifact: Artifact) -> None:
        self.config = config
        self.artifact = artifact
        self.program = Program.from_dict(artifact.content["program"])
        self.candidate = Candidate.from_dict(artifact.content["candidate"])
        self._lm = _lm(config)

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        """Answer one set of inputs; raises RuntimeFailure when the reply cannot be parsed."""
        prediction = predict(self.program, self.candidate, self._lm, inputs)
        if prediction.outputs is None:
            raise RuntimeFailure(f"could not parse the model's reply {prediction.raw!r}: {prediction.error}")
        return prediction.outputs


def load(config_path: str | Path, ref: str = "production") -> CompiledProgram:
    """Load the artifact behind an alias (or id) as a callable, refusing another model revision."""
    config = load_config(config_path)
    return CompiledProgram(config, resolve_artifact(config, ref))
