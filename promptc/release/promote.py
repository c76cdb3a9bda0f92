"""The promote and rollback commands: what a promotion refuses, and deciding it under the lock.

An artifact is promoted on its stored holdout evaluation, which must have been scored as this
config scores (promptc.release.reference.Scoring). The gates are judged against the registry as read;
the alias moves only if the reference alias still points where it did when they were judged,
else they are judged again, so two promotions racing can never let a worse artifact replace a
better one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from promptc.artifacts.content import check_alias
from promptc.artifacts.registry import LATEST, AliasMoved, Registry
from promptc.artifacts.resolve import check_program, resolve_artifact
from promptc.artifacts.store import Artifact
from promptc.commands.lifecycle import evaluate_pair, judge_against, target_lm
from promptc.config.load import Config
from promptc.data.load import Splits, load_splits
from promptc.errors import BadInput, CheckFailed, RuntimeFailure
from promptc.lm.model import LM
from promptc.outcomes import PromoteOutcome
from promptc.release.ledger import record_look
from promptc.release.reference import Rescore, config_differences, resolve_reference, scores_of, stored_scores
from promptc.reports.progress import Reporter, Silent
from promptc.results import ScoreSet

# How often a promotion is judged again when other promotions keep moving its reference.
ATTEMPTS = 5


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
    artifact is refused unless its stored per-example scores are reproduced. Promoting the
    artifact an alias already points at changes nothing and succeeds.
    """
    reporter = reporter or Silent()
    check_alias(alias)
    if alias == LATEST:
        raise BadInput(f"alias {LATEST!r} is set by compile", fix="promote to another alias, e.g. production")
    artifact = resolve_artifact(config, ref)
    check_program(config, artifact)
    splits = load_splits(config.data, config.program.signature)
    if artifact.typed.lineage.splits["test"] != splits.hashes()["test"]:
        raise CheckFailed(
            f"artifact {artifact.id} was evaluated on a different test split than {config.path} names",
            fix=f"re-run promptc compile {config.path} and promote the artifact it writes",
        )
    lm = functools.cache(functools.partial(target_lm, config))
    verified = None
    if verify:
        candidate = artifact.typed.candidate
        baseline, fresh = evaluate_pair(config, splits, lm(), candidate, reporter)
        check_reproduced(config, artifact, {"baseline": scores_of(baseline), "candidate": scores_of(fresh)})
        verified = len(splits.test)
    else:
        check_scored_alike(config, artifact, splits)
    return _judge_and_move(config, artifact, alias, splits, lm, reporter, verified)


def _judge_and_move(
    config: Config,
    artifact: Artifact,
    alias: str,
    splits: Splits,
    lm: Callable[[], LM],
    reporter: Reporter,
    verified: int | None,
) -> PromoteOutcome:
    """Judge the gates against the registry as read, then move the alias under the registry lock
    only if the reference alias still points where it did; else judge again against where it went."""
    registry = Registry(config.artifacts_dir, config.program.name)
    test_split = artifact.typed.lineage.splits["test"]
    looks = record_look(config, artifact.typed.candidate, test_split, artifact=artifact.id, command="promote")
    for _ in range(ATTEMPTS):
        aliases = registry.aliases(artifact.model, artifact.revision)
        if aliases.get(alias) == artifact.id:
            return PromoteOutcome(artifact, alias, artifact.id, None, verified, looks)
        reference = resolve_reference(
            config,
            stored_scores(artifact, "baseline"),
            artifact,
            rescore=Rescore(splits, lm, reporter),
            aliases=aliases,
        )
        gates = looks.refuse(judge_against(config, looks, stored_scores(artifact), reference))
        if not gates.passed:
            raise CheckFailed(
                f"artifact {artifact.id} fails the release gates against {reference.label}:\n"
                + "\n".join(f"  {c.message}" for c in gates.failures),
                fix="improve the program, or change the gates deliberately in the config",
            )
        watched = None if reference.alias is None else (reference.alias, reference.alias_target)
        try:
            previous = registry.set_alias(artifact, alias, unless_moved=watched)
        except AliasMoved:
            continue  # another promotion moved the reference meanwhile: judge against the new one
        return PromoteOutcome(artifact, alias, previous, gates, verified, looks)
    raise RuntimeFailure(
        f"alias {config.gates.reference!r} moved {ATTEMPTS} times while artifact {artifact.id} was judged",
        fix="promote again when the other promotions have finished",
    )


def check_scored_alike(config: Config, artifact: Artifact, splits: Splits) -> None:
    """Refuse an artifact whose stored evaluation was scored otherwise than this config scores."""
    differences = config_differences(config, splits, artifact)
    if differences:
        raise CheckFailed(
            f"artifact {artifact.id}: its stored evaluation was scored otherwise than {config.path} scores:\n"
            + "\n".join(f"  {line}" for line in differences.values()),
            fix=f"re-run promptc compile {config.path} and promote the artifact it writes, or promote it "
            "with the config it was compiled with; --verify re-scores it under this config (cached calls "
            "are free) and promotes it if its stored scores are reproduced",
        )


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


def rollback(config: Config, alias: str = "production") -> tuple[str, str]:
    """Move an alias back to its previous artifact; returns (from id, to id)."""
    registry = Registry(config.artifacts_dir, config.program.name)
    return registry.rollback(config.target.model, config.target.revision, alias)
