"""`promptc merge`: check that shard files are the N shards of one sharded eval, each once, covering
the test split exactly, put their records back together in test split order, and judge them as
`promptc eval` judges an unsharded run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptc.artifacts.resolve import check_program, resolve_artifact
from promptc.artifacts.store import Artifact
from promptc.commands.lifecycle import checked_splits, judge_evaluation
from promptc.config.load import Config
from promptc.data.load import Splits
from promptc.errors import BadInput
from promptc.evaluation.shards import ShardFile, deal, read_shard
from promptc.outcomes import EvalOutcome
from promptc.release.reference import Reference
from promptc.results import Evaluation, Record, ScoreSet, summarise_records
from promptc.usage import Usage


def _name(f: ShardFile) -> str:
    return str(f.path)


def check_together(files: list[ShardFile]) -> None:
    """Refuse shard files that are not the N shards, each once, of one sharded eval."""
    first = files[0]
    same_run = "merge the shard files of one sharded eval: one artifact, one config, one N"
    for f in files[1:]:
        for what, key in (
            ("artifact", "artifact"),
            ("config (sha256)", "config_sha256"),
            ("test split (digest)", "test_split"),
            ("reference", "reference"),
            ("reference artifact", "reference_artifact"),
        ):
            if getattr(f, key) != getattr(first, key):
                mine, theirs = getattr(f, key), getattr(first, key)
                raise BadInput(
                    f"{_name(f)} evaluates {what} {mine!r}, but {_name(first)} {theirs!r}",
                    fix=same_run,
                )
        if f.shard.count != first.shard.count:
            raise BadInput(
                f"{_name(f)} is shard {f.shard} but {_name(first)} is shard {first.shard}: "
                "different numbers of shards",
                fix=same_run,
            )
    seen: dict[int, ShardFile] = {}
    for f in files:
        if f.shard.index in seen:
            other = seen[f.shard.index]
            what = (
                f"{_name(f)} is given twice"
                if other.path == f.path
                else f"{_name(other)} and {_name(f)} are both shard {f.shard}"
            )
            raise BadInput(what, fix="pass each shard's file once")
        seen[f.shard.index] = f
    count = first.shard.count
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        shown = ", ".join(f"{i}/{count}" for i in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise BadInput(
            f"{len(missing)} of {count} shard(s) missing: {shown}",
            fix=f"pass every shard's file; run promptc eval CONFIG --artifact {first.artifact} "
            f"--shard I/{count} --out FILE for each missing one",
        )


@dataclass(frozen=True)
class Merged:
    """The shards' evaluations put back together in test split order."""

    baseline: Evaluation
    candidate: Evaluation
    reference: Reference
    usage: Usage


def _ids(f: ShardFile) -> list[tuple[str, list[str]]]:
    return [
        ("baseline", [r.id for r in f.baseline]),
        ("candidate", [r.id for r in f.candidate]),
        ("reference", [i for i, _ in f.reference_scores]),
    ]


def _check_placed(f: ShardFile, dealt: dict[str, int]) -> None:
    """Refuse ids outside the test split, of another shard, or twice."""
    fix = f"re-run the sharded eval that wrote {_name(f)}"
    for which, ids in _ids(f):
        seen: set[str] = set()
        for i in ids:
            if i not in dealt:
                raise BadInput(f"{_name(f)}: {which} example {i[:100]!r} is not in the test split", fix=fix)
            if dealt[i] != f.shard.index:
                raise BadInput(
                    f"{_name(f)}: {which} example {i[:100]!r} belongs to shard {dealt[i]}/{f.shard.count}, "
                    f"not {f.shard}",
                    fix=fix,
                )
            if i in seen:
                raise BadInput(f"{_name(f)}: {which} example {i[:100]!r} appears twice", fix=fix)
            seen.add(i)


def _check_complete(f: ShardFile, dealt: dict[str, int]) -> None:
    """Refuse a shard file that lacks examples dealt to its shard."""
    expected = {i for i, s in dealt.items() if s == f.shard.index}
    for which, ids in _ids(f):
        lacking = sorted(expected - set(ids))
        if lacking:
            raise BadInput(
                f"{_name(f)}: {which} lacks {len(lacking)} example(s) of shard {f.shard} "
                f"(first {lacking[0][:100]!r})",
                fix=f"re-run the sharded eval that wrote {_name(f)}",
            )


def check_shards(config: Config, artifact: Artifact, splits: Splits, files: list[ShardFile]) -> Merged:
    """Refuse shard files of another artifact, config or test split, or that do not cover the test
    split exactly once; put their records back together in test split order."""
    test_split = splits.hashes()["test"]
    program = artifact.typed.program
    expected_meta = {
        "program": program.name,
        "version": program.version,
        "model": artifact.model,
        "revision": artifact.revision,
    }
    dealt = deal([e.id for e in splits.test], files[0].shard.count)
    for f in files:
        if f.config_sha256 != config.digest:
            raise BadInput(
                f"{_name(f)} was written with another config than {config.path} (sha256 differs)",
                fix=f"merge with the config the shards ran with, or re-run them with {config.path}",
            )
        if f.test_split != test_split or f.test_examples != len(splits.test):
            raise BadInput(
                f"{_name(f)} evaluated another test split than {config.path} names now",
                fix="re-run every shard on the current test split",
            )
        for key, value in expected_meta.items():
            if getattr(f, key) != value:
                raise BadInput(
                    f"{_name(f)} names {key} {getattr(f, key)!r}, but artifact {artifact.id} has {value!r}",
                    fix=f"re-run the sharded eval that wrote {_name(f)}",
                )
        _check_placed(f, dealt)
    for f in files:
        _check_complete(f, dealt)
    by_id = {e.id: e for e in splits.test}
    for f in files:
        for which, records in (("baseline", f.baseline), ("candidate", f.candidate)):
            for r in records:
                if r.slice != by_id[r.id].slice:
                    raise BadInput(
                        f"{_name(f)}: {which} example {r.id[:100]!r} has slice {r.slice!r}, "
                        f"but the test split has {by_id[r.id].slice!r}",
                        fix=f"re-run the sharded eval that wrote {_name(f)}",
                    )
    order = [e.id for e in splits.test]
    evaluations = []
    for which in ("baseline", "candidate"):
        by_example: dict[str, Record] = {r.id: r for f in files for r in getattr(f, which)}
        ordered = tuple(by_example[i] for i in order)
        evaluations.append(Evaluation(ordered, summarise_records(ordered)))
    ref = {i: s for f in files for i, s in f.reference_scores}
    slices = {e.id: e.slice for e in splits.test}
    usage = Usage()
    for f in files:
        usage = usage + f.usage
    scores = ScoreSet({i: ref[i] for i in order}, {i: slices[i] for i in order})
    reference = Reference(files[0].reference, scores, compared_with=files[0].reference_artifact)
    return Merged(evaluations[0], evaluations[1], reference, usage)


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
    splits = checked_splits(config)
    merged = check_shards(config, artifact, splits, files)
    return judge_evaluation(
        config,
        artifact,
        merged.baseline,
        merged.candidate,
        merged.reference,
        merged.usage,
        splits.hashes()["test"],
    )
