"""Artifacts (immutable, content-addressed JSON) and the registry of aliases per model revision."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gzip
import hashlib
import json
import os
import re
import secrets
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from promptc.errors import ArtifactError, BadInput
from promptc.evaluate import OVERALL

# Format 2 keeps each holdout evaluation's per-example records in a sidecar file next to the
# artifact; format 1 (still read) kept them inline.
FORMAT = 2
FORMATS = (1, 2)
EVALUATIONS = ("baseline", "candidate")
SIDECAR_SUFFIX = ".records.jsonl.gz"
SIDECAR_NAME = re.compile(r"[0-9a-f]{16}\.records\.jsonl\.gz")
SHA256 = re.compile(r"[0-9a-f]{64}")
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

    def records(self, which: str) -> Iterator[dict[str, Any]]:
        """The per-example records of a holdout evaluation ('baseline' or 'candidate'), in test order.

        Format 1 artifacts hold them inline; format 2 ones in a sidecar file, which is checked
        against the hash and count the artifact names before the first record is returned.
        """
        stored = self.content["evaluation"][which]["records"]
        if isinstance(stored, list):
            return iter(stored)
        return read_sidecar(self.path.parent / stored["file"], stored["sha256"], stored["count"], self.path)


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


class SidecarWriter:
    """Records streamed into a gzip sidecar, named by the sha256 of its uncompressed lines.

    The name and the hash do not depend on the zlib version (only the compressed bytes do);
    the gzip header carries no time and no file name, so one zlib writes the same bytes twice.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self._hash = hashlib.sha256()
        self._tmp = folder / f".records.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        self._raw: IO[bytes] = os.fdopen(os.open(self._tmp, flags, 0o666), "wb")
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=6, mtime=0)

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one record as a line of canonical JSON."""
        line = (canonical_json(record) + "\n").encode()
        self._hash.update(line)
        self._gzip.write(line)
        self.count += 1

    def finish(self) -> dict[str, Any]:
        """Close, move into place and return the reference the artifact stores."""
        self._gzip.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        digest = self._hash.hexdigest()
        name = f"{digest[:ID_LENGTH]}{SIDECAR_SUFFIX}"
        refuse_link(self.folder / name)
        os.replace(self._tmp, self.folder / name)
        return {"file": name, "sha256": digest, "count": self.count}

    def discard(self) -> None:
        """Remove the unfinished file."""
        with contextlib.suppress(OSError):
            self._gzip.close()
            self._raw.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)


def write_sidecar(folder: Path, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Stream records into a sidecar in folder (atomically); the reference the artifact stores."""
    writer = SidecarWriter(folder)
    try:
        for record in records:
            writer.add(record)
        return writer.finish()
    except BaseException:
        writer.discard()
        raise


def _sidecar_error(path: Path, artifact: Path, problem: str) -> ArtifactError:
    return ArtifactError(
        f"{path}: {problem} (the evaluation records of artifact {artifact.name})",
        fix=f"restore {path.name} next to {artifact.name} from version control (commit both), "
        "or re-run promptc compile",
    )


