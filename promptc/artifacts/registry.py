"""The registry: aliases per model revision with an append-only history of promotions and
rollbacks, in <root>/<program>/registry.json; and the view of it `list` and `history` show."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.artifacts.content import (
    ALIAS,
    ARTIFACT_ID,
    FORMAT,
    check_alias,
    check_component,
    real_dir,
    refuse_link,
    target_key,
)
from promptc.artifacts.store import Artifact, Store
from promptc.config.load import Config
from promptc.errors import ArtifactError, BadInput
from promptc.files import atomic_write

LATEST = "latest"  # the alias every compile moves to its new artifact


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Registry:
    """Aliases per model revision with an append-only history, in <root>/<program>/registry.json."""

    def __init__(self, root: Path, program: str) -> None:
        check_component(program, "program.name")
        self.root = root
        self.program = program
        self.path = root / program / "registry.json"

    def read(self) -> dict[str, Any]:
        """The registry's content (empty when none was written yet)."""
        refuse_link(self.path)
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
        _check_aliases(self.path, data)
        return data

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold an exclusive lock, yield the data to change, write it back atomically."""
        real_dir(self.root, self.program)
        fd = open_lock(self.path.with_suffix(".lock"))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self.read()
            yield data
            atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        finally:
            os.close(fd)  # closing releases the lock

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

    def set_alias(
        self,
        artifact: Artifact,
        alias: str,
        *,
        action: str = "promote",
        unless_moved: tuple[str, str | None] | None = None,
    ) -> str | None:
        """Point alias at the artifact, record it in the history; return the previous id.

        An alias already at the artifact is left as it is, with no history entry, so that a
        repeated promotion never hides the previous artifact from rollback. With unless_moved
        (an alias and the id it pointed at, None for none, when the change was decided), nothing
        changes and AliasMoved is raised if that alias points elsewhere by the time the lock is held.
        """
        check_alias(alias)
        with self._locked() as data:
            key = target_key(artifact.model, artifact.revision)
            if unless_moved is not None:
                watched, expected = unless_moved
                now = data["targets"].get(key, {}).get("aliases", {}).get(watched)
                if now != expected:
                    raise AliasMoved(watched, expected, now)
            entry = data["targets"].setdefault(key, {"aliases": {}, "history": []})
            previous: str | None = entry["aliases"].get(alias)
            if previous != artifact.id:
                entry["aliases"][alias] = artifact.id
                entry["history"].append(_event(action, alias, artifact.id, previous))
        return previous

    def rollback(self, model: str, revision: str, alias: str) -> tuple[str, str]:
        """Move alias back to the artifact it pointed at before its last promotion: (from, to).

        Refused, with the registry left as it is, when that artifact is no longer in the store
        (or no longer loads).
        """
        check_alias(alias)
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
            self._check_present(restored, f"rolling {alias!r} for {model}@{revision} back")
            entry["aliases"][alias] = restored
            entry["history"].append(_event("rollback", alias, restored, current))
        return current, restored

    def _check_present(self, artifact_id: str, doing: str) -> None:
        """Refuse (ArtifactError) when the store no longer holds an artifact the registry names."""
        try:
            Store(self.root).find(self.program, artifact_id)
        except BadInput:
            raise ArtifactError(
                f"{doing} would point it at artifact {artifact_id}, which is no longer under "
                f"{self.root / self.program}",
                fix=f"restore {artifact_id}.json and its records files from version control, or promote "
                "an artifact explicitly (promptc list shows those in the store)",
            ) from None


class AliasMoved(Exception):
    """An alias changed between deciding a promotion and taking the registry lock to make it."""

    def __init__(self, alias: str, expected: str | None, now: str | None) -> None:
        super().__init__(f"alias {alias!r} moved from {expected} to {now}")
        self.alias = alias
        self.now = now


def _check_aliases(path: Path, data: dict[str, Any]) -> None:
    """Refuse a registry whose aliases are not alias names pointing at artifact ids."""
    for key, entry in data.get("targets", {}).items():
        for alias, artifact_id in entry.get("aliases", {}).items():
            if not (
                ALIAS.fullmatch(alias) and isinstance(artifact_id, str) and ARTIFACT_ID.fullmatch(artifact_id)
            ):
                raise ArtifactError(
                    f"{path}: targets.{key}.aliases.{alias} -> {artifact_id!r}: not an artifact id",
                    fix=f"edit {path}: aliases are letters, digits and . _ - and point at 16-hex-digit "
                    "artifact ids; or restore it from version control",
                )


def open_lock(path: Path) -> int:
    """Open (or create) a lock file without truncating it and without following a link."""
    refuse_link(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        refuse_link(path)  # ELOOP: a link appeared after the check above
        raise ArtifactError(
            f"{path}: cannot open the registry lock ({exc.strerror})", fix=f"remove {path} and re-run"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ArtifactError(
            f"{path}: the registry lock is not a regular file", fix=f"remove {path} and re-run"
        )
    return fd


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
        # Registries written before repeated promotions became no-ops can hold the same artifact
        # twice in a row: one stack entry each, so rollback reaches the previous different one.
        if not stack or stack[-1] != event["artifact"]:
            stack.append(event["artifact"])
    return stack


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
