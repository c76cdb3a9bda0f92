"""Copy the public CR (customer reviews) splits into datasets/cr/ as JSONL, minus cross-split leaks.

Source: /work/shared/data/cr/{train,dev,test}.tsv (text<TAB>label, 1 = positive, 0 = negative),
copied from the public repository zhuobai/text_classification, commit 1407760, data/CR.

Run: python bench/dspy_prepare_cr.py [--source DIR]
Writes datasets/cr/{train,val,test}.jsonl with fields id, text, label (positive / negative), then
removes every row that promptc's split check flags as shared with a later split: a train row that
leaks into val or test, and a val row that leaks into test, so the test split stays whole.
Prints what it removed (paste it into datasets/cr/README.md). Deterministic: same input, same output.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from promptc.config.load import DataSpec
from promptc.data.leakage import check_splits
from promptc.data.load import load_splits
from promptc.prompting.program import Field, Signature

ROOT = Path(__file__).resolve().parent.parent
SPLIT_FILES = {"train": "train.tsv", "val": "dev.tsv", "test": "test.tsv"}
LABELS = {"1": "positive", "0": "negative"}
SIGNATURE = Signature(
    inputs=(Field("text"),), outputs=(Field("label", "enum", labels=("positive", "negative")),)
)


def read_tsv(path: Path, split: str) -> list[dict[str, str]]:
    """Rows of one TSV file as records with ids cr-<split>-<line>."""
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        text, label = line.rsplit("\t", 1)
        rows.append({"id": f"cr-{split}-{line_no:04d}", "text": text.strip(), "label": LABELS[label.strip()]})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path("/work/shared/data/cr"))
    parser.add_argument("--out", type=Path, default=ROOT / "datasets" / "cr")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = {split: read_tsv(args.source / name, split) for split, name in SPLIT_FILES.items()}
    for split, split_rows in rows.items():
        write_jsonl(args.out / f"{split}.jsonl", split_rows)
    spec = DataSpec(train=args.out / "train.jsonl", val=args.out / "val.jsonl", test=args.out / "test.jsonl")
    report = check_splits(load_splits(spec, SIGNATURE))
    order = {"train": 0, "val": 1, "test": 2}
    split_of = {r["id"]: s for s, split_rows in rows.items() for r in split_rows}
    removed: dict[str, str] = {}
    for leak in report.leaks:
        # Drop the copy in the earlier split (train before val before test): the holdout stays whole.
        a, b = leak.a, leak.b
        drop, keep = (a, b) if order[split_of[a.id]] < order[split_of[b.id]] else (b, a)
        removed.setdefault(drop.id, f"{leak.kind} of {keep.id} ({leak.similarity:.2f})")
    for split, split_rows in rows.items():
        kept = [r for r in split_rows if r["id"] not in removed]
        write_jsonl(args.out / f"{split}.jsonl", kept)
        print(f"{split}: {len(split_rows)} rows, {len(split_rows) - len(kept)} removed, {len(kept)} kept")
    text_of = {r["id"]: r["text"] for split_rows in rows.values() for r in split_rows}
    for drop_id, why in sorted(removed.items()):
        print(f"  removed {drop_id}: {why}: {text_of[drop_id][:90]!r}")
    final = check_splits(load_splits(spec, SIGNATURE))
    print(f"after removal: {len(final.leaks)} leak(s)")


if __name__ == "__main__":
    main()
