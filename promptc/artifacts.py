"""Artifacts (immutable, content-addressed JSON) and the registry of aliases per model revision."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.errors import ArtifactError, BadInput

FORMAT = 1
ID_LENGTH = 16
MIN_PREFIX = 6
ARTIFACT_ID = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}")
ID_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},{ID_LENGTH}}}")
ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
# Program names and versions are folder names: one path component, never "." or "..".
COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def canonical_json(data: Any) -> str:
    """The one serialisation artifact ids are computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_id(content: dict[str, Any]) -> str:
    """An artifact id: the sha256 prefix of its canonical content."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()[:ID_LENGTH]


def check_target(model: str, revision: str, config: Path | None = None) -> None:
    """Refuse a model or revision that would not make one safe folder name under the artifacts root."""
    where = f"{config}: " if config else ""
    if not REVISION.fullmatch(revision):
        raise BadInput(
            f"{where}target.revision {revision!r} is not a revision id",
            fix="set target.revision to the provider's snapshot id (or the GGUF file's sha256 prefix): "
            "letters, digits and . _ : + -, starting with a letter or digit, at most 128 characters",
        )
    if not model or len(model) > 200 or any(ord(c) < 32 or c == "\\" for c in model):
        raise BadInput(
            f"{where}target.model {model!r} cannot name a folder under the artifacts root",
            fix="set target.model to a litellm model string without control characters or backslashes",
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
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL and O_NOFOLLOW: the temp file is always new, never a link; mode 0o666 lets the
    # umask decide who may read it, as for any file the user creates.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666)
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
        check_component(program["name"], "program.name")
        check_component(program["version"], "program.version")
        folder = real_dir(
            self.root, program["name"], program["version"], target_key(target["model"], target["revision"])
        )
        path = folder / f"{artifact_id}.json"
        refuse_link(path)
        if not path.exists():
            atomic_write(path, json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return Artifact(id=artifact_id, content=content, path=path)

    def find(self, program: str, ref: str) -> Artifact:
        """Load an artifact of a program by id (or unique id prefix), verifying its hash and its folder."""
        check_component(program, "program.name")
        if not is_id_prefix(ref):
            raise BadInput(
                f"artifact {ref!r}: not an artifact id (give {MIN_PREFIX} to {ID_LENGTH} hex digits of it)",
                fix="see promptc list CONFIG for ids and aliases",
            )
        # ref is hex only, so the pattern stays inside this program's own folder.
        matches = sorted((self.root / program).glob(f"*/*/{ref}*.json"))
        if not matches:
            raise BadInput(
                f"no artifact {ref!r} for program {program!r} under {self.root}",
                fix="run promptc compile first, or check the id / alias",
            )
        if len(matches) > 1:
            raise BadInput(f"artifact prefix {ref!r} is ambiguous", fix="give more characters of the id")
        return self._placed(self.load(matches[0]))

    def list(self, program: str, model: str, revision: str) -> list[Artifact]:
        """Every artifact of a program for one model revision, oldest file first."""
        check_component(program, "program.name")
        key = target_key(model, revision)
        folder = self.root / program
        # Exact folder names, never a glob built from the model string.
        folders = [v / key for v in folder.iterdir() if (v / key).is_dir()] if folder.is_dir() else []
        paths = [p for f in folders for p in f.glob("*.json")]
        return [self._placed(self.load(p)) for p in sorted(paths, key=lambda p: (p.stat().st_mtime, p.name))]

    def _placed(self, artifact: Artifact) -> Artifact:
        """Refuse an artifact stored outside the folder its own program, version and target name."""
        program = artifact.content["program"]
        try:
            key = target_key(artifact.model, artifact.revision)
        except BadInput:
            key = None
        place = (program["name"], program["version"], key, f"{artifact.id}.json")
        if artifact.path.relative_to(self.root).parts != place:
            raise ArtifactError(
                f"{artifact.path}: an artifact of {program['name']} {program['version']} for "
                f"{artifact.model}@{artifact.revision} stored in another program, version or target folder",
                fix=f"remove {artifact.path}; only promptc compile writes artifacts, each in its own folder",
            )
        return artifact

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
        fd = _open_lock(self.path.with_suffix(".lock"))
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

    def set_alias(self, artifact: Artifact, alias: str, *, action: str = "promote") -> str | None:
        """Point alias at the artifact, record it in the history; return the previous id.

        An alias already at the artifact is left as it is, with no history entry, so that a
        repeated promotion never hides the previous artifact from rollback.
        """
        check_alias(alias)
        with self._locked() as data:
            entry = data["targets"].setdefault(
                target_key(artifact.model, artifact.revision), {"aliases": {}, "history": []}
            )
            previous: str | None = entry["aliases"].get(alias)
            if previous != artifact.id:
                entry["aliases"][alias] = artifact.id
                entry["history"].append(_event(action, alias, artifact.id, previous))
        return previous

    def rollback(self, model: str, revision: str, alias: str) -> tuple[str, str]:
        """Move alias back to the artifact it pointed at before its last promotion: (from, to)."""
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
            entry["aliases"][alias] = restored
            entry["history"].append(_event("rollback", alias, restored, current))
        return current, restored


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


def _open_lock(path: Path) -> int:
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
