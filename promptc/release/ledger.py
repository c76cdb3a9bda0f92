"""The holdout-reuse ledger: which distinct candidates have been judged on a test split.

Every time a candidate is judged on the test split (compile, eval, merge, promote, report), one
line is appended to <root>/<program>/holdout-ledger.jsonl, under the lock beside it, unless the
same candidate (by content digest) was already recorded for the same program version, target
and test split: re-judging an artifact is not a new look, and a fresh test split (another
content hash) starts its count at zero. The k-th distinct candidate on a holdout is look k.

Concurrency and crashes: the count is read and the line appended while an exclusive lock is
held, and the line is written in one write() and fsync'ed before the lock is released, so two
processes never get the same look number and a recorded look is never lost. A process killed
mid-write leaves at most a partial last line without its newline; readers ignore it and the
next writer cuts it off before appending, so it is never counted (its verdict was never shown:
the look is recorded before the gates are judged). Links are refused as in the registry.

The `gates.holdout_looks` policy spends the gates' one-sided error alpha = (1 - confidence) / 2
across looks, so that the chance any of K truly-equal candidates passes a gain gate stays
within alpha, whatever K (union bound: the looks' errors add up to at most alpha):

- `spending` (recommended): look k is judged at alpha_k = alpha * 6 / (pi^2 k^2). The alpha_k sum
  to alpha over all k, so no number of looks has to be declared in advance, and the first looks,
  which most holdouts get, keep most of the power (61%, 15%, 7% of alpha for looks 1-3).
- `bonferroni`: each of at most `max_looks` looks is judged at alpha / max_looks; a look beyond
  that is refused (the holdout is spent: draw a fresh test split). Even spending, at a declared K.
- `none`: every look at alpha (the count is still recorded and shown).

The bound assumes the candidates were built without the test split's per-example results, as
compile builds them (train and val only). Verdicts alone cannot break it: under the null every
verdict before a false pass was "fail", so the sequence of candidates up to the first false pass
is the one the team would have tried anyway.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptc.artifacts.content import real_dir, refuse_link, target_key
from promptc.artifacts.registry import open_lock
from promptc.artifacts.store import Artifact
from promptc.config.load import Config, Gates
from promptc.errors import ArtifactError
from promptc.prompting.program import Candidate
from promptc.release.gates import GateCheck, GateReport
from promptc.results import OVERALL

LEDGER = "holdout-ledger.jsonl"
POLICIES = ("none", "spending", "bonferroni")


@dataclass(frozen=True)
class HoldoutLooks:
    """A candidate's place among the distinct candidates judged on one test split, and its level."""

    look: int  # this candidate's number among the distinct candidates on this holdout (1-based)
    total: int  # distinct candidates judged on this holdout so far (this one included)
    policy: str
    confidence: float | None  # the two-sided level this look is judged at; None: the holdout is spent
    test_split: str

    @property
    def spent(self) -> bool:
        """True when the policy allows no more looks at this candidate's number."""
        return self.confidence is None

    def describe(self) -> str:
        """One line: how many candidates were judged on this holdout, and this look's level."""
        things = "candidate" if self.total == 1 else "candidates"
        text = f"holdout reuse: {self.total} distinct {things} judged on this test split; this is look "
        text += str(self.look)
        if self.policy == "none":
            return text + " (gates.holdout_looks: none, every look at the gates' confidence)"
        if self.confidence is None:
            spent = f", beyond the {self.policy} policy's {self.look - 1} looks: the holdout is spent"
            return text + spent + "; draw a fresh test split"
        return text + f", judged at {self.confidence * 100:.4g}% (gates.holdout_looks: {self.policy})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for reports."""
        return dict(self.__dict__)

    def gates(self, gates: Gates) -> Gates:
        """The gates as this look is judged: at its level under the policy."""
        return gates if self.confidence is None else replace(gates, confidence=self.confidence)

    def refuse(self, report: GateReport) -> GateReport:
        """The report, with a failing check when the policy allows no more looks at this holdout."""
        if not self.spent:
            return report
        spent = GateCheck(OVERALL, "holdout_looks", None, self.look, False, self.describe())
        return replace(report, missing=(*report.missing, spent))


def look_confidence(gates: Gates, look: int) -> float | None:
    """The two-sided level of the look-th distinct candidate's gates; None: the policy allows no more."""
    alpha = (1.0 - gates.confidence) / 2.0
    if gates.holdout_looks == "spending":
        alpha *= 6.0 / (math.pi**2 * look * look)
    elif gates.holdout_looks == "bonferroni":
        if look > gates.max_looks:
            return None
        alpha /= gates.max_looks
    return 1.0 - 2.0 * alpha


