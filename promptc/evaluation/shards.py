"""Deterministic shards of the test split and the files a sharded `promptc eval` writes (evaluation.merge
puts them back together).

A shard is dealt, not hashed into: the test ids are sorted by the sha256 of each id and dealt
round robin, so shard sizes differ by at most one (CI waits for the largest shard), slices mix
across shards, and an example's shard depends on its id and the set of ids only: never on the
machine, the file's row order, or which other shards run. The set of ids is pinned by the test
split's digest, which every shard file records and `merge` checks. evaluate_shard is the core of
`promptc eval --shard I/N`.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from promptc import __version__
from promptc.artifacts.content import canonical_json
from promptc.artifacts.resolve import check_program, resolve_artifact
from promptc.artifacts.store import Artifact
from promptc.commands.lifecycle import checked_splits, evaluate_pair, target_lm
from promptc.config.load import Config
from promptc.config.paths import check_output_file
from promptc.data.load import Example, Splits
from promptc.errors import BadInput
from promptc.files import atomic_write
from promptc.release.reference import Reference, Rescore, resolve_reference, scores_of
from promptc.reports.progress import Reporter, Silent
from promptc.results import Evaluation, Prediction, Record, score_problem
from promptc.usage import Usage

FORMAT = 1
MAX_SHARDS = 10_000  # also in schema/shard.schema.json
MAX_FILE_BYTES = 256 * 1024 * 1024  # about 400 bytes per example with short replies (bench/shards.py)
SHARD_SPEC = re.compile(r"(\d{1,9})/(\d{1,9})")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (from 1) of `count` shards of the test split."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, examples: tuple[Example, ...]) -> tuple[Example, ...]:
        """This shard's examples, in split order."""
        dealt = deal([e.id for e in examples], self.count)
        return tuple(e for e in examples if dealt[e.id] == self.index)


def deal(ids: Iterable[str], count: int) -> dict[str, int]:
    """Each id's shard (from 1): the ids sorted by their sha256, dealt round robin."""
    order = sorted(ids, key=lambda i: (hashlib.sha256(i.encode("utf-8", "surrogatepass")).digest(), i))
    return {example_id: k % count + 1 for k, example_id in enumerate(order)}


def parse_shard(text: str) -> Shard:
    """A --shard value I/N: shard I of N, numbered from 1."""
    fix = "write --shard I/N with 1 <= I <= N, e.g. --shard 2/4 for the second of four shards"
    match = SHARD_SPEC.fullmatch(text.strip())
    if match is None:
        raise BadInput(f"--shard {text!r} is not I/N", fix=fix)
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise BadInput(f"--shard {text}: N must be between 1 and {MAX_SHARDS}", fix=fix)
    if not 1 <= index <= count:
        raise BadInput(f"--shard {text}: there is no shard {index} of {count}", fix=fix)
    return Shard(index, count)


def _record(data: dict[str, Any]) -> Record:
    prediction = Prediction(
        outputs=data["prediction"],
        reasoning=None,  # reports show the raw reply; the file keeps what artifact records keep
        raw=data["raw"],
        error=data["error"],
        prompt_tokens=data["tokens"],  # the file keeps the total, as artifact records do
        completion_tokens=0,
        cached=data["cached"],
        latency_s=data["latency_s"],
    )
    fields = data.get("field_scores")
    field_scores = None if fields is None else {name: float(v) for name, v in fields.items()}
    return Record(
        data["id"], data["slice"], prediction, float(data["score"]), data.get("feedback"), field_scores
    )


def _usage(data: dict[str, Any]) -> Usage:
    empty = Usage()
    return Usage(**{f.name: type(getattr(empty, f.name))(data.get(f.name, 0)) for f in fields(Usage)})


