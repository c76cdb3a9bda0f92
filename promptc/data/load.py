"""Dataset loading (JSONL, JSON, CSV and TSV by the standard library; Parquet by pandas) and checks."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import math
import numbers
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.config.load import DataSpec
from promptc.errors import DataError
from promptc.fields import kind_of
from promptc.prompting.program import Field, Signature
from promptc.results import reserved_slice

SPLITS = ("train", "val", "test")


# The gates and reports show the whole test split as a row named "overall" (keyed "(overall)"):
# a slice may not take either name, or it would be judged or shown as the overall row.
@dataclass(frozen=True)
class Example:
    """One dataset record: id, input values, gold output values, slice label, origin."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    slice: str | None = None
    source: str = ""

    def canonical(self) -> dict[str, Any]:
        """The content that identifies this example (origin excluded)."""
        return {"id": self.id, "inputs": self.inputs, "outputs": self.outputs, "slice": self.slice}


@dataclass(frozen=True)
class Splits:
    """The train, validation and test examples."""

    train: tuple[Example, ...]
    val: tuple[Example, ...]
    test: tuple[Example, ...]

    def items(self) -> list[tuple[str, tuple[Example, ...]]]:
        """(name, examples) for each split, in order."""
        return [("train", self.train), ("val", self.val), ("test", self.test)]

    def hashes(self) -> dict[str, str]:
        """A content hash per split, recorded in artifact lineage."""
        return {name: hash_examples(examples) for name, examples in self.items()}


def hash_examples(examples: tuple[Example, ...] | list[Example]) -> str:
    """A stable content hash of a list of examples."""
    blob = json.dumps([e.canonical() for e in examples], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")
FIX_PATH = "fix the path under data: in the config"


def _check_data_path(path: Path) -> None:
    """Refuse a data path that is missing, unreadable, or not a regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found", fix=FIX_PATH) from None
    except OSError as exc:
        reason = {
            errno.ELOOP: "a symlink loop",
            errno.ENAMETOOLONG: "a path too long for the file system",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise DataError(f"{path}: cannot open the data file ({reason})", fix=FIX_PATH) from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a directory, not a data file", fix=f"{FIX_PATH}: name one file")
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: is not a regular file", fix=FIX_PATH)
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {path.suffix.lower()!r}",
            fix="use .jsonl, .json, .csv, .tsv or .parquet",
        )


@dataclass(frozen=True)
class Table:
    """Rows read from one data file: column names in file order, and one dict per row."""

    columns: list[str]
    rows: list[dict[str, Any]]

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> Table:
        """A table whose columns are every key any row has, in order of first appearance."""
        return cls(list(dict.fromkeys(str(k) for row in rows for k in row)), rows)


def _read_jsonl(path: Path) -> Table:
    """One JSON object per line; a line that is not an object names its line number."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc})", fix="fix the line") from None
            if not isinstance(row, dict):
                raise DataError(
                    f"{path}:{number}: a JSON {type(row).__name__}, not an object",
                    fix='write one object per line, e.g. {"id": "1", ...}',
                )
            rows.append(row)
    return Table.of(rows)


def _read_json(path: Path) -> Table:
    """A JSON list of row objects, or the column layout {column: {row: value}} / {column: [values]}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        for number, row in enumerate(data, 1):
            if not isinstance(row, dict):
                raise DataError(
                    f"{path}: item {number} is a JSON {type(row).__name__}, not an object",
                    fix='write a list of objects, e.g. [{"id": "1", ...}]',
                )
        return Table.of(data)
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        index = list(dict.fromkeys(k for column in data.values() for k in column))
        return Table([str(c) for c in data], [{str(c): v.get(i) for c, v in data.items()} for i in index])
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise DataError(
                f"{path}: its columns have different lengths", fix="give every column one value per row"
            )
        rows = [dict(zip(map(str, data), values, strict=True)) for values in zip(*data.values(), strict=True)]
        return Table([str(c) for c in data], rows)
    raise DataError(
        f"{path}: a JSON {type(data).__name__} that is neither a list of row objects nor columns of values",
        fix='write a list of rows, e.g. [{"id": "1", ...}]',
    )


def _read_delimited(path: Path, delimiter: str) -> Table:
    """CSV or TSV with a header line; every value stays text (blank lines are skipped)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: no header line", fix="put the column names on the first line")
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise DataError(
                f"{path}: column(s) {', '.join(map(repr, dupes))} appear twice", fix="rename them"
            )
        rows = []
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: {len(fields)} field(s) where the header has {len(header)}",
                    fix="quote values that contain the delimiter, and give every row one value per column",
                )
            rows.append(dict(zip(header, fields, strict=True)))
    return Table(header, rows)


def _read_parquet(path: Path) -> Table:
    import pandas as pd  # only Parquet needs pandas (and pyarrow)

    frame = pd.read_parquet(path)
    return Table([str(c) for c in frame.columns], frame.to_dict(orient="records"))


def read_table(path: Path) -> Table:
    _check_data_path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            return _read_jsonl(path)
        if suffix == ".json":
            return _read_json(path)
        if suffix in (".csv", ".tsv"):
            return _read_delimited(path, "," if suffix == ".csv" else "\t")
        return _read_parquet(path)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
            fix="save the file as UTF-8",
        ) from None
    except ImportError as exc:
        raise DataError(
            f"{path}: cannot read {suffix} files: {exc}", fix="pip install pyarrow, or convert the file"
        ) from None
    except (ValueError, TypeError, NotImplementedError, OSError, csv.Error) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise DataError(
            f"{path}: cannot parse {suffix} file: {reason}", fix="check the file's format"
        ) from None


