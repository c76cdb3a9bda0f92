"""Evaluation records in a gzip sidecar file next to an artifact (format 2): written streaming,
named by the sha256 of the uncompressed lines, and checked against that hash before a record
is read back."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import secrets
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from promptc.artifacts.content import ID_LENGTH, canonical_json, refuse_link
from promptc.errors import ArtifactError

SUFFIX = ".records.jsonl.gz"
NAME = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}\.records\.jsonl\.gz")
SHA256 = re.compile(r"[0-9a-f]{64}")


def is_reference(stored: Any) -> bool:
    """Whether an artifact's records entry names a sidecar: its file, the sha256 and the count."""
    return (
        isinstance(stored, dict)
        and isinstance(stored.get("file"), str)
        and NAME.fullmatch(stored["file"]) is not None
        and isinstance(stored.get("sha256"), str)
        and SHA256.fullmatch(stored["sha256"]) is not None
        and stored["file"].startswith(stored["sha256"][:ID_LENGTH])
        and type(stored.get("count")) is int
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
        name = f"{digest[:ID_LENGTH]}{SUFFIX}"
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


def sidecar_error(path: Path, artifact: Path, problem: str) -> ArtifactError:
    """The error for a sidecar that cannot be trusted, naming the artifact whose records it holds."""
    return ArtifactError(
        f"{path}: {problem} (the evaluation records of artifact {artifact.name})",
        fix=f"restore {path.name} next to {artifact.name} from version control (commit both), "
        "or re-run promptc compile",
    )


def _open_sidecar(path: Path, artifact: Path) -> IO[bytes]:
    """Open a sidecar for reading: a regular file, never through a link."""
    refuse = sidecar_error(path, artifact, "is a symbolic link; promptc does not read records through links")
    if path.is_symlink():
        raise refuse
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise sidecar_error(path, artifact, "missing") from None
    except OSError as exc:
        if path.is_symlink():  # ELOOP: a link appeared after the check above
            raise refuse from None
        raise sidecar_error(path, artifact, f"unreadable ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise sidecar_error(path, artifact, "is not a regular file")
    return os.fdopen(fd, "rb")


def _lines(fh: IO[bytes], path: Path, artifact: Path) -> Iterator[bytes]:
    """The uncompressed lines of a sidecar; a truncated or non-gzip file is refused."""
    fh.seek(0)
    try:
        with gzip.GzipFile(fileobj=fh, mode="rb") as unzipped:
            yield from unzipped
    except (EOFError, OSError, zlib.error) as exc:
        raise sidecar_error(path, artifact, f"truncated or not gzip ({exc})") from None


def read_sidecar(path: Path, sha256: str, count: int, artifact: Path) -> Iterator[dict[str, Any]]:
    """A sidecar's records, after its whole content was checked against the hash and count given."""
    with _open_sidecar(path, artifact) as fh:
        digest, lines = hashlib.sha256(), 0
        for line in _lines(fh, path, artifact):
            digest.update(line)
            lines += 1
        if digest.hexdigest() != sha256:
            raise sidecar_error(
                path,
                artifact,
                f"content does not match its hash (sha256 {digest.hexdigest()[:16]}...); "
                "the file was modified or truncated",
            )
        if lines != count:
            raise sidecar_error(path, artifact, f"holds {lines} records, the artifact says {count}")
        for number, line in enumerate(_lines(fh, path, artifact), 1):
            record = _parse_record(line)
            if record is None:
                raise sidecar_error(
                    path, artifact, f"line {number} is not a record (id, slice, score, field_scores)"
                )
            yield record


def _parse_record(line: bytes) -> dict[str, Any] | None:
    """One sidecar line as a record, or None unless it has an id, a slice and a numeric score (and
    numeric per-output scores, where it has them)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    ok = (
        isinstance(record, dict)
        and isinstance(record.get("id"), str)
        and isinstance(record.get("slice", None), str | None)
        and _is_number(record.get("score"))
        and _are_field_scores(record.get("field_scores"))
    )
    return record if ok else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _are_field_scores(value: Any) -> bool:
    """None (the metric scored the reply as a whole), or a number per output name."""
    return value is None or (
        isinstance(value, dict) and all(isinstance(k, str) and _is_number(v) for k, v in value.items())
    )
