"""What an artifact is and how its files are written: the typed content (ArtifactContent and its
parts), the id (the hash of its canonical JSON), the safe names it is filed under, and atomic
writes that never go through a link. The Artifact a store returns is in promptc.artifacts.store."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptc.errors import ArtifactError, BadInput
from promptc.evaluation.scoring import Scoring
from promptc.prompting.program import Candidate, Program
from promptc.results import OVERALL, Summary

# Format 2 keeps each holdout evaluation's per-example records in a sidecar file next to the
# artifact; format 1 (still read) kept them inline.
FORMAT = 2
FORMATS = (1, 2)
EVALUATIONS = ("baseline", "candidate")
ID_LENGTH = 16
MIN_PREFIX = 6
ARTIFACT_ID = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}")
ID_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},{ID_LENGTH}}}")
ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
# Program names and versions are folder names: one path component, never "." or "..".
COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def canonical_json(data: Any) -> str:
    """The one serialisation artifact ids (and record and shard digests) are computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_id(content: dict[str, Any]) -> str:
    """An artifact id: the sha256 prefix of its canonical content."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()[:ID_LENGTH]


def check_target(model: str, revision: str, config: Path | None = None, key: str = "target") -> None:
    """Refuse a model or revision that would not make one safe folder name under the artifacts root."""
    where = f"{config}: " if config else ""
    if not REVISION.fullmatch(revision):
        raise BadInput(
            f"{where}{key}.revision {revision!r} is not a revision id",
            fix=f"set {key}.revision to the provider's snapshot id (or the GGUF file's sha256 prefix): "
            "letters, digits and . _ : + -, starting with a letter or digit, at most 128 characters",
        )
    if not model or len(model) > 200 or any(ord(c) < 32 or c == "\\" for c in model):
        raise BadInput(
            f"{where}{key}.model {model!r} cannot name a folder under the artifacts root",
            fix=f"set {key}.model to a litellm model string without control characters or backslashes",
        )


def target_key(model: str, revision: str) -> str:
    """The registry key and directory name of a model revision (refused unless it is one safe name)."""
    check_target(model, revision)
    return f"{model.replace('/', '--')}@{revision}"


def check_component(value: str, key: str) -> None:
    """Refuse a program name or version that is not one safe folder name."""
    if not COMPONENT.fullmatch(value):
        raise BadInput(
            f"{key} {value!r} cannot name a folder under the artifacts root",
            fix=f"set {key} to letters, digits and . _ + -, starting with a letter or digit",
        )


def check_alias(alias: str) -> None:
    """Refuse an alias name outside [A-Za-z0-9][A-Za-z0-9._-]{0,63}."""
    if not ALIAS.fullmatch(alias):
        raise BadInput(
            f"alias {alias!r} is not a valid alias name",
            fix="name aliases with letters, digits and . _ -, starting with a letter or digit "
            "(at most 64 characters), e.g. production",
        )


def is_id_prefix(ref: str) -> bool:
    """Whether ref can be an artifact id or a prefix of one (6 to 16 lowercase hex digits)."""
    return ID_PREFIX.fullmatch(ref) is not None


def refuse_link(path: Path) -> None:
    """Refuse a symbolic link where promptc writes under the artifacts folder."""
    if path.is_symlink():
        raise ArtifactError(
            f"{path}: is a symbolic link; promptc does not write through links in the artifacts folder",
            fix=f"remove the link ({path}) and re-run; commit real files and folders under artifacts/",
        )


def real_dir(root: Path, *parts: str) -> Path:
    """root/part/..., each part created as a real folder; a link or file on the way is refused."""
    root.mkdir(parents=True, exist_ok=True)
    path = root
    for part in parts:
        path = path / part
        refuse_link(path)
        with contextlib.suppress(FileExistsError):
            path.mkdir()
        refuse_link(path)  # a link planted between the check and mkdir
        if not path.is_dir():
            raise ArtifactError(
                f"{path}: is not a folder", fix=f"remove {path}; promptc keeps artifacts in folders there"
            )
    return path


# The typed content. Each to_dict reproduces the stored JSON key for key, so ids never change;
# keys that older artifacts lack are None (or empty) here and left out again by to_dict.


@dataclass(frozen=True)
class ArtifactTarget:
    """The model revision an artifact was compiled for, with the decoding settings it used."""

    model: str
    revision: str
    decoding: dict[str, Any]  # Target.decoding: temperature, max_tokens
    constrained: bool | None = None  # None: written before target.constrained

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored in artifacts."""
        out: dict[str, Any] = {"model": self.model, "revision": self.revision, **self.decoding}
        if self.constrained is not None:
            out["constrained"] = self.constrained
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactTarget:
        """Inverse of to_dict."""
        named = ("model", "revision", "constrained")
        return cls(
            model=data["model"],
            revision=data["revision"],
            decoding={k: v for k, v in data.items() if k not in named},
            constrained=data.get("constrained"),
        )


