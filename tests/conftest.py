"""Shared fixtures: state directories in tmp, small datasets, configs on the fake provider."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

LABELS = ["billing", "technical", "account", "shipping"]
TOPICS = {
    "billing": ["invoice", "refund", "charged", "payment", "card", "price", "coupon", "subscription"],
    "technical": ["crash", "error", "firmware", "wifi", "bluetooth", "screen", "update", "battery"],
    "account": ["password", "login", "email", "profile", "locked", "username", "two-factor", "delete"],
    "shipping": ["parcel", "courier", "tracking", "delivery", "address", "package", "shipped", "late"],
}
FILLER = ["please", "help", "my", "the", "order", "today", "again", "still", "hi", "thanks", "urgent", "why"]
SLICES = ["email", "chat", "phone", "social"]


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point promptc's state and the home directory at a tmpdir for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PROMPTC_HOME", str(home / ".promptc"))
    monkeypatch.delenv("PROMPTC_DEBUG", raising=False)


def make_examples(n: int, seed: int, start: int = 0) -> list[dict[str, Any]]:
    """Synthetic tickets: topic words reveal the label, filler words do not."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        words = rng.sample(TOPICS[label], 3) + rng.sample(FILLER, 4) + [f"w{seed}x{i}"]
        rng.shuffle(words)
        rows.append(
            {
                "id": f"E{start + i:04d}",
                "ticket": " ".join(words),
                "category": label,
                "channel": SLICES[(i // 4) % 4],
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSON Lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def base_config(tmp: Path, model: str = "fake/learner") -> dict[str, Any]:
    """A config dict on small synthetic splits and the given fake model."""
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    write_jsonl(data / "train.jsonl", make_examples(40, seed=1, start=0))
    write_jsonl(data / "val.jsonl", make_examples(24, seed=2, start=100))
    write_jsonl(data / "test.jsonl", make_examples(32, seed=3, start=200))
    return {
        "program": {
            "name": "triage",
            "version": "1.0.0",
            "instructions": "Route the ticket.",
            "inputs": {"ticket": {"type": "str", "description": "the message"}},
            "outputs": {"category": {"type": "enum", "labels": LABELS}},
        },
        "target": {"model": model, "revision": "fake00000000", "concurrency": 4, "max_retries": 2},
        "data": {
            "train": "data/train.jsonl",
            "val": "data/val.jsonl",
            "test": "data/test.jsonl",
            "slice_column": "channel",
        },
        "metric": "label_accuracy",
        "optimizer": {"name": "labeled_fewshot", "seed": 3, "settings": {"k": 8}},
        "gates": {"overall": {"min": 0.5}, "default": {"max_drop": 0.1}},
        "artifacts": "artifacts",
    }


ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write a config (base_config, with a function to edit it) and return its path."""

    def write(
        edit: Callable[[dict[str, Any]], None] | None = None,
        model: str = "fake/learner",
        name: str = "promptc.yaml",
    ) -> Path:
        cfg = base_config(tmp_path, model)
        if edit:
            edit(cfg)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    return write
