"""The columns of a data file: what each holds (labels, JSON objects, text) and the role it can play.

`promptc init` writes a config from these roles; `promptc split` uses the same input columns to
find near-duplicates, so the two commands read a file alike.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.data.load import Table
from promptc.errors import DataError
from promptc.prompting.program import Field, FieldType, Signature

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NAME = 64
MAX_LABELS = 30  # more distinct values than this is text, not a label set
MAX_LABEL_CHARS = 80
MAX_SLICES = 12
ID_COLUMN = "id"
SPLIT_COLUMN = "split"
# Column names that usually hold what a model should answer.
OUTPUT_NAMES = frozenset(
    {"label", "labels", "intent", "category", "class", "target", "output", "answer", "y"}
    | {"sentiment", "tag", "topic", "gold"}
)


@dataclass(frozen=True)
class Column:
    """One column: its kind (enum, json or str), its labels if an enum, and its value counts."""

    name: str
    kind: FieldType
    labels: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()  # rows per label, in label order
    empty: int = 0


@dataclass(frozen=True)
class Roles:
    """Which columns are the id, the inputs, the outputs and the slice; the rest are left out."""

    id_column: str
    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...]
    slice_column: str | None
    ignored: tuple[str, ...]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _is_object(value: Any) -> bool:
    if isinstance(value, dict | list):
        return True
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return isinstance(json.loads(value), dict | list)
        except ValueError:
            return False
    return False


def _column(table: Table, name: str) -> Column:
    values = [row.get(name) for row in table.rows]
    present = [v for v in values if not _blank(v)]
    empty = len(values) - len(present)
    if present and all(_is_object(v) for v in present):
        return Column(name, "json", empty=empty)
    counts = Counter(str(v).strip() for v in present)
    folded = {label.casefold() for label in counts}
    labelled = (
        not empty
        and 2 <= len(counts) <= MAX_LABELS
        and len(counts) * 2 <= len(values)
        and len(folded) == len(counts)  # answers are matched ignoring case
        and all(len(label) <= MAX_LABEL_CHARS and label.isprintable() for label in counts)
    )
    if not labelled:
        return Column(name, "str", empty=empty)
    labels = tuple(sorted(counts))
    return Column(name, "enum", labels, tuple(counts[label] for label in labels))


def profile(table: Table) -> dict[str, Column]:
    """Every column of the table, by name, in file order."""
    return {name: _column(table, name) for name in table.columns}


def check_field_name(name: str, path: Path) -> None:
    """Refuse a column that cannot be a field of the config (its name is the field's name)."""
    if not FIELD_NAME.fullmatch(name) or len(name) > MAX_NAME:
        shown = repr(name if len(name) <= MAX_NAME else name[:MAX_NAME] + "...")
        raise DataError(
            f"{path}: column {shown} cannot be an input or output: a field name is letters, digits "
            f"and _ (not starting with a digit), at most {MAX_NAME} characters",
            fix="rename the column in the data file, or choose other columns with --input / --output",
        )


def _named(names: list[str], columns: dict[str, Column], path: Path, reserved: set[str]) -> list[Column]:
    picked = []
    for name in names:
        if name not in columns:
            raise DataError(
                f"{path}: no column {name!r} (found: {', '.join(map(repr, columns))})",
                fix="name a column of the data file",
            )
        if name in reserved:
            raise DataError(
                f"{path}: column {name!r} is the id or split column, not an input or output",
                fix="choose other columns with --input / --output",
            )
        picked.append(columns[name])
    return picked


def _slice_for(columns: list[Column]) -> str | None:
    """The label column whose every value has the most rows (at least 10), if any fits."""
    fits = [c for c in columns if c.kind == "enum" and len(c.labels) <= MAX_SLICES and min(c.counts) >= 10]
    return max(fits, key=lambda c: min(c.counts)).name if fits else None


def _guess_outputs(free: list[Column]) -> list[Column]:
    named = [c for c in free if c.name.casefold() in OUTPUT_NAMES or c.kind == "json"]
    enums = [c for c in free if c.kind == "enum"]
    return named or enums[-1:]


def assign_roles(
    table: Table, path: Path, inputs: list[str] | None = None, outputs: list[str] | None = None
) -> Roles:
    """The id, input, output and slice columns: those named, the rest guessed from the values."""
    columns = profile(table)
    reserved = {ID_COLUMN, SPLIT_COLUMN}
    chosen_in = _named(inputs or [], columns, path, reserved)
    chosen_out = _named(outputs or [], columns, path, reserved)
    taken = {c.name for c in chosen_in + chosen_out}
    free = [c for name, c in columns.items() if name not in reserved | taken]
    if not chosen_out:
        chosen_out = _guess_outputs(free)
        if not chosen_out:
            raise DataError(
                f"{path}: cannot tell which column the model should answer (no label column found)",
                fix="name it with --output COLUMN",
            )
        free = [c for c in free if c not in chosen_out]
    slice_column = _slice_for(free)
    free = [c for c in free if c.name != slice_column]
    if not chosen_in:
        chosen_in = [c for c in free if c.kind != "enum"]
        if not chosen_in:
            raise DataError(
                f"{path}: no text column left for the model to read", fix="name it with --input COLUMN"
            )
    clash = {c.name for c in chosen_in} & {c.name for c in chosen_out}
    if clash:
        raise DataError(
            f"{path}: column {sorted(clash)[0]!r} is both an input and an output",
            fix="name each column once, with --input or --output",
        )
    for c in chosen_in + chosen_out:
        check_field_name(c.name, path)
    used = {c.name for c in chosen_in + chosen_out} | {slice_column} | reserved
    return Roles(
        id_column=ID_COLUMN,
        inputs=tuple(chosen_in),
        outputs=tuple(chosen_out),
        slice_column=slice_column,
        ignored=tuple(name for name in columns if name not in used),
    )


def field_of(column: Column) -> Field:
    """The signature field a column becomes."""
    return Field(name=column.name, type=column.kind, labels=column.labels)


def signature_of(roles: Roles) -> Signature:
    """The signature the roles describe (instructions left empty)."""
    return Signature(
        inputs=tuple(field_of(c) for c in roles.inputs), outputs=tuple(field_of(c) for c in roles.outputs)
    )
