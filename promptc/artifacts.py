"""Artifacts (immutable, content-addressed JSON) and the registry of aliases per model revision."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.errors import ArtifactError, BadInput

FORMAT = 1
ID_LENGTH = 16


def canonical_json(data: Any) -> str:
    """The one serialisation artifact ids are computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_id(content: dict[str, Any]) -> str:
    """An artifact id: the sha256 prefix of its canonical content."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()[:ID_LENGTH]


def target_key(model: str, revision: str) -> str:
    """The registry key and directory name of a model revision."""
    return f"{model.replace('/', '--')}@{revision}"


@dataclass(frozen=True)
class Artifact:
    """A stored artifact: its id, its content and where it lives."""

    id: str
    content: dict[str, Any]
    path: Path

    @property
    def program_name(self) -> str:
        """The program's name."""
        name: str = self.content["program"]["name"]
        return name

    @property
    def model(self) -> str:
        """The target model string."""
        model: str = self.content["target"]["model"]
        return model

    @property
    def revision(self) -> str:
        """The target model revision."""
        revision: str = self.content["target"]["revision"]
        return revision


def atomic_write(path: Path, text: str) -> None:
    """Write a file via a temporary file and rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Store:
    """Artifacts under <root>/<program>/<version>/<model>@<revision>/<id>.json."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, content: dict[str, Any]) -> Artifact:
        """Store content under its id (an existing identical artifact is left as it is)."""
        content = {"format": FORMAT, **content}
        artifact_id = content_id(content)
        program = content["program"]
        target = content["target"]
        path = (
            self.root
            / program["name"]
            / program["version"]
            / target_key(target["model"], target["revision"])
            / f"{artifact_id}.json"
        )
        if not path.exists():
            atomic_write(path, json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return Artifact(id=artifact_id, content=content, path=path)

    def find(self, program: str, ref: str) -> Artifact:
        """Load an artifact of a program by id (or unique id prefix), verifying its hash."""
        if len(ref) < 6:
            raise BadInput(
                f"artifact {ref!r}: give at least 6 characters of the id", fix="see promptc compile's output"
            )
        matches = sorted((self.root / program).glob(f"*/*/{ref}*.json"))
        if not matches:
            raise BadInput(
                f"no artifact {ref!r} for program {program!r} under {self.root}",
                fix="run promptc compile first, or check the id / alias",
            )
        if len(matches) > 1:
            raise BadInput(f"artifact prefix {ref!r} is ambiguous", fix="give more characters of the id")
        return self.load(matches[0])

    def list(self, program: str, model: str, revision: str) -> list[Artifact]:
        """Every artifact of a program for one model revision, oldest file first."""
        paths = (self.root / program).glob(f"*/{target_key(model, revision)}/*.json")
        return [self.load(p) for p in sorted(paths, key=lambda p: (p.stat().st_mtime, p.name))]

    @staticmethod
    def load(path: Path) -> Artifact:
        """Read an artifact file and refuse it unless its content still matches its id."""
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(
                f"{path}: unreadable artifact ({exc})", fix="re-run promptc compile"
            ) from None
        if not isinstance(content, dict) or content.get("format") != FORMAT:
            raise ArtifactError(
                f"{path}: not a promptc artifact (format {FORMAT})", fix="re-run promptc compile"
            )
        actual = content_id(content)
        if actual != path.stem:
            raise ArtifactError(
                f"{path}: content does not match its id (hash {actual}); the file was modified",
                fix="do not edit artifacts; restore the file or re-run promptc compile",
            )
        return Artifact(id=actual, content=content, path=path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Registry:
    """Aliases per model revision with an append-only history, in <root>/<program>/registry.json."""

    def __init__(self, root: Path, program: str) -> None:
        self.path = root / program / "registry.json"

    def read(self) -> dict[str, Any]:
        """The registry's content (empty when none was written yet)."""
        if not self.path.exists():
            return {"format": FORMAT, "targets": {}}
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(
                f"{self.path}: unreadable registry ({exc})", fix="restore it from version control"
            ) from None
        problem = registry_problem(data)
        if problem:
            raise ArtifactError(
                f"{self.path}: not a promptc registry: {problem}",
                fix="restore it from version control, or move it away to start an empty registry",
            )
        return data

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold an exclusive lock, yield the data to change, write it back atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self.read()
                yield data
                atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def aliases(self, model: str, revision: str) -> dict[str, str]:
        """alias -> artifact id for one model revision."""
        entry = self.read()["targets"].get(target_key(model, revision), {})
        aliases: dict[str, str] = dict(entry.get("aliases", {}))
        return aliases

    def history(self, model: str, revision: str) -> list[dict[str, Any]]:
        """Every alias change for one model revision, oldest first."""
        entry = self.read()["targets"].get(target_key(model, revision), {})
        history: list[dict[str, Any]] = list(entry.get("history", []))
        return history

    def set_alias(self, artifact: Artifact, alias: str, *, action: str = "promote") -> str | None:
        """Point alias at the artifact, record it in the history; return the previous id."""
        with self._locked() as data:
            entry = data["targets"].setdefault(
                target_key(artifact.model, artifact.revision), {"aliases": {}, "history": []}
            )
            previous: str | None = entry["aliases"].get(alias)
            entry["aliases"][alias] = artifact.id
            entry["history"].append(_event(action, alias, artifact.id, previous))
        return previous

    def rollback(self, model: str, revision: str, alias: str) -> tuple[str, str]:
        """Move alias back to the artifact it pointed at before its last promotion: (from, to)."""
        with self._locked() as data:
            entry = data["targets"].get(target_key(model, revision))
            stack = _alias_stack(entry["history"] if entry else [], alias)
            if len(stack) < 2:
                raise BadInput(
                    f"alias {alias!r} for {model}@{revision} has no earlier artifact to roll back to",
                    fix="see promptc history; promote an artifact explicitly instead",
                )
            assert entry is not None
            current, restored = stack[-1], stack[-2]
            entry["aliases"][alias] = restored
            entry["history"].append(_event("rollback", alias, restored, current))
        return current, restored


def registry_problem(data: Any) -> str | None:
    """What is wrong with the structure of a registry's content, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
        return 'expected an object with "targets": {...}'
    for key, entry in data["targets"].items():
        if not isinstance(entry, dict):
            return f"targets.{key} is not an object"
        aliases, history = entry.get("aliases", {}), entry.get("history", [])
        if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
            return f"targets.{key}.aliases is not an object of artifact ids"
        if not isinstance(history, list):
            return f"targets.{key}.history is not a list"
        for i, event in enumerate(history):
            fields = ("time", "action", "alias", "artifact")
            if not isinstance(event, dict) or not all(isinstance(event.get(f), str) for f in fields):
                return f"targets.{key}.history[{i}] is not an event ({', '.join(fields)})"
    return None


def _event(action: str, alias: str, artifact_id: str, previous: str | None) -> dict[str, Any]:
    return {"time": _now(), "action": action, "alias": alias, "artifact": artifact_id, "previous": previous}


def _alias_stack(history: list[dict[str, Any]], alias: str) -> list[str]:
    """Replay an alias's history: promotions push, rollbacks pop; the top is the current artifact."""
    stack: list[str] = []
    for event in history:
        if event["alias"] != alias:
            continue
        if event["action"] == "rollback":
            stack.pop()
        else:
            stack.append(event["artifact"])
    return stack
