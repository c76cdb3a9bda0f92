"""The artifact store: artifacts under <root>/<program>/<version>/<model>@<revision>/<id>.json,
written atomically under their id, and refused on load unless they still match it and their
records are where their format puts them; Artifact is what it returns."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from promptc.artifacts.content import (
    ARTIFACT_ID,
    EVALUATIONS,
    FORMAT,
    FORMATS,
    ID_LENGTH,
    MIN_PREFIX,
    ArtifactContent,
    check_component,
    content_id,
    is_id_prefix,
    real_dir,
    refuse_link,
    target_key,
)
from promptc.artifacts.sidecar import is_reference, read_sidecar, sidecar_error, write_sidecar
from promptc.errors import ArtifactError, BadInput
from promptc.files import atomic_write
from promptc.results import OVERALL


@dataclass(frozen=True)
class Artifact:
    """A stored artifact: its id, its content and where it lives.

    content is the JSON exactly as stored: what the id is the hash of. Code reads it through
    `typed` (ArtifactContent); the store files, places and checks an artifact by the few raw
    fields below before anything parses it.
    """

    id: str
    content: dict[str, Any]
    path: Path

    @cached_property
    def typed(self) -> ArtifactContent:
        """The content as typed records."""
        return ArtifactContent.from_dict(self.content)

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


class Store:
    """Artifacts under <root>/<program>/<version>/<model>@<revision>/<id>.json."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(
        self, content: dict[str, Any], records: Mapping[str, Iterable[Mapping[str, Any]]] | None = None
    ) -> Artifact:
        """Store content (ArtifactContent.to_dict()) under its id; an identical artifact is left as it is.

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
    if not is_reference(stored):
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
        raise sidecar_error(sidecar, path, "is a symbolic link; promptc does not read records through links")
    if not sidecar.exists():
        raise sidecar_error(sidecar, path, "missing")
    if not sidecar.is_file():
        raise sidecar_error(sidecar, path, "is not a regular file")