class Ledger:
    """The append-only look records of one program, in <root>/<program>/holdout-ledger.jsonl."""

    def __init__(self, root: Path, program: str) -> None:
        self.root = root
        self.program = program
        self.path = root / program / LEDGER

    def lines(self) -> list[dict[str, Any]]:
        """Every complete record, oldest first (a partial last line from a killed writer is skipped)."""
        refuse_link(self.path)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ArtifactError(f"{self.path}: unreadable ledger ({exc})", fix=_FIX) from None
        return [_parse(self.path, i, line) for i, line in enumerate(raw.split(b"\n")[:-1], 1) if line]

    def record(self, key: dict[str, str], candidate: str, extra: dict[str, Any]) -> tuple[int, int]:
        """Record candidate under key unless it is there; returns (its look number, the distinct count)."""
        real_dir(self.root, self.program)
        lock = open_lock(self.path.with_suffix(".lock"))
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seen = distinct(self.lines(), key)
            if candidate in seen:
                return seen.index(candidate) + 1, len(seen)
            self._append({**key, "candidate": candidate, **extra})
            return len(seen) + 1, len(seen) + 1
        finally:
            os.close(lock)  # closing releases the lock

    def _append(self, entry: dict[str, Any]) -> None:
        """Append one line in one write and fsync it, first cutting off a killed writer's partial line."""
        refuse_link(self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            size = os.fstat(fd).st_size
            if size:
                os.lseek(fd, max(0, size - 65536), os.SEEK_SET)
                tail = os.read(fd, 65536)
                if not tail.endswith(b"\n"):
                    os.ftruncate(fd, size - len(tail) + tail.rfind(b"\n") + 1)
            os.lseek(fd, 0, os.SEEK_END)
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


_FIX = "restore it from version control, or move it away to start counting looks again"


def _parse(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict) or not isinstance(entry.get("candidate"), str):
        raise ArtifactError(f"{path}: line {number} is not a ledger record", fix=_FIX)
    return entry


def distinct(entries: list[dict[str, Any]], key: dict[str, str]) -> list[str]:
    """The distinct candidates recorded under key, in the order of their first look."""
    seen: list[str] = []
    for entry in entries:
        if all(entry.get(k) == v for k, v in key.items()) and entry["candidate"] not in seen:
            seen.append(entry["candidate"])
    return seen


def _key(config: Config, test_split: str) -> dict[str, str]:
    return {
        "program_version": config.program.version,
        "target": target_key(config.target.model, config.target.revision),
        "test_split": test_split,
    }


def record_look(
    config: Config, candidate: Candidate, test_split: str, *, artifact: str | None, command: str
) -> HoldoutLooks:
    """Record that candidate is judged on the test split with this content hash; its look and level."""
    extra = {"artifact": artifact, "command": command, "time": dt.datetime.now(dt.UTC).isoformat()}
    look, total = Ledger(config.artifacts_dir, config.program.name).record(
        _key(config, test_split), candidate.digest(), extra
    )
    gates = config.gates
    return HoldoutLooks(look, total, gates.holdout_looks, look_confidence(gates, look), test_split)


def looks_so_far(config: Config, test_split: str) -> int:
    """How many distinct candidates have been judged on this test split (no record is written)."""
    ledger = Ledger(config.artifacts_dir, config.program.name)
    return len(distinct(ledger.lines(), _key(config, test_split)))


def stored_look(config: Config, artifact: Artifact) -> HoldoutLooks | None:
    """The artifact's look on its test split as the ledger recorded it, read without recording one;
    None when the ledger holds no look of it (an artifact copied in from elsewhere)."""
    test_split = artifact.typed.lineage.splits["test"]
    seen = distinct(Ledger(config.artifacts_dir, config.program.name).lines(), _key(config, test_split))
    digest = artifact.typed.candidate.digest()
    if digest not in seen:
        return None
    look = seen.index(digest) + 1
    gates = config.gates
    return HoldoutLooks(look, len(seen), gates.holdout_looks, look_confidence(gates, look), test_split)


def holdout_reuse_line(config: Config, artifact: Artifact) -> str:
    """What `report` says about the artifact's test split: how many distinct candidates were judged on it."""
    test_split = artifact.typed.lineage.splits["test"]
    ledger = Ledger(config.artifacts_dir, config.program.name)
    seen = distinct(ledger.lines(), _key(config, test_split))
    digest = artifact.typed.candidate.digest()
    where = f"; this artifact is look {seen.index(digest) + 1}" if digest in seen else ""
    return f"holdout reuse: {len(seen)} distinct candidate(s) judged on this artifact's test split{where}"