def _line_of(path: Path, index: int) -> int:
    """The 1-based line number of a row (CSV/TSV have a header line)."""
    return index + (2 if path.suffix.lower() in (".csv", ".tsv") else 1)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy's, from Parquet


def label_text(value: Any) -> str:
    """An id or slice label as text: text as it is, a whole number as its digits (5 and 5.0 are "5");
    raise ValueError for anything else (true, 1.5, a list), which has no one obvious text."""
    if isinstance(value, str):
        return value
    if _is_bool(value):
        raise ValueError(f"is a boolean ({str(value).lower()}), not text or a whole number")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return str(int(float(value)))
    if isinstance(value, numbers.Real):
        raise ValueError(f"is the number {value!r}, not text or a whole number")
    raise ValueError(f"is a {type(value).__name__} ({str(value)[:60]}), not text or a whole number")


def coerce_value(f: Field, value: Any, *, gold: bool = False) -> Any:
    """Convert a raw value to the field's type (its kind's coerce, or coerce_gold for a gold
    output, promptc.fields); raise ValueError with the reason."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError("is empty")
    kind = kind_of(f)
    return kind.coerce_gold(f, value) if gold else kind.coerce(f, value)


def load_table(table: Table, path: Path, spec: DataSpec, signature: Signature) -> list[Example]:
    columns = set(table.columns)
    needed = [spec.id_column] + [f.name for f in signature.inputs + signature.outputs]
    if spec.slice_column:
        needed.append(spec.slice_column)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(sorted(columns))})",
            fix="rename the columns, or change the signature / id_column / slice_column in the config",
        )
    examples: list[Example] = []
    for index, row in enumerate(table.rows):
        line = _line_of(path, index)
        raw_id = row.get(spec.id_column)
        if raw_id is None or str(raw_id).strip() == "" or (isinstance(raw_id, float) and math.isnan(raw_id)):
            raise DataError(f"{path}:{line}: empty {spec.id_column!r}", fix="give every row a unique id")
        example_id = _label(raw_id, f"{path}:{line}: id column {spec.id_column!r}")
        values: dict[str, dict[str, Any]] = {"inputs": {}, "outputs": {}}
        for kind, fields in (("inputs", signature.inputs), ("outputs", signature.outputs)):
            for f in fields:
                try:
                    values[kind][f.name] = coerce_value(f, row.get(f.name), gold=kind == "outputs")
                except ValueError as exc:
                    raise DataError(
                        f"{path}:{line} (id {example_id}): column {f.name!r} {exc}",
                        fix=f"fix the value, or the type of {f.name!r} in the config's signature",
                    ) from None
        where = f"{path}:{line} (id {example_id})"
        slice_value = _slice(row.get(spec.slice_column or ""), spec, where)
        examples.append(
            Example(
                id=example_id,
                inputs=values["inputs"],
                outputs=values["outputs"],
                slice=slice_value,
                source=f"{path.name}:{line}",
            )
        )
    return examples


def _label(value: Any, where: str) -> str:
    try:
        return label_text(value)
    except ValueError as exc:
        raise DataError(f"{where} {exc}", fix='write it as text in the file, e.g. "5"') from None


def _slice(value: Any, spec: DataSpec, where: str) -> str | None:
    """The row's slice label, or None without a slice column; empty or reserved labels are refused."""
    if not spec.slice_column:
        return None
    column = f"slice column {spec.slice_column!r}"
    if value is None or str(value).strip() == "" or (isinstance(value, float) and math.isnan(value)):
        raise DataError(f"{where}: empty {column}", fix="give every row a slice label")
    label = _label(value, f"{where}: {column}")
    if reserved_slice(label):
        raise DataError(
            f"{where}: {column} is {label!r}, a name reserved for the whole test split's row",
            fix=f"rename the slice (e.g. {label.strip('() ') + '_slice'!r}) in the data and in gates.slices",
        )
    return label


def _check_unique_ids(examples: list[Example], path: Path) -> None:
    seen: dict[str, Example] = {}
    for e in examples:
        if e.id in seen:
            raise DataError(
                f"{path}: id {e.id!r} appears twice ({seen[e.id].source} and {e.source})",
                fix="give every row a unique id",
            )
        seen[e.id] = e


def load_splits(spec: DataSpec, signature: Signature) -> Splits:
    """Load train/val/test examples and check them against the signature."""
    loaded: dict[str, list[Example]] = {}
    if spec.file is not None:
        table = read_table(spec.file)
        if spec.split_column not in table.columns:
            raise DataError(
                f"{spec.file}: missing split column {spec.split_column!r}",
                fix="add a column with train/val/test, or set data.split_column",
            )
        names = [str(row.get(spec.split_column)) for row in table.rows]
        bad = sorted(set(names) - set(SPLITS))
        if bad:
            raise DataError(
                f"{spec.file}: column {spec.split_column!r} has value(s) {', '.join(map(repr, bad))}",
                fix="use only train, val and test",
            )
        everything = load_table(table, spec.file, spec, signature)
        for name in SPLITS:
            loaded[name] = [e for e, n in zip(everything, names, strict=True) if n == name]
        _check_unique_ids(everything, spec.file)
    else:
        for name in SPLITS:
            path = getattr(spec, name)
            loaded[name] = load_table(read_table(path), path, spec, signature)
            _check_unique_ids(loaded[name], path)
    for name in SPLITS:
        if not loaded[name]:
            raise DataError(f"the {name} split is empty", fix=f"add examples to the {name} split")
    return Splits(train=tuple(loaded["train"]), val=tuple(loaded["val"]), test=tuple(loaded["test"]))
