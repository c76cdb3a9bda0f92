"""One core function per command: check, compile, evaluate, promote, run.

The CLI parses arguments, calls one of these, and renders what it returns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptc import __version__
from promptc.adapter import render_messages
from promptc.artifacts import Artifact, Registry, Store, check_alias, check_target, is_id_prefix
from promptc.cache import CallCache
from promptc.config import Budget, Config, check_writable, load_config
from promptc.data import Example, Splits, coerce_value, load_splits
from promptc.errors import BadInput, CheckFailed, RevisionMismatch, RuntimeFailure
from promptc.evaluate import OVERALL, Evaluation, Prediction, evaluate, predict
from promptc.gates import GateReport, ScoreSet, check_gates
from promptc.leakage import SplitReport, check_splits
from promptc.lm import LM, Usage, count_tokens, is_in_process, price
from promptc.merge import check_shards, check_together
from promptc.metrics import load_metric
from promptc.optimizers import get_optimizer
from promptc.optimizers.base import CallEstimate, CompileInputs, Trial, labeled_demo
from promptc.program import Candidate, Program, baseline_candidate
from promptc.progress import Reporter, Silent
from promptc.shards import Shard, ShardFile, read_shard

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
    check_writable(config, "cache")
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
    usage: Usage  # search and holdout together
    search_usage: Usage = field(default_factory=Usage)
    stopped_by_budget: str | None = None  # the cap's message when the budget ended the search
    notes: tuple[str, ...] = ()  # from the optimizer, e.g. where its optuna study is


def compile_config(config: Config, reporter: Reporter | None = None) -> CompileOutcome:
    """Check data, compile on train+val, evaluate baseline and candidate on test, store the artifact."""
    reporter = reporter or Silent()
    check_target(config.target.model, config.target.revision, config.path)
    splits = _checked_splits(config)
    check_writable(config, "artifacts")  # now, not after the model calls
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    optimizer = get_optimizer(config.optimizer.name, config.optimizer.settings)
    lm = _lm(config)
    # The budget caps the search only: the holdout evaluation runs on an uncapped LM, reported apart.
    search_lm = LM(
        config.target, lm.cache, max_calls=config.budget.max_calls, max_cost_usd=config.budget.max_cost_usd
    )
    result = optimizer.compile(
        CompileInputs(
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
    )
    baseline, candidate = _evaluate_pair(config, splits, lm, result.candidate, reporter)
    label, ref_scores = reference_scores(config, scores_of(baseline), splits, lambda: lm, reporter)
    gates = check_gates(config.gates, scores_of(candidate), ref_scores, reference_label=label)
    search_usage = search_lm.usage
    usage = search_usage + lm.usage
    content = {
        "program": config.program.to_dict(),
        "target": {
            "model": config.target.model,
            "revision": config.target.revision,
            **config.target.decoding,
            "constrained": config.target.constrained,
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
            "search": result.lineage,
            "stopped_by_budget": result.stopped_by_budget is not None,
            "search_requests": search_usage.requests,
            "lm_requests": usage.requests,
            "tokens": usage.prompt_tokens + usage.completion_tokens,
            # Split, so a report can price them (cached calls count too: the same on every run).
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            # what hosted providers reported serving (model id, system fingerprint), checked on fresh replies
            **({"observed_models": observed} if (observed := _observed(search_lm, lm)) else {}),
        },
        "evaluation": {
            "split": "test",
            "metric": config.metric,
            "baseline": baseline.to_dict(records=False),
            "candidate": candidate.to_dict(records=False),
        },
    }
    # The per-example records go to sidecar files next to the artifact, streamed one at a time.
    records = {
        name: (r.to_dict() for r in ev.records)
        for name, ev in (("baseline", baseline), ("candidate", candidate))
    }
    artifact = Store(config.artifacts_dir).write(content, records)
    Registry(config.artifacts_dir, config.program.name).set_alias(artifact, LATEST, action="compile")
    return CompileOutcome(
        artifact,
        baseline,
        candidate,
        gates,
        result.trials,
        usage,
        search_usage,
        result.stopped_by_budget,
        result.notes,
    )


def _observed(*lms: LM) -> list[dict[str, str]]:
    """The model ids hosted providers reported to any of these LMs, each once."""
    seen = {tuple(o.items()): o for lm in lms for o in lm.observed}
    return [seen[k] for k in sorted(seen)]


def _evaluate_pair(
    config: Config,
    splits: Splits,
    lm: LM,
    candidate: Candidate,
    reporter: Reporter,
    examples: tuple[Example, ...] | None = None,
) -> tuple[Evaluation, Evaluation]:
    """The baseline and the candidate on the test split (or on examples of it: a shard)."""
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    seed = config.optimizer.seed
    test = splits.test if examples is None else examples
    out = []
    for name, cand in (("baseline", baseline_candidate(config.program)), ("candidate", candidate)):
        advance = reporter.stage(f"evaluating {name} on test", len(test))
        out.append(evaluate(config.program, cand, test, metric, lm, seed=seed, on_done=advance))
    return out[0], out[1]


@dataclass(frozen=True)
class CompileEstimate:
    """What compile will spend, worked out without calling a model."""

    optimizer: str
    sizes: dict[str, int]  # examples per split
    search: CallEstimate
    holdout_calls: int  # the baseline and the candidate on the test split
    cost_usd: float | None  # None when litellm has no price for one of the models
    models: tuple[str, ...]  # the target, and mipro's prompt model when it is another one
    unpriced: tuple[str, ...]  # models litellm has no price for
    budget: Budget
    prompt_tokens: int = 0  # every call's prompt on a cold cache, counted by `tokenizer`
    completion_tokens: int = 0  # every reply at its max_tokens (an upper bound)
    tokenizer: str = ""  # which tokenizer counted the target's prompts

    @property
    def total_calls(self) -> int:
        """Search and holdout calls together."""
        return self.search.total + self.holdout_calls

    @property
    def in_process(self) -> bool:
        """Every call goes to an in-process (local or fake) model: no money is spent."""
        return all(is_in_process(m) for m in self.models)


def estimate_compile(config: Config) -> CompileEstimate:
    """The model calls (and, where litellm knows the price, the cost) of compiling this config."""
    splits = _checked_splits(config)
    optimizer = get_optimizer(config.optimizer.name, config.optimizer.settings)
    sizes = {name: len(examples) for name, examples in splits.items()}
    search = optimizer.estimate_calls(config.optimizer.settings, sizes["train"], sizes["val"])
    holdout = sizes["test"] * (1 + search.holdout_calls_per_example)
    target = config.target.model
    prompt_model = search.prompt_model or target
    models = tuple(dict.fromkeys([target, prompt_model]))
    program = config.program
    probe = [e.inputs for e in (splits.val + splits.test)[:20]]
    demos = tuple(labeled_demo(e) for e in splits.train[: search.max_demos])
    tokenizers: list[str] = []

    def prompt_tokens(candidate: Candidate) -> int:
        counted = [count_tokens(target, render_messages(program, candidate, x)) for x in probe]
        tokenizers.extend(c.tokenizer for c in counted[:1])
        return sum(c.count for c in counted) // max(1, len(counted))

    with_demos = prompt_tokens(Candidate(program.signature.instructions, demos))
    zero_shot = prompt_tokens(baseline_candidate(program))
    reply = config.target.max_tokens  # an upper bound: replies are often shorter
    calls = [
        (target, search.total - search.prompt_model_calls, with_demos, reply),
        # a proposal prompt (signature, data summary, a few examples) is a few hundred tokens
        (prompt_model, search.prompt_model_calls, 600, search.prompt_model_max_tokens),
        (target, sizes["test"], zero_shot, reply),
        (target, sizes["test"] * search.holdout_calls_per_example, with_demos, reply),
    ]
    token_estimate: dict[str, Any] = {
        "prompt_tokens": sum(n * t for _, n, t, _ in calls),
        "completion_tokens": sum(n * r for _, n, _, r in calls),
        "tokenizer": tokenizers[0] if tokenizers else "",
    }
    if all(is_in_process(m) for m in models):
        return CompileEstimate(
            config.optimizer.name, sizes, search, holdout, 0.0, models, (), config.budget, **token_estimate
        )
    total = 0.0
    unpriced: dict[str, None] = {}
    for model, n, tokens, replies in calls:
        each = price(model, tokens, replies)
        if each is None:
            unpriced[model] = None
        else:
            total += n * each
    cost = None if unpriced else total
    return CompileEstimate(
        config.optimizer.name,
        sizes,
        search,
        holdout,
        cost,
        models,
        tuple(unpriced),
        config.budget,
        **token_estimate,
    )


def resolve_artifact(config: Config, ref: str) -> Artifact:
    """An artifact by alias (for the config's model revision) or id, refused for another revision."""
    check_target(config.target.model, config.target.revision, config.path)
    registry = Registry(config.artifacts_dir, config.program.name)
    aliases = registry.aliases(config.target.model, config.target.revision)
    if ref not in aliases and not is_id_prefix(ref):
        check_alias(ref)
        raise BadInput(
            f"no artifact or alias {ref!r} for {config.program.name} on "
            f"{config.target.model}@{config.target.revision}",
            fix=f"see promptc list {config.path} for ids and aliases; run promptc compile first",
        )
    artifact = Store(config.artifacts_dir).find(config.program.name, aliases.get(ref, ref))
    if artifact.model != config.target.model or artifact.revision != config.target.revision:
        raise RevisionMismatch(
            f"artifact {artifact.id} was compiled for {artifact.model}@{artifact.revision}, "
            f"but {config.path} targets {config.target.model}@{config.target.revision}",
            fix="compile and evaluate an artifact for this model revision",
        )
    return artifact


def check_program(config: Config, artifact: Artifact) -> None:
    """Refuse an artifact compiled for another program name, version, module or signature."""
    stored = Program.from_dict(artifact.content["program"]).to_dict()
    current = config.program.to_dict()
    if (stored["name"], stored["version"]) != (current["name"], current["version"]):
        raise BadInput(
            f"artifact {artifact.id} was compiled for {stored['name']} {stored['version']}, "
            f"but {config.path} declares {current['name']} {current['version']}",
            fix=f"compile this program version (promptc compile {config.path}), then use the new artifact",
        )
    parts = ["module"] if stored["module"] != current["module"] else []
    parts += [
        f"signature.{key}"
        for key in ("inputs", "outputs", "instructions")
        if stored["signature"][key] != current["signature"][key]
    ]
    if parts:
        raise BadInput(
            f"artifact {artifact.id} was compiled for another {', '.join(parts)} than {config.path} "
            f"declares for {current['name']} {current['version']}",
            fix=f"compile this program version (promptc compile {config.path}); bump program.version "
            "when the signature changes",
        )


@dataclass(frozen=True)
class EvalOutcome:
    """A fresh holdout evaluation of an artifact and its baseline, with the gate verdict."""

    artifact: Artifact
    baseline: Evaluation
    candidate: Evaluation
    gates: GateReport
    usage: Usage


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
    if artifact.content["lineage"]["splits"]["test"] == splits.hashes()["test"]:
        return f"{name} ({artifact.id})", stored_scores(artifact)
    metric = load_metric(config.metric, config.program.signature, config.path.resolve().parent)
    test = splits.test if examples is None else examples
    advance = reporter.stage(f"evaluating {name} on test", len(test))
    candidate = Candidate.from_dict(artifact.content["candidate"])
    evaluation = evaluate(config.program, candidate, test, metric, lm(), on_done=advance)
    return f"{name} ({artifact.id}, re-evaluated on the current test split)", scores_of(evaluation)


def evaluate_config(config: Config, ref: str = LATEST, reporter: Reporter | None = None) -> EvalOutcome:
    """Re-evaluate an artifact and the baseline on the test split; apply the gates against the reference."""
    reporter = reporter or Silent()
    artifact = resolve_artifact(config, ref)
    check_program(config, artifact)
    splits = _checked_splits(config)
    lm = _lm(config)
    candidate = Candidate.from_dict(artifact.content["candidate"])
    baseline, cand_eval = _evaluate_pair(config, splits, lm, candidate, reporter)
    reference = reference_scores(config, scores_of(baseline), splits, lambda: lm, reporter)
    return judge_evaluation(config, artifact, baseline, cand_eval, reference, lm.usage)


def judge_evaluation(
    config: Config,
    artifact: Artifact,
    baseline: Evaluation,
    candidate: Evaluation,
    reference: tuple[str, ScoreSet],
    usage: Usage,
) -> EvalOutcome:
    """The gate verdict over fresh holdout evaluations: the one path from scores to an EvalOutcome,
    shared by `eval` and `merge` so a merged sharded run is judged exactly as an unsharded one."""
    label, ref_scores = reference
    gates = check_gates(config.gates, scores_of(candidate), ref_scores, reference_label=label)
    return EvalOutcome(artifact, baseline, candidate, gates, usage)


def evaluate_shard(config: Config, ref: str, shard: Shard, reporter: Reporter | None = None) -> ShardFile:
    """Evaluate an artifact, the baseline and the reference on one shard of the test split; no gates."""
    reporter = reporter or Silent()
    artifact = resolve_artifact(config, ref)
    check_program(config, artifact)
    splits = _checked_splits(config)
    examples = shard.select(splits.test)
    lm = _lm(config)
    candidate = Candidate.from_dict(artifact.content["candidate"])
    baseline, cand_eval = _evaluate_pair(config, splits, lm, candidate, reporter, examples)
    label, ref_scores = reference_scores(
        config, scores_of(baseline), splits, lambda: lm, reporter, examples=examples
    )
    return ShardFile.of(config, artifact, shard, splits, baseline, cand_eval, (label, ref_scores), lm.usage)


def merge_shards(config: Config, paths: list[Path]) -> EvalOutcome:
    """Check shard files form one evaluation of the current test split, then judge it as `eval` does."""
    files = [read_shard(path) for path in paths]
    if not files:
        raise BadInput(
            "no shard files given", fix=f"pass every file of promptc eval {config.path} --shard I/N"
        )
    check_together(files)
    artifact = resolve_artifact(config, files[0].artifact)
    check_program(config, artifact)
    splits = _checked_splits(config)
    merged = check_shards(config, artifact, splits, files)
    return judge_evaluation(
        config, artifact, merged.baseline, merged.candidate, merged.reference, merged.usage
    )


@dataclass(frozen=True)
class PromoteOutcome:
    """The alias change and the gate report that allowed it."""

    artifact: Artifact
    alias: str
    previous: str | None
    gates: GateReport
    verified: int | None = None  # with verify: test examples whose stored scores were reproduced

    @property
    def unchanged(self) -> bool:
        """The alias already pointed at this artifact: nothing moved, no history entry."""
        return self.previous == self.artifact.id


def promote(
    config: Config,
    ref: str,
    alias: str = "production",
    reporter: Reporter | None = None,
    *,
    verify: bool = False,
) -> PromoteOutcome:
    """Move alias to the artifact if it is for this revision and its holdout evaluation passes the gates.

    With verify, the artifact and the baseline are first re-evaluated on the test split and the
    artifact is refused unless its stored per-example scores are reproduced.
    """
    reporter = reporter or Silent()
    check_alias(alias)
    if alias == LATEST:
        raise BadInput(f"alias {LATEST!r} is set by compile", fix="promote to another alias, e.g. production")
    artifact = resolve_artifact(config, ref)
    check_program(config, artifact)
    splits = load_splits(config.data, config.program.signature)
    if artifact.content["lineage"]["splits"]["test"] != splits.hashes()["test"]:
        raise CheckFailed(
            f"artifact {artifact.id} was evaluated on a different test split than {config.path} names",
            fix=f"re-run promptc compile {config.path} and promote the artifact it writes",
        )
    lm = functools.cache(functools.partial(_lm, config))
    verified = None
    if verify:
        candidate = Candidate.from_dict(artifact.content["candidate"])
        baseline, fresh = _evaluate_pair(config, splits, lm(), candidate, reporter)
        check_reproduced(config, artifact, {"baseline": scores_of(baseline), "candidate": scores_of(fresh)})
        verified = len(splits.test)
    label, ref_scores = reference_scores(config, stored_scores(artifact, "baseline"), splits, lm, reporter)
    gates = check_gates(config.gates, stored_scores(artifact), ref_scores, reference_label=label)
    if not gates.passed:
        raise CheckFailed(
            f"artifact {artifact.id} fails the release gates:\n"
            + "\n".join(f"  {c.message}" for c in gates.failures),
            fix="improve the program, or change the gates deliberately in the config",
        )
    previous = Registry(config.artifacts_dir, config.program.name).set_alias(artifact, alias)
    return PromoteOutcome(artifact, alias, previous, gates, verified)


def check_reproduced(config: Config, artifact: Artifact, fresh: dict[str, ScoreSet]) -> None:
    """Refuse an artifact whose stored per-example scores and slices differ from fresh ones."""
    problems = []
    for which, scores in fresh.items():
        stored = stored_scores(artifact, which)
        ids = sorted(stored.scores.keys() | scores.scores.keys())
        differ = [
            i
            for i in ids
            if i not in stored.scores
            or i not in scores.scores
            or not math.isclose(stored.scores[i], scores.scores[i], abs_tol=1e-9)
            or stored.slices.get(i) != scores.slices.get(i)
        ]
        if differ:
            shown = ", ".join(differ[:5]) + (", ..." if len(differ) > 5 else "")
            problems.append(f"  {which}: {len(differ)} of {len(ids)} example(s) differ ({shown})")
    if problems:
        raise CheckFailed(
            f"artifact {artifact.id}: its stored evaluation does not match a fresh one on the test split\n"
            + "\n".join(problems),
            fix=f"do not promote it; re-run promptc compile {config.path} and promote the artifact it writes "
            "(the artifact was edited, or the model answers differently under the same revision)",
        )


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


def load(config_path: str | Path, ref: str = "production", target: str | None = None) -> CompiledProgram:
    """Load the artifact behind an alias (or id) as a callable, refusing another model revision.

    target names one of the config's `targets:` (required when it names several).
    """
    config = load_config(config_path, target)
    return CompiledProgram(config, resolve_artifact(config, ref))


def rollback(config: Config, alias: str = "production") -> tuple[str, str]:
    """Move an alias back to its previous artifact; returns (from id, to id)."""
    registry = Registry(config.artifacts_dir, config.program.name)
    return registry.rollback(config.target.model, config.target.revision, alias)


@dataclass(frozen=True)
class RegistryView:
    """Aliases, history and artifacts of a program for the config's model revision."""

    aliases: dict[str, str]
    history: list[dict[str, Any]]
    artifacts: list[Artifact]


def registry_view(config: Config) -> RegistryView:
    """What the registry and store hold for this program and model revision."""
    registry = Registry(config.artifacts_dir, config.program.name)
    model, revision = config.target.model, config.target.revision
    return RegistryView(
        aliases=registry.aliases(model, revision),
        history=registry.history(model, revision),
        artifacts=Store(config.artifacts_dir).list(config.program.name, model, revision),
    )


def find_artifact(ref: str, config: Config | None) -> Artifact:
    """An artifact from a file path, or by id/alias within a config's store."""
    path = Path(ref)
    if path.suffix == ".json" and path.is_file():
        return Store.load(path)
    if config is None:
        raise BadInput(
            f"{ref!r} is not an artifact file",
            fix="pass the path of an artifact .json file, or --config CONFIG to look up an id or alias",
        )
    return resolve_artifact(config, ref)


def prompt_preview(artifact: Artifact) -> list[tuple[str, list[dict[str, str]]]]:
    """The messages the model receives, with each input shown as a {placeholder}: one list per
    ensemble member (titled), else one. Nearest-neighbour demos are shown as the pool's first k."""
    program = Program.from_dict(artifact.content["program"])
    candidate = Candidate.from_dict(artifact.content["candidate"])
    placeholders = {f.name: "{" + f.name + "}" for f in program.signature.inputs}
    members = candidate.members or (candidate,)
    out = []
    for i, member in enumerate(members, 1):
        title = f", member {i} of {len(members)}" if candidate.members else ""
        if member.knn:
            title += f", demos: {member.knn} nearest of the pool per input, here the first"
            member = Candidate(member.instructions, member.demos[: member.knn], member.decision)
        out.append((title, render_messages(program, member, placeholders)))
    return out


@dataclass(frozen=True)
class MatrixCell:
    """One (program version, model revision) cell of the compilation matrix and its newest artifact."""

    version: str
    target: str | None  # the name under targets:, None for a config with one target:
    model: str
    revision: str
    artifact: Artifact | None  # None: never compiled for this cell
    gates: GateReport | None
    aliases: dict[str, str]  # alias -> artifact id, for the aliases on this cell's artifacts

    def scores(self) -> tuple[float, float] | None:
        """The stored holdout means (baseline, candidate), or None for a missing cell."""
        if self.artifact is None:
            return None
        ev = self.artifact.content["evaluation"]
        return ev["baseline"]["summaries"][OVERALL]["mean"], ev["candidate"]["summaries"][OVERALL]["mean"]


def _version_key(version: str) -> tuple[tuple[int, ...], str]:
    numbers = version.split("-", 1)[0].split(".")
    return tuple(int(n) for n in numbers if n.isdigit()), version


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
        test = artifact.content["lineage"]["splits"]["test"]
        if (
            other is not None
            and other.id != artifact.id
            and other.content["lineage"]["splits"]["test"] == test
        ):
            label, reference = f"{name} ({other.id})", stored_scores(other)
        else:
            label = f"baseline (no other artifact behind {name!r} on this test split)"
    return check_gates(config.gates, stored_scores(artifact), reference, reference_label=label)


def matrix(configs: tuple[Config, ...]) -> list[MatrixCell]:
    """Every program version x model revision cell of a config's targets, newest artifact each.

    A cell's artifact is the one behind `latest` when that is of the cell's version, else the
    newest of the version; the config's own program version is listed even where never compiled.
    """
    cells: list[MatrixCell] = []
    rows: dict[str, list[MatrixCell]] = {}
    for config in configs:
        model, revision = config.target.model, config.target.revision
        check_target(model, revision, config.path)
        registry = Registry(config.artifacts_dir, config.program.name)
        aliases = registry.aliases(model, revision)
        by_version: dict[str, list[Artifact]] = {config.program.version: []}
        for art in Store(config.artifacts_dir).list(config.program.name, model, revision):
            by_version.setdefault(art.content["program"]["version"], []).append(art)
        for version, artifacts in by_version.items():
            ids = {a.id: a for a in artifacts}
            latest = ids.get(aliases.get(LATEST, ""))
            chosen = latest or (artifacts[-1] if artifacts else None)
            cell = MatrixCell(
                version,
                config.target_name,
                model,
                revision,
                chosen,
                stored_gates(config, chosen) if chosen else None,
                {alias: i for alias, i in sorted(aliases.items()) if i in ids},
            )
            rows.setdefault(version, []).append(cell)
    for version in sorted(rows, key=_version_key):
        cells.extend(rows[version])
    return cells
