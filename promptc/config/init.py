"""`promptc init`: a commented config written from a data file's columns, then checked.

Every value that comes from the data (column names, labels, paths) is written by yaml.safe_dump,
so quotes, colons, newlines and the like are escaped, never pasted into YAML text; the comments are
fixed text. Column names that cannot be field names are refused by promptc.data.columns.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptc.config.load import load_configs
from promptc.data.columns import ID_COLUMN, SPLIT_COLUMN, Column, Roles, assign_roles
from promptc.data.leakage import SplitReport
from promptc.data.load import SPLITS, Table, load_table, read_table
from promptc.data.split_files import output_files, output_suffix
from promptc.errors import BadInput
from promptc.fields import default_metric

EMBEDDED_MODEL = "local/smollm2-135m-instruct"
EMBEDDED_REVISION = "b179c9523d0e"  # sha256 prefix of SmolLM2-135M-Instruct.Q4_1.gguf (configs/)
SLICE_MIN_N = 30


@dataclass(frozen=True)
class ConfigPlan:
    """What init will write: the data file, its rows, the columns' roles and where the splits are."""

    data: Path
    rows: int
    roles: Roles
    has_split_column: bool  # the file itself says train/val/test: data.file
    splits_dir: Path
    name: str


def _program_name(data: Path) -> str:
    stem = data.resolve().parent.name if data.stem.lower() in (*SPLITS, "dev", "data") else data.stem
    name = re.sub(r"[^a-z0-9_.-]+", "-", stem.lower()).lstrip("_.-")
    return name[:60] or "program"


def plan_config(
    data: Path,
    *,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    splits_dir: Path | None = None,
) -> ConfigPlan:
    """Read the data file and decide the inputs, outputs, slice column and data section."""
    table = read_table(data)
    roles = assign_roles(table, data, inputs, outputs)
    split_values = {str(row.get(SPLIT_COLUMN)) for row in table.rows}
    return ConfigPlan(
        data=data,
        rows=len(table.rows),
        roles=roles,
        has_split_column=SPLIT_COLUMN in table.columns and split_values == set(SPLITS),
        splits_dir=splits_dir or Path("splits"),
        name=_program_name(data),
    )


def _field(column: Column) -> dict[str, Any]:
    if column.kind == "enum":
        return {"type": "enum", "labels": list(column.labels)}
    return {"type": column.kind}


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive (Windows)
        return str(path.resolve())


def data_block(plan: ConfigPlan, config_path: Path) -> dict[str, Any]:
    """The data: section: the file with its split column, or the three files split writes."""
    base = config_path.parent
    if plan.has_split_column:
        block: dict[str, Any] = {"file": _relative(plan.data, base), "split_column": SPLIT_COLUMN}
    else:
        files = output_files(plan.splits_dir, output_suffix([plan.data]))
        block = {name: _relative(path, base) for name, path in files.items()}
    block["id_column"] = ID_COLUMN
    if plan.roles.slice_column:
        block["slice_column"] = plan.roles.slice_column
    return block


