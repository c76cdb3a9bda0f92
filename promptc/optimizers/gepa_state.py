"""gepa's records: the search state saved on disk, and the candidate pool with its Pareto frontier.

The saved state (`State`) holds, per candidate instruction and per example, the score,
answer and feedback, and every reflection reply; it is written atomically after each
evaluation, and `SavedSearch` scores and reflects through it, so an interrupted run resumes
where it stopped. The `Pool` holds the candidates accepted so far; its per-example Pareto
frontier (on the search half of val) is where parents are drawn from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptc.config.load import promptc_home
from promptc.data.load import Example
from promptc.files import atomic_write
from promptc.lm.model import LM
from promptc.optimizers.base import CompileInputs, Search, Trial, mean, seeded_rng
from promptc.optimizers.settings import GepaSettings
from promptc.prompting.program import Candidate, baseline_candidate

STATE_VERSION = 2
Rows = dict[str, dict[str, Any]]  # example id -> saved row: score, feedback, answer, requests, tokens


def identity(value: Any, depth: int = 6) -> Any:
    """What a value (a metric: a function, its closure, the settings it holds) computes, as plain data:
    plain values as they are; a function as its name, its source file's sha256 and its closure; an
    object as its type and attributes. Never a repr, which may hold a memory address."""
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if depth == 0:
        return type(value).__qualname__
    if isinstance(value, list | tuple | set | frozenset):
        items = [identity(v, depth - 1) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {str(k): identity(v, depth - 1) for k, v in value.items()}
    code = getattr(value, "__code__", None)
    if code is not None:
        try:
            source = hashlib.sha256(Path(code.co_filename).read_bytes()).hexdigest()
        except OSError:
            source = code.co_filename  # no file to read (an interactive definition): its name
        closure = [identity(c.cell_contents, depth - 1) for c in value.__closure__ or ()]
        return [value.__module__, value.__qualname__, source, closure]
    attributes = getattr(value, "__dict__", None)
    if attributes is None and dataclasses.is_dataclass(value):
        attributes = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return [type(value).__module__, type(value).__qualname__, identity(attributes or {}, depth - 1)]


def state_path(inputs: CompileInputs, s: GepaSettings) -> Path:
    """Where this search's state lives: named by every input that changes a score (program, target
    and how it answers, metric), the seed, settings and data."""
    target = inputs.lm.target
    key = {
        "program": inputs.program.to_dict(),
        "target": [target.model, target.revision, target.decoding, target.constrained, target.logprobs],
        "metric": identity(inputs.metric),
        "seed": inputs.seed,
        "settings": s.to_dict(),
        "confidence": inputs.selection_confidence,
        "data": [
            [[e.id, e.inputs, e.outputs] for e in inputs.train],
            [[e.id, e.inputs, e.outputs] for e in inputs.val],
        ],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    folder = (inputs.state_dir or promptc_home()) / "gepa"
    return folder / f"{inputs.program.name}-{inputs.program.version}-{digest}.json"


class State:
    """The saved search: per candidate instruction, per example, the score, answer and feedback."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": STATE_VERSION, "scores": {}, "replies": {}}
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = None  # a damaged state is started afresh; the call cache still holds the calls
            if isinstance(loaded, dict) and loaded.get("version") == STATE_VERSION:
                self.data = loaded

    def scores(self, instruction: str) -> dict[str, dict[str, Any]]:
        """example id -> {score, feedback, answer} for one instruction."""
        table: dict[str, dict[str, Any]] = self.data["scores"].setdefault(instruction, {})
        return table

    def reply(self, key: str) -> dict[str, Any] | None:
        """A saved reflection reply: text and tokens."""
        reply: dict[str, Any] | None = self.data["replies"].get(key)
        return reply

    def save_reply(self, key: str, reply: dict[str, Any]) -> None:
        """Keep a reflection reply, on disk at once."""
        self.data["replies"][key] = reply
        self.save()

    def save(self) -> None:
        """Write the state atomically."""
        atomic_write(self.path, json.dumps(self.data, sort_keys=True))


