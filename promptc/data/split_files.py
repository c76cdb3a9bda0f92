"""`promptc split`: read data files (or a config's splits), split or repair them, write train/val/test.

The three files are written next to each other in one folder, each to a temporary file first and
renamed into place only once all three are complete, so an error never leaves half a split behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptc.config.load import load_configs
from promptc.data.columns import ID_COLUMN, assign_roles, field_of, profile
from promptc.data.leakage import DEFAULT_THRESHOLD
from promptc.data.load import SPLITS, Example, Table, coerce_value, load_splits, read_table
from promptc.data.split import Clusters, Move, assign_clusters, check_ratios, cluster_rows, repair_assignment
from promptc.errors import BadInput, DataError
from promptc.reports.progress import Reporter, Silent


@dataclass(frozen=True)
class SplitOutcome:
    """What split wrote: files and sizes, the clusters it kept together, and any rows it moved."""

    files: dict[str, Path]
    sizes: dict[str, int]
    rows: int
    merged_rows: int
    merged_clusters: int
    largest: int
    largest_ids: tuple[str, ...]
    inputs: tuple[str, ...]
    added_ids: bool = False
    moves: tuple[Move, ...] = ()
    strata: dict[str, dict[str, int]] = field(default_factory=dict)


def output_suffix(sources: Sequence[Path]) -> str:
    """CSV and TSV stay as they are; every other format is written as JSON Lines."""
    suffixes = {p.suffix.lower() for p in sources}
    return suffixes.pop() if len(suffixes) == 1 and suffixes <= {".csv", ".tsv"} else ".jsonl"


def output_files(out: Path, suffix: str) -> dict[str, Path]:
    """Where the train, val and test files go."""
    return {name: out / f"{name}{suffix}" for name in SPLITS}


def _refuse_existing(files: dict[str, Path], force: bool) -> None:
    if out := next((p.parent for p in files.values() if p.parent.exists() and not p.parent.is_dir()), None):
        raise BadInput(f"{out}: is a file, not a folder", fix="pass a folder with --out")
    existing = [p for p in files.values() if p.exists()]
    if odd := next((p for p in existing if not p.is_file()), None):
        raise BadInput(f"{odd}: is not a regular file", fix="remove it, or pass another folder with --out")
    if existing and not force:
        raise BadInput(
            f"{existing[0]}: already exists", fix="pass --force to replace it, or another folder with --out"
        )


def _json_value(value: Any) -> Any:
    """Plain JSON for the values pandas gives Parquet rows (numpy scalars, timestamps)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def _write_rows(handle: Any, rows: list[dict[str, Any]], columns: list[str], suffix: str) -> None:
    if suffix == ".jsonl":
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=_json_value) + "\n")
        return
    writer = csv.writer(handle, delimiter="," if suffix == ".csv" else "\t", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        values = (row.get(c) for c in columns)
        writer.writerow(
            "" if v is None else json.dumps(v) if isinstance(v, dict | list) else str(v) for v in values
        )


def write_splits(files: dict[str, Path], rows: dict[str, list[dict[str, Any]]], columns: list[str]) -> None:
    """Write each split's rows to a temporary file beside its target, then rename all three into place."""
    temps: list[Path] = []
    try:
        for name, path in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name_of_temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps.append(Path(name_of_temp))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                _write_rows(handle, rows[name], columns, path.suffix)
        for written, path in zip(temps, files.values(), strict=True):
            os.replace(written, path)
    except OSError as exc:
        raise BadInput(
            f"{exc.filename or files['train'].parent}: cannot write the splits ({exc.strerror or exc})",
            fix="pass a writable folder with --out",
        ) from None
    finally:
        for temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def _refuse_duplicate_ids(examples: Sequence[Example]) -> None:
    seen: dict[str, Example] = {}
    for e in examples:
        key = e.id.strip()
        if key in seen:
            raise DataError(
                f"id {e.id!r} appears twice ({seen[key].source} and {e.source})",
                fix="give every row a unique id",
            )
        seen[key] = e


def _column_values(rows: Sequence[dict[str, Any]], column: str | None, where: str) -> list[str] | None:
    if column is None:
        return None
    if rows and all(column not in row for row in rows):
        raise DataError(f"{where}: no column {column!r}", fix="name a column of the data file")
    return ["" if row.get(column) is None else str(row.get(column)).strip() for row in rows]


def _outcome(
    files: dict[str, Path],
    examples: Sequence[Example],
    clusters: Clusters,
    split_of: Sequence[int],
    strata: Sequence[str] | None,
) -> dict[str, Any]:
    """The counts every outcome reports, as SplitOutcome keyword arguments."""
    by_label: dict[str, dict[str, int]] = {}
    for row, s in enumerate(split_of):
        if strata is not None:
            by_label.setdefault(strata[row], dict.fromkeys(SPLITS, 0))[SPLITS[s]] += 1
    return {
        "files": files,
        "sizes": {name: split_of.count(s) for s, name in enumerate(SPLITS)},
        "rows": len(examples),
        "merged_rows": clusters.merged_rows,
        "merged_clusters": clusters.merged_clusters,
        "largest": len(clusters.largest),
        "largest_ids": tuple(examples[row].id for row in clusters.largest[:5]),
        "inputs": tuple(sorted(examples[0].inputs)) if examples else (),
        "strata": dict(sorted(by_label.items())),
    }


def _examples(table: Table, where: str, inputs: list[str] | None, origins: list[str]) -> list[Example]:
    """Examples with the input columns converted as a config made by `promptc init` would."""
    roles_path = Path(where)
    try:
        columns = profile(table)
        names = inputs or [c.name for c in assign_roles(table, roles_path).inputs]
    except DataError as exc:
        raise DataError(
            f"{exc.message}; split needs the input columns", fix="name them with --input"
        ) from None
    fields = []
    for name in names:
        if name not in columns or name == ID_COLUMN:
            raise DataError(f"{where}: no input column {name!r}", fix="name a column of the data file")
        fields.append(field_of(columns[name]))
    examples = []
    for row, origin in zip(table.rows, origins, strict=True):
        if row.get(ID_COLUMN) is None or str(row[ID_COLUMN]).strip() == "":
            raise DataError(f"{origin}: empty {ID_COLUMN!r}", fix="give every row a unique id")
        values = {}
        for f in fields:
            try:
                values[f.name] = coerce_value(f, row.get(f.name))
            except ValueError as exc:
                raise DataError(f"{origin}: column {f.name!r} {exc}", fix="fix the value") from None
        examples.append(Example(id=str(row[ID_COLUMN]), inputs=values, outputs={}, source=origin))
    return examples


def split_data(
    sources: Sequence[Path],
    out: Path,
    *,
    ratios: Sequence[float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    group_by: str | None = None,
    stratify: str | None = None,
    inputs: list[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    force: bool = False,
    reporter: Reporter | None = None,
) -> SplitOutcome:
    """Pool the rows of the data files and write train/val/test that pass `promptc check`."""
    shares = check_ratios(ratios)
    files = output_files(out, output_suffix(sources))
    _refuse_existing(files, force)
    tables = [read_table(path) for path in sources]
    rows = [dict(row) for table in tables for row in table.rows]
    origins = [
        f"{path}:{n}"
        for path, table in zip(sources, tables, strict=True)
        for n in range(1, len(table.rows) + 1)
    ]
    columns = list(dict.fromkeys(c for table in tables for c in table.columns))
    added_ids = ID_COLUMN not in columns
    if added_ids:
        columns.insert(0, ID_COLUMN)
        for number, row in enumerate(rows, 1):
            row[ID_COLUMN] = str(number)
    where = ", ".join(map(str, sources))
    examples = _examples(Table(columns, rows), where, inputs, origins)
    _refuse_duplicate_ids(examples)
    groups = _column_values(rows, group_by, where)
    strata = _column_values(rows, stratify, where)
    stage = (reporter or Silent()).stage("clustering near-duplicates", 1)
    clusters = cluster_rows(examples, threshold, groups)
    stage()
    split_of = assign_clusters(clusters, strata or [""] * len(rows), shares, seed)
    write_splits(
        files,
        {name: [r for r, t in zip(rows, split_of, strict=True) if t == s] for s, name in enumerate(SPLITS)},
        columns,
    )
    return SplitOutcome(added_ids=added_ids, **_outcome(files, examples, clusters, split_of, strata))


def _raw_rows(config_path: Path) -> tuple[Any, dict[str, list[dict[str, Any]]], list[str], list[Path]]:
    """The config, and its splits' rows as read from the files (in the loader's order), columns, sources."""
    cfg = load_configs(config_path)[0]  # the splits are the same for every target
    spec = cfg.data
    if spec.file is not None:
        table = read_table(spec.file)
        by_split = {name: [r for r in table.rows if str(r.get(spec.split_column)) == name] for name in SPLITS}
        return cfg, by_split, table.columns, [spec.file]
    tables = {name: read_table(getattr(spec, name)) for name in SPLITS}
    columns = list(dict.fromkeys(c for t in tables.values() for c in t.columns))
    return cfg, {n: t.rows for n, t in tables.items()}, columns, [getattr(spec, n) for n in SPLITS]


def repair_splits(
    config_path: Path,
    out: Path,
    *,
    group_by: str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> SplitOutcome:
    """Keep every row of a config's splits in its split unless its cluster straddles splits; write them."""
    cfg, raw, columns, sources = _raw_rows(config_path)
    files = output_files(out, output_suffix(sources))
    _refuse_existing(files, force)
    splits = load_splits(cfg.data, cfg.program.signature)
    examples = [e for _, part in splits.items() for e in part]
    rows = [row for name in SPLITS for row in raw[name]]
    current = [s for s, (_, part) in enumerate(splits.items()) for _ in part]
    _refuse_duplicate_ids(examples)
    groups = _column_values(rows, group_by, str(config_path))
    stage = (reporter or Silent()).stage("clustering near-duplicates", 1)
    clusters = cluster_rows(examples, cfg.data.near_duplicate_threshold, groups)
    stage()
    split_of = repair_assignment(clusters, current)
    moves = tuple(
        Move(e.id, e.source, SPLITS[was], SPLITS[now])
        for e, was, now in zip(examples, current, split_of, strict=True)
        if was != now
    )
    if cfg.data.file is not None:
        rows = [{**row, cfg.data.split_column: SPLITS[s]} for row, s in zip(rows, split_of, strict=True)]
    by_name = {
        name: [r for r, t in zip(rows, split_of, strict=True) if t == s] for s, name in enumerate(SPLITS)
    }
    write_splits(files, by_name, columns)
    return SplitOutcome(moves=moves, **_outcome(files, examples, clusters, split_of, None))
