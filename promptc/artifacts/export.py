"""Fine-tuning data: an artifact's teacher traces that pass the metric, as chat JSONL.

The compiled candidate is the teacher. It is run over the training split (and, when asked,
validation; never the test split, which must stay unseen by anything that is trained) with
the call cache, so traces the compile already made cost nothing. Each example whose
teacher prediction scores at least `min_score` on the metric becomes one line:

- `openai-chat-jsonl`: `{"messages": [system, user, assistant]}`, the format of OpenAI's
  (and most providers' and local trainers') chat fine-tuning: the system and user turns are
  the target's prompt with the compiled instructions and no demos (the fine-tuned model
  should not need them), the assistant turn is the teacher's answer in the reply format
  promptc parses;
- `jsonl`: `{"id", "split", "inputs", "outputs", "score", "messages"}` (plus `reasoning` for
  chain of thought and `feedback` when the metric gave some), for any other trainer.

The file is written atomically, and an existing one is replaced only with force.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.artifacts.resolve import check_program
from promptc.artifacts.store import Artifact
from promptc.commands.lifecycle import checked_splits, target_lm
from promptc.config.load import Config
from promptc.config.paths import check_output_file
from promptc.data.load import Example
from promptc.errors import BadInput, RevisionMismatch
from promptc.evaluation.evaluate import evaluate
from promptc.files import atomic_write
from promptc.metrics import load_metric
from promptc.prompting.adapter import assistant_message, render_messages
from promptc.prompting.program import Candidate, Demo, Program, baseline_candidate
from promptc.reports.progress import Reporter, Silent
from promptc.results import Record
from promptc.usage import Usage

FORMATS = ("openai-chat-jsonl", "jsonl")
SPLITS = {"train": ("train",), "val": ("val",), "train+val": ("train", "val")}


@dataclass(frozen=True)
class ExportOutcome:
    """What export wrote: where, how many lines, how many traces the metric turned away."""

    path: Path
    format: str
    splits: tuple[str, ...]
    written: int
    failed: int  # teacher traces below min_score, not exported
    usage: Usage


def check_format(fmt: str) -> None:
    """Refuse an unknown export format."""
    if fmt not in FORMATS:
        raise BadInput(f"--format: unknown format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")


def check_split(split: str) -> tuple[str, ...]:
    """The splits to export; the test split is refused."""
    if split == "test" or "test" in split.split("+"):
        raise BadInput(
            "--split test: the holdout split is never exported; a model trained on it would make "
            "every later evaluation on it meaningless",
            fix=f"export one of {', '.join(SPLITS)}",
        )
    if split not in SPLITS:
        raise BadInput(f"--split: unknown split {split!r}", fix=f"use one of {', '.join(SPLITS)}")
    return SPLITS[split]


def check_output(path: Path, force: bool) -> None:
    """Refuse an output path that is a link, FIFO or device, a folder, in a missing folder, or
    taken (without force)."""
    check_output_file("--out", path)
    if path.is_dir():
        raise BadInput(f"--out {path}: is a directory", fix="name a file inside it, e.g. traces.jsonl")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"--out {path}: the folder {parent} does not exist", fix=f"create {parent} first")
    if not os.access(parent, os.W_OK):
        raise BadInput(f"--out {path}: the folder {parent} is not writable", fix="choose a writable folder")
    if path.exists() and not force:
        raise BadInput(
            f"--out {path}: the file exists", fix="pass --force to replace it, or choose another path"
        )


def check_min_score(min_score: float) -> None:
    """Refuse a threshold that is not a score: NaN compares false with every score, so
    `score < nan` would let every trace through."""
    if not (math.isfinite(min_score) and 0.0 <= min_score <= 1.0):
        raise BadInput(
            f"--min-score {min_score}: not a score between 0 and 1",
            fix="pass a number from 0 to 1, e.g. --min-score 1 for traces the metric scores fully",
        )


def student_candidate(program: Program, teacher: Candidate) -> Candidate:
    """The prompt the fine-tuned model is trained on: the teacher's instructions, no demos."""
    instructions = teacher.members[0].instructions if teacher.members else teacher.instructions
    return dataclasses.replace(baseline_candidate(program), instructions=instructions)


def export_traces(
    config: Config,
    artifact: Artifact,
    out: Path,
    *,
    fmt: str,
    split: str = "train",
    force: bool = False,
    min_score: float = 1.0,
    reporter: Reporter | None = None,
) -> ExportOutcome:
    """Run the artifact's candidate over train (or val) and write the passing traces as JSONL."""
    check_format(fmt)
    splits = check_split(split)
    check_min_score(min_score)
    check_output(out, force)
    if artifact.model != config.target.model or artifact.revision != config.target.revision:
        raise RevisionMismatch(
            f"artifact {artifact.id} was compiled for {artifact.model}@{artifact.revision}, "
            f"but {config.path} targets {config.target.model}@{config.target.revision}",
            fix="export with the config the artifact was compiled from",
        )
    check_program(config, artifact)
    reporter = reporter or Silent()
    program = config.program
    teacher = artifact.typed.candidate
    student = student_candidate(program, teacher)
    metric = load_metric(config.metric, program.signature, config.path.resolve().parent)
    data = checked_splits(config)
    lm = target_lm(config)
    lines: list[str] = []
    failed = 0
    for name in splits:
        examples = data.train if name == "train" else data.val
        advance = reporter.stage(f"teacher traces on {name}", len(examples))
        ev = evaluate(program, teacher, examples, metric, lm, on_done=advance)
        for example, record in zip(examples, ev.records, strict=True):
            line = trace_line(program, student, fmt, name, example, record, min_score)
            if line is None:
                failed += 1
            else:
                lines.append(line)
    try:
        atomic_write(out, "".join(lines))
    except OSError as exc:
        raise BadInput(
            f"--out {out}: cannot write ({exc.strerror})", fix="pass a writable --out path"
        ) from None
    return ExportOutcome(out, fmt, splits, len(lines), failed, lm.usage)


def trace_line(
    program: Program,
    student: Candidate,
    fmt: str,
    split: str,
    example: Example,
    record: Record,
    min_score: float,
) -> str | None:
    """One teacher trace as a line in the export format (the student's prompt, the teacher's
    answer), or None when the teacher gave no answer or scored below min_score."""
    p = record.prediction
    if p.outputs is None or not record.score >= min_score:  # a NaN score never passes
        return None
    demo = Demo(inputs=dict(example.inputs), outputs=dict(p.outputs), reasoning=p.reasoning)
    messages: list[dict[str, Any]] = [dict(m) for m in render_messages(program, student, example.inputs)]
    messages.append({"role": "assistant", "content": assistant_message(program, demo)})
    row: dict[str, Any] = {"messages": messages}
    if fmt == "jsonl":
        row = {
            "id": example.id,
            "split": split,
            "inputs": example.inputs,
            "outputs": p.outputs,
            **({"reasoning": p.reasoning} if p.reasoning else {}),
            "score": record.score,
            **({"feedback": record.feedback} if record.feedback else {}),
            "messages": messages,
        }
    return json.dumps(row, ensure_ascii=False, sort_keys=fmt == "jsonl") + "\n"