class SavedSearch:
    """Scoring and reflecting through the saved State: what an earlier run saved is not asked again."""

    def __init__(self, log: Search, path: Path, lm: LM) -> None:
        self.log, self.inputs, self.lm = log, log.inputs, lm
        self.state = State(path)
        self.baseline = baseline_candidate(self.inputs.program)
        self.counted: set[tuple[str, str]] = set()  # (instruction, example id) scored in this search
        self.replayed = 0  # of those, the ones read from the saved state of an earlier run

    def candidate(self, instruction: str) -> Candidate:
        """The configured program with another instruction."""
        return dataclasses.replace(self.baseline, instructions=instruction)

    def run(self, instruction: str, examples: Sequence[Example], stage: str, confirm: bool = False) -> Rows:
        """Scores of an instruction on examples; only those not saved yet are evaluated (then saved).

        Rows read from an earlier run's saved state are counted on the LM as cache hits, so the
        accounting is the same as an uninterrupted run's. confirm: examples may be held out
        (Search.evaluate), their scores recorded, not decided on.
        """
        table = self.state.scores(instruction)
        missing = [e for e in examples if e.id not in table]
        fresh = {(instruction, e.id) for e in examples} - self.counted
        self.counted |= fresh
        replayed = [table[i] for _, i in sorted(fresh) if i in table]
        if replayed:
            self.replayed += len(replayed)
            self.inputs.lm.count_replayed(
                sum(int(r["requests"]) for r in replayed),
                sum(int(r["prompt_tokens"]) for r in replayed),
                sum(int(r["completion_tokens"]) for r in replayed),
            )
        if missing:
            ev, requests = self.log.evaluate(self.candidate(instruction), missing, stage, confirm=confirm)
            for n, r in enumerate(ev.records):
                p = r.prediction
                table[r.id] = {
                    "score": r.score,
                    "feedback": r.feedback,
                    "answer": p.raw,
                    # the batch's requests, spread over its rows (one each for an instruction candidate)
                    "requests": requests // len(missing) + (1 if n < requests % len(missing) else 0),
                    "prompt_tokens": p.prompt_tokens,
                    "completion_tokens": p.completion_tokens,
                }
            self.state.save()
        return {e.id: table[e.id] for e in examples}

    def trial(
        self,
        name: str,
        instruction: str,
        examples: Sequence[Example],
        calls: int | None = None,
        confirm: bool = False,
    ) -> Trial:
        """Score an instruction on val examples and record the trial (calls: those it took)."""
        rows = self.run(instruction, examples, f"scoring {name} on val", confirm)
        scores = {i: float(r["score"]) for i, r in rows.items()}
        trial = Trial(
            name=name,
            candidate=self.candidate(instruction),
            val_score=mean(list(scores.values())),
            calls=len(examples) if calls is None else calls,
            n=len(examples),
            full=len(examples) == len(self.inputs.val),
            scores=scores,
        )
        return self.log.record(trial)

    def reflect(self, key: str, messages: list[dict[str, str]], sample: int) -> str:
        """The reflection model's reply (saved, so a resumed run does not ask again)."""
        saved = self.state.reply(key)
        if saved is not None:
            self.lm.count_replayed(1, int(saved["prompt_tokens"]), int(saved["completion_tokens"]))
            return str(saved["text"])
        reply = self.lm.complete(messages, sample=sample)
        self.state.save_reply(
            key,
            {
                "text": reply.text,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
            },
        )
        return reply.text


@dataclasses.dataclass
class Member:
    """A candidate in the pool: its instruction, lineage and search-half scores."""

    index: int
    instruction: str
    parents: tuple[int, ...]
    root: int  # the first rewrite of the configured program this one descends from (0: configured)
    trial: Trial | None = None


class Pool:
    """The candidates accepted so far (the configured program first) and the pairs already merged."""

    def __init__(self, seed: int, search_half: Sequence[Example]) -> None:
        self.seed = seed
        self.search_half = search_half
        self.members: list[Member] = []
        self.merged: set[tuple[int, int]] = set()  # pairs already merged, never drawn again

    def frontier(self) -> dict[int, int]:
        """Pool index -> search-half examples on which it scores best (ties: all the best)."""
        owned: dict[int, int] = {}
        for e in self.search_half:
            scored = [(m.trial.scores[e.id], m.index) for m in self.members if m.trial is not None]
            top = max(score for score, _ in scored)
            for score, index in scored:
                if score == top:
                    owned[index] = owned.get(index, 0) + 1
        return owned

    def sample_parent(self, round_: int) -> Member:
        """A frontier member, drawn with the seed, weighted by the examples it owns."""
        owned = sorted(self.frontier().items())
        rng = seeded_rng(self.seed, "gepa", "parent", round_)
        index = rng.choices([i for i, _ in owned], weights=[n for _, n in owned])[0]
        return self.members[index]

    def merge_pair(self, round_: int) -> tuple[Member, Member] | None:
        """Two frontier members of different lineages not merged before, drawn with the seed; None when
        there are none (the round then reflects on one parent)."""
        owned = sorted(self.frontier())
        members = self.members
        pairs = [
            (members[a], members[b])
            for a in owned
            for b in owned
            if a < b
            and (a, b) not in self.merged
            and members[a].root != members[b].root
            and members[a].root
            and members[b].root
        ]
        if not pairs:
            return None
        pair = seeded_rng(self.seed, "gepa", "merge", round_).choice(pairs)
        self.merged.add((pair[0].index, pair[1].index))
        return pair