def config_sections(plan: ConfigPlan, config_path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(comment, section) pairs in file order."""
    roles = plan.roles
    labels_only = all(c.kind == "enum" for c in roles.outputs)
    names = {
        kind: ", ".join(c.name for c in cols) for kind, cols in (("in", roles.inputs), ("out", roles.outputs))
    }
    program = {
        "name": plan.name,
        "version": "0.1.0",
        "module": "predict",
        "instructions": f"Read the {names['in']} and answer with the {names['out']}.",
        "inputs": {c.name: _field(c) for c in roles.inputs},
        "outputs": {c.name: _field(c) for c in roles.outputs},
    }
    target = {"model": EMBEDDED_MODEL, "revision": EMBEDDED_REVISION, "temperature": 0}
    target |= {"max_tokens": 8 if labels_only else 128, "concurrency": 1}
    gates: dict[str, Any] = {"reference": "baseline", "mode": "confidence", "confidence": 0.95}
    gates["overall"] = {"min_gain": 0.0}
    if roles.slice_column:
        gates["default"] = {"max_drop": 0.05, "min_n": SLICE_MIN_N}
    return [
        (PROGRAM_NOTE, {"program": program}),
        (TARGET_NOTE, {"target": target}),
        (FILE_NOTE if plan.has_split_column else SPLITS_NOTE, {"data": data_block(plan, config_path)}),
        (METRIC_NOTE, {"metric": default_metric([(c.name, c.kind) for c in roles.outputs])}),
        (OPTIMIZER_NOTE, {"optimizer": {"name": "auto", "seed": 0}}),
        (GATES_NOTE + (SLICE_GATE_NOTE if roles.slice_column else ""), {"gates": gates}),
        ("# Compiled programs are stored here, beside the config.", {"artifacts": "artifacts"}),
    ]


HEADER = (
    "# Written by `promptc init` from a data file's columns: read it through and edit it.\n"
    "# Every key is explained in the README (A five-minute tour); promptc check validates it."
)
PROGRAM_NOTE = (
    "# The task: the columns the model reads (inputs) and answers (outputs). An enum lists every\n"
    "# label found in its column; json holds objects; str is free text. Say the task in your own\n"
    "# words under instructions: the optimizer starts from them."
)
TARGET_NOTE = (
    "# The embedded model (SmolLM2-135M-Instruct, run in-process by llama.cpp): no key, no cost.\n"
    "# Any litellm model string works here (README, Models), pinned to an exact revision."
)
SPLITS_NOTE = (
    "# The splits `promptc split` writes: near-duplicate inputs (the same test promptc check\n"
    "# runs) and rows of one group always land in one split. The slice column, when there is one,\n"
    "# is judged value by value by the gates."
)
FILE_NOTE = "# One file whose split column says train, val or test for every row."
METRIC_NOTE = (
    "# Each output type's own metric: label_accuracy for labels, token_f1 for text, json_f1 for\n"
    "# objects (key by key), one per field when there are several (README, Metrics)."
)
OPTIMIZER_NOTE = (
    "# auto: zero-shot, calibrated label decisions, a small demo search and an ensemble, each kept\n"
    "# only if better on val."
)
GATES_NOTE = (
    "# Release gates, judged at 95% confidence against the uncompiled program: the compiled one\n"
    "# must be better overall (the lower bound of the paired gain above 0)."
)
SLICE_GATE_NOTE = (
    f"\n# In every slice it may be no worse by more than 5 points, where the slice has {SLICE_MIN_N}\n"
    "# test examples or more."
)


def config_text(plan: ConfigPlan, config_path: Path) -> str:
    """The YAML text: fixed comments, and every section written by yaml.safe_dump."""
    parts = [HEADER]
    for comment, section in config_sections(plan, config_path):
        dumped = yaml.safe_dump(section, sort_keys=False, allow_unicode=True, width=100)
        parts.append(f"{comment}\n{dumped.rstrip()}")
    return "\n\n".join(parts) + "\n"


def write_config(plan: ConfigPlan, config_path: Path, *, force: bool = False) -> None:
    """Write the config, refusing to replace a file unless forced; never half-written."""
    if config_path.exists() and not force:
        raise BadInput(
            f"{config_path}: already exists", fix="pass --force to replace it, or another --config"
        )
    text = config_text(plan, config_path)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=config_path.parent, prefix=f".{config_path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, config_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


@dataclass(frozen=True)
class InitCheck:
    """The check of a written config: the split report, or (splits not written yet) rows read."""

    report: SplitReport | None
    rows_checked: int
    next_commands: tuple[str, ...]


def check_config(plan: ConfigPlan, config_path: Path) -> InitCheck:
    """`promptc check` on the written config; before the splits exist, every row against the signature."""
    from promptc.commands.lifecycle import check

    cfg = load_configs(config_path)[0]
    config = shlex.quote(str(config_path))
    spec = cfg.data
    paths = [spec.file] if spec.file is not None else [spec.train, spec.val, spec.test]
    if all(p is not None and p.exists() for p in paths):
        report = check(cfg)
        if report.ok:
            return InitCheck(report, sum(report.sizes.values()), (f"promptc compile {config} --dry-run",))
        fresh = (
            Path("splits")
            if plan.splits_dir.resolve() != Path("splits").resolve()
            else Path("splits-repaired")
        )
        repaired = shlex.quote(str(fresh))
        return InitCheck(
            report, sum(report.sizes.values()), (f"promptc split --from-config {config} --out {repaired}",)
        )
    table = read_table(plan.data)
    if ID_COLUMN not in table.columns:  # split numbers the rows
        table = Table(
            [ID_COLUMN, *table.columns], [{ID_COLUMN: str(n), **r} for n, r in enumerate(table.rows, 1)]
        )
    examples = load_table(table, plan.data, spec, cfg.program.signature)
    split = f"promptc split {shlex.quote(str(plan.data))} --out {shlex.quote(str(plan.splits_dir))}"
    split += "".join(f" --input {c.name}" for c in plan.roles.inputs)  # the inputs check compares
    enums = [c.name for c in plan.roles.outputs if c.kind == "enum"]
    if enums:
        split += f" --stratify {enums[0]}"
    return InitCheck(None, len(examples), (split, f"promptc check {config}"))