@dataclass(frozen=True)
class OptimizerRun:
    """The optimizer a candidate was compiled with."""

    name: str
    seed: int
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored in artifacts."""
        return {"name": self.name, "seed": self.seed, "settings": self.settings}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizerRun:
        """Inverse of to_dict."""
        return cls(name=data["name"], seed=data["seed"], settings=data["settings"])


@dataclass(frozen=True)
class Lineage:
    """Where a candidate came from: promptc, config, splits, metric, optimizer, trials and usage."""

    promptc_version: str
    config_sha256: str
    splits: dict[str, str]  # split name -> content hash
    metric: str
    optimizer: OptimizerRun
    trials: list[dict[str, Any]]  # Trial.to_dict() of every trial, in order
    lm_requests: int  # search and holdout together
    tokens: int
    search: dict[str, Any] | None = None  # what the optimizer logged about its search
    stopped_by_budget: bool | None = None
    search_requests: int | None = None
    # Kept apart so a report can price them (cached calls count too: the same on every run).
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # What hosted providers reported serving (model id, system fingerprint), checked on fresh replies.
    observed_models: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored in artifacts."""
        optional = {
            "search": self.search,
            "stopped_by_budget": self.stopped_by_budget,
            "search_requests": self.search_requests,
            "lm_requests": self.lm_requests,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "observed_models": self.observed_models or None,
        }
        return {
            "promptc_version": self.promptc_version,
            "config_sha256": self.config_sha256,
            "splits": self.splits,
            "metric": self.metric,
            "optimizer": self.optimizer.to_dict(),
            "trials": self.trials,
            **{k: v for k, v in optional.items() if v is not None},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        """Inverse of to_dict."""
        return cls(
            promptc_version=data["promptc_version"],
            config_sha256=data["config_sha256"],
            splits=data["splits"],
            metric=data["metric"],
            optimizer=OptimizerRun.from_dict(data["optimizer"]),
            trials=data["trials"],
            lm_requests=data["lm_requests"],
            tokens=data["tokens"],
            search=data.get("search"),
            stopped_by_budget=data.get("stopped_by_budget"),
            search_requests=data.get("search_requests"),
            prompt_tokens=data.get("prompt_tokens"),
            completion_tokens=data.get("completion_tokens"),
            observed_models=data.get("observed_models", []),
        )


@dataclass(frozen=True)
class RecordsFile:
    """Where a format 2 artifact keeps one evaluation's per-example records: a sidecar file."""

    file: str
    sha256: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored in artifacts."""
        return {"file": self.file, "sha256": self.sha256, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordsFile:
        """Inverse of to_dict."""
        return cls(file=data["file"], sha256=data["sha256"], count=data["count"])


@dataclass(frozen=True)
class StoredRun:
    """One holdout evaluation (the baseline's or the candidate's): per-slice summaries and its records.

    records is the sidecar file (format 2), the records themselves (format 1), or None while
    content is built, before the store writes the sidecar.
    """

    summaries: dict[str, Summary]
    records: RecordsFile | list[dict[str, Any]] | None = None

    @property
    def overall(self) -> Summary:
        """The summary over every example."""
        return self.summaries[OVERALL]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored in artifacts."""
        out: dict[str, Any] = {"summaries": {k: v.to_dict() for k, v in self.summaries.items()}}
        if isinstance(self.records, RecordsFile):
            out["records"] = self.records.to_dict()
        elif self.records is not None:
            out["records"] = self.records
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredRun:
        """Inverse of to_dict."""
        stored = data.get("records")
        return cls(
            summaries={k: Summary.from_dict(v) for k, v in data["summaries"].items()},
            records=RecordsFile.from_dict(stored) if isinstance(stored, dict) else stored,
        )


@dataclass(frozen=True)
class StoredEvaluation:
    """The holdout evaluations an artifact was compiled with: the baseline's and the candidate's."""

    split: str
    metric: str
    baseline: StoredRun
    candidate: StoredRun
    scoring: Scoring | None = None  # None: written before promptc recorded it

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored in artifacts."""
        out: dict[str, Any] = {
            "split": self.split,
            "metric": self.metric,
            "baseline": self.baseline.to_dict(),
            "candidate": self.candidate.to_dict(),
        }
        if self.scoring is not None:
            out["scoring"] = self.scoring.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredEvaluation:
        """Inverse of to_dict."""
        return cls(
            split=data["split"],
            metric=data["metric"],
            baseline=StoredRun.from_dict(data["baseline"]),
            candidate=StoredRun.from_dict(data["candidate"]),
            scoring=Scoring.from_dict(data["scoring"]) if "scoring" in data else None,
        )


@dataclass(frozen=True)
class ArtifactContent:
    """Everything an artifact holds: program, target, candidate, lineage and holdout evaluation."""

    program: Program
    target: ArtifactTarget
    candidate: Candidate
    lineage: Lineage
    evaluation: StoredEvaluation
    format: int = FORMAT

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the JSON an artifact's id is the hash of."""
        return {
            "format": self.format,
            "program": self.program.to_dict(),
            "target": self.target.to_dict(),
            "candidate": self.candidate.to_dict(),
            "lineage": self.lineage.to_dict(),
            "evaluation": self.evaluation.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactContent:
        """Inverse of to_dict."""
        return cls(
            program=Program.from_dict(data["program"]),
            target=ArtifactTarget.from_dict(data["target"]),
            candidate=Candidate.from_dict(data["candidate"]),
            lineage=Lineage.from_dict(data["lineage"]),
            evaluation=StoredEvaluation.from_dict(data["evaluation"]),
            format=data["format"],
        )