@dataclass(frozen=True)
class ShardFile:
    """One shard's per-example records for the baseline, the candidate and the reference, with
    what they belong to: the artifact, the config, the test split and the shard count."""

    shard: Shard
    artifact: str
    program: str
    version: str
    model: str
    revision: str
    config_sha256: str
    test_split: str  # the digest of the whole test split
    test_examples: int  # examples in the whole test split
    reference: str  # the gates' reference label, e.g. "baseline" or "production (<id>)"
    reference_artifact: str | None  # the artifact whose scores are the reference (None: the baseline)
    baseline: tuple[Record, ...]
    candidate: tuple[Record, ...]
    reference_scores: tuple[tuple[str, float], ...]
    usage: Usage
    path: Path | None = None  # where it was read from

    @classmethod
    def of(
        cls,
        config: Config,
        artifact: Artifact,
        shard: Shard,
        splits: Splits,
        baseline: Evaluation,
        candidate: Evaluation,
        reference: Reference,
        usage: Usage,
    ) -> ShardFile:
        """The shard file of one shard's evaluations."""
        scores = reference.scores
        ids = [r.id for r in baseline.records]
        return cls(
            shard=shard,
            artifact=artifact.id,
            program=config.program.name,
            version=config.program.version,
            model=config.target.model,
            revision=config.target.revision,
            config_sha256=config.digest,
            test_split=splits.hashes()["test"],
            test_examples=len(splits.test),
            reference=reference.label,
            reference_artifact=reference.compared_with,
            baseline=baseline.records,
            candidate=candidate.records,
            # A stored reference holds every test example: keep this shard's.
            reference_scores=tuple((i, scores.scores[i]) for i in ids if i in scores.scores),
            usage=usage,
        )

    def body(self) -> dict[str, Any]:
        """Plain data, without the digest."""
        return {
            "format": FORMAT,
            "promptc_version": __version__,
            "shard": {"index": self.shard.index, "count": self.shard.count},
            "artifact": self.artifact,
            "program": self.program,
            "version": self.version,
            "model": self.model,
            "revision": self.revision,
            "config_sha256": self.config_sha256,
            "test_split": self.test_split,
            "test_examples": self.test_examples,
            "reference": self.reference,
            "reference_artifact": self.reference_artifact,
            "baseline": [r.to_dict(timing=True) for r in self.baseline],
            "candidate": [r.to_dict(timing=True) for r in self.candidate],
            "reference_scores": [{"id": i, "score": s} for i, s in self.reference_scores],
            "usage": dict(self.usage.__dict__),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain data with a sha256 over the rest, so an edited record is refused on merge."""
        body = self.body()
        return {**body, "sha256": _digest(body)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path) -> ShardFile:
        """From data already checked against the schema and the digest."""
        return cls(
            shard=Shard(data["shard"]["index"], data["shard"]["count"]),
            artifact=data["artifact"],
            program=data["program"],
            version=data["version"],
            model=data["model"],
            revision=data["revision"],
            config_sha256=data["config_sha256"],
            test_split=data["test_split"],
            test_examples=data["test_examples"],
            reference=data["reference"],
            reference_artifact=data.get("reference_artifact"),
            baseline=tuple(_record(r) for r in data["baseline"]),
            candidate=tuple(_record(r) for r in data["candidate"]),
            reference_scores=tuple((r["id"], float(r["score"])) for r in data["reference_scores"]),
            usage=_usage(data["usage"]),
            path=path,
        )


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body).encode("utf-8", "surrogatepass")).hexdigest()


def check_out_path(path: Path) -> None:
    """Refuse a --out path that is a link, FIFO, device or folder, before any model call."""
    check_output_file("--out", path)
    if path.is_dir():
        raise BadInput(
            f"--out {path} is a folder", fix="pass a file path for the shard file, e.g. shard-1.json"
        )


def write_shard(path: Path, shard_file: ShardFile) -> None:
    """Write a shard file atomically."""
    text = json.dumps(shard_file.to_dict(), ensure_ascii=False) + "\n"
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise BadInput(
            f"{path}: cannot write the shard file ({exc.strerror})", fix="pass a writable --out path"
        ) from None


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("promptc").joinpath("schema/shard.schema.json").read_text()
    )
    return data


def read_shard(path: Path) -> ShardFile:
    """Read a shard file, refusing anything but an unedited file promptc wrote (schema, size, digest)."""
    rerun = f"re-run the sharded eval that wrote {path.name} (promptc eval CONFIG --shard I/N --out FILE)"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{path}: not a regular file", fix="pass the shard files promptc eval --out wrote")
        if info.st_size > MAX_FILE_BYTES:
            raise BadInput(
                f"{path}: {info.st_size} bytes, more than a shard file may hold ({MAX_FILE_BYTES})",
                fix="split the evaluation into more shards (a larger N)",
            )
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(
            f"{path}: no such shard file", fix="pass the files promptc eval --shard I/N --out wrote"
        ) from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the shard file ({exc.strerror or exc})", fix=rerun) from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadInput(f"{path}: not a promptc shard file (not JSON: {str(exc)[:200]})", fix=rerun) from None
    _validate(data, path, rerun)
    _check_scores(data, path, rerun)
    body = {k: v for k, v in data.items() if k != "sha256"}
    if _digest(body) != data["sha256"]:
        raise BadInput(
            f"{path}: its content does not match its sha256; the file was edited or damaged after "
            "promptc wrote it",
            fix=rerun,
        )
    return ShardFile.from_dict(data, path)


def _refuse_constant(name: str) -> Any:
    # promptc refuses a NaN score when it is made, so a shard file never holds one.
    raise ValueError(f"{name} is not a number a shard file holds")


def _check_scores(data: dict[str, Any], path: Path, fix: str) -> None:
    """Refuse a score promptc never writes, overall or per output: not finite, or outside [0, 1]."""
    for which in ("baseline", "candidate", "reference_scores"):
        for row, record in enumerate(data[which], 1):
            scores = {"score": record["score"]}
            scores.update(
                (f"field score {name[:100]!r}", v) for name, v in record.get("field_scores", {}).items()
            )
            for what, value in scores.items():
                problem = score_problem(value)
                if problem is not None:
                    raise BadInput(
                        f"{path}: {which} record {row} (id {record['id'][:100]!r}): {what} {problem}", fix=fix
                    )


def _validate(data: Any, path: Path, fix: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    lines = [
        f"  {'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message[:200]}" for e in errors[:5]
    ]
    more = [f"  ... and {len(errors) - 5} more"] if len(errors) > 5 else []
    raise BadInput(f"{path}: not a valid promptc shard file\n" + "\n".join(lines + more), fix=fix)


def evaluate_shard(config: Config, ref: str, shard: Shard, reporter: Reporter | None = None) -> ShardFile:
    """Evaluate an artifact, the baseline and the reference on one shard of the test split; no gates."""
    reporter = reporter or Silent()
    artifact = resolve_artifact(config, ref)
    check_program(config, artifact)
    splits = checked_splits(config)
    examples = shard.select(splits.test)
    lm = target_lm(config)
    candidate = artifact.typed.candidate
    baseline, cand_eval = evaluate_pair(config, splits, lm, candidate, reporter, examples)
    rescore = Rescore(splits, lambda: lm, reporter, examples)
    reference = resolve_reference(config, scores_of(baseline), rescore=rescore)
    return ShardFile.of(config, artifact, shard, splits, baseline, cand_eval, reference, lm.usage)