def _open_sidecar(path: Path, artifact: Path) -> IO[bytes]:
    """Open a sidecar for reading: a regular file, never through a link."""
    refuse = _sidecar_error(path, artifact, "is a symbolic link; promptc does not read records through links")
    if path.is_symlink():
        raise refuse
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _sidecar_error(path, artifact, "missing") from None
    except OSError as exc:
        if path.is_symlink():  # ELOOP: a link appeared after the check above
            raise refuse from None
        raise _sidecar_error(path, artifact, f"unreadable ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _sidecar_error(path, artifact, "is not a regular file")
    return os.fdopen(fd, "rb")


def _lines(fh: IO[bytes], path: Path, artifact: Path) -> Iterator[bytes]:
    """The uncompressed lines of a sidecar; a truncated or non-gzip file is refused."""
    fh.seek(0)
    try:
        with gzip.GzipFile(fileobj=fh, mode="rb") as unzipped:
            yield from unzipped
    except (EOFError, OSError, zlib.error) as exc:
        raise _sidecar_error(path, artifact, f"truncated or not gzip ({exc})") from None


def read_sidecar(path: Path, sha256: str, count: int, artifact: Path) -> Iterator[dict[str, Any]]:
    """A sidecar's records, after its whole content was checked against the hash and count given."""
    with _open_sidecar(path, artifact) as fh:
        digest, lines = hashlib.sha256(), 0
        for line in _lines(fh, path, artifact):
            digest.update(line)
            lines += 1
        if digest.hexdigest() != sha256:
            raise _sidecar_error(
                path,
                artifact,
                f"content does not match its hash (sha256 {digest.hexdigest()[:16]}...); "
                "the file was modified or truncated",
            )
        if lines != count:
            raise _sidecar_error(path, artifact, f"holds {lines} records, the artifact says {count}")
        for number, line in enumerate(_lines(fh, path, artifact), 1):
            record = _parse_record(line)
            if record is None:
                raise _sidecar_error(path, artifact, f"line {number} is not a record (id, slice, score)")
            yield record


def _parse_record(line: bytes) -> dict[str, Any] | None:
    """One sidecar line as a record, or None unless it has an id, a slice and a numeric score."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    ok = (
        isinstance(record, dict)
        and isinstance(record.get("id"), str)
        and isinstance(record.get("slice", None), str | None)
        and isinstance(record.get("score"), int | float)
        and not isinstance(record.get("score"), bool)
    )
    return record if ok else None


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

    def write(
        self, content: dict[str, Any], records: Mapping[str, Iterable[Mapping[str, Any]]] | None = None
    ) -> Artifact:
        """Store content under its id (an existing identical artifact is left as it is).

        records maps an evaluation name ('baseline', 'candidate') to its per-example records:
        each is streamed into a sidecar file first, and content["evaluation"][name]["records"]
        names it, so a crash never leaves an artifact pointing at a missing sidecar.
        """
        program = content["program"]
        target = content["target"]
        check_component(program["name"], "program.name")
        check_component(program["version"], "program.version")
        folder = real_dir(
            self.root, program["name"], program["version"], target_key(target["model"], target["revision"])
        )
        content = {"format": FORMAT, **content}
        if records:
            evaluation = dict(content["evaluation"])
            for which, rows in records.items():
                evaluation[which] = {**evaluation[which], "records": write_sidecar(folder, rows)}
            content["evaluation"] = evaluation
        artifact_id = content_id(content)
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
        # "*.json" never matches a sidecar (*.records.jsonl.gz); the id pattern keeps out temp files.
        matches = sorted((self.root / program).glob(f"*/*/{ref}*.json"))
        if not matches:
            raise BadInput(
                f"no artifact {ref!r} for program {program!r} under {self.root}",
                fix="run promptc compile first, or check the id / alias",
            )
        if len(matches) > 1:
            raise BadInput(f"artifact prefix {ref!r} is ambiguous", fix="give more characters of the id")
        return self._checked(self._placed(self._read(matches[0])))

    def list(self, program: str, model: str, revision: str) -> list[Artifact]:
        """Every artifact of a program for one model revision, oldest file first."""
        check_component(program, "program.name")
        key = target_key(model, revision)
        folder = self.root / program
        # Exact folder names, never a glob built from the model string.
        folders = [v / key for v in folder.iterdir() if (v / key).is_dir()] if folder.is_dir() else []
        paths = [p for f in folders for p in f.glob("*.json") if ARTIFACT_ID.fullmatch(p.stem)]
        ordered = sorted(paths, key=lambda p: (p.stat().st_mtime, p.name))
        return [self._checked(self._placed(self._read(p))) for p in ordered]

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
        """Read an artifact file and refuse it unless its content matches its id and its records are there."""
        return Store._checked(Store._read(path))

    @staticmethod
    def _checked(artifact: Artifact) -> Artifact:
        """Refuse an artifact whose evaluation records are not where its format puts them."""
        if isinstance(artifact.content.get("evaluation"), dict):
            for which in EVALUATIONS:
                _check_records(artifact.path, artifact.content, which)
        return artifact

    @staticmethod
    def _read(path: Path) -> Artifact:
        """Read an artifact file and refuse it unless its content still matches its id."""
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(
                f"{path}: unreadable artifact ({exc})", fix="re-run promptc compile"
            ) from None
        if not isinstance(content, dict) or content.get("format") not in FORMATS:
            raise ArtifactError(
                f"{path}: not a promptc artifact (format {' or '.join(map(str, FORMATS))})",
                fix="re-run promptc compile",
            )
        actual = content_id(content)
        if actual != path.stem:
            raise ArtifactError(
                f"{path}: content does not match its id (hash {actual}); the file was modified",
                fix="do not edit artifacts; restore the file or re-run promptc compile",
            )
        return Artifact(id=actual, content=content, path=path)


def _check_records(path: Path, content: dict[str, Any], which: str) -> None:
    """Refuse an artifact whose records of one evaluation are not where its format puts them.

    Only what is cheap is checked here (the reference, the count, the file's presence); the
    sidecar's content is checked against its hash when the records are read.
    """
    evaluation = content["evaluation"].get(which)
    if not isinstance(evaluation, dict):
        raise ArtifactError(f"{path}: evaluation.{which} is missing", fix="re-run promptc compile")
    stored = evaluation.get("records")
    if content["format"] == 1:
        if not isinstance(stored, list):
            raise ArtifactError(
                f"{path}: evaluation.{which}.records is not a list", fix="re-run promptc compile"
            )
        return
    ok = (
        isinstance(stored, dict)
        and isinstance(stored.get("file"), str)
        and SIDECAR_NAME.fullmatch(stored["file"]) is not None
        and isinstance(stored.get("sha256"), str)
        and SHA256.fullmatch(stored["sha256"]) is not None
        and stored["file"].startswith(stored["sha256"][:ID_LENGTH])
        and type(stored.get("count")) is int
    )
    if not ok:
        raise ArtifactError(
            f"{path}: evaluation.{which}.records does not name a records file (file, sha256, count)",
            fix="re-run promptc compile",
        )
    assert isinstance(stored, dict)
    summary = evaluation.get("summaries", {}).get(OVERALL, {})
    if stored["count"] != summary.get("n"):
        raise ArtifactError(
            f"{path}: evaluation.{which} counts {stored['count']} records but summarises {summary.get('n')}",
            fix="re-run promptc compile",
        )
    sidecar = path.parent / stored["file"]
    if sidecar.is_symlink():
        raise _sidecar_error(sidecar, path, "is a symbolic link; promptc does not read records through links")
    if not sidecar.exists():
        raise _sidecar_error(sidecar, path, "missing")
    if not sidecar.is_file():
        raise _sidecar_error(sidecar, path, "is not a regular file")


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
