"""Shared fixtures: state directories in tmp, small datasets, configs on the fake provider."""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1, serving the embedded GGUF."""

    api_base: str
    alias: str
    key: str  # the server refuses requests without it; tests grep for it in everything written


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """Start `python -m llama_cpp.server` on a free port for the session, wait until it answers
    (at most SERVER_START_S), and always terminate it."""
    for module in (
        "llama_cpp",
        "uvicorn",
        "fastapi",
        "sse_starlette",
        "starlette_context",
        "pydantic_settings",
    ):
        pytest.importorskip(module, reason="llama_cpp.server needs pip install 'promptc[serve]'")
    from promptc.lm.local import model_path

    with socket.socket() as probe:  # a free port (the server binds it moments later)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    threads = max(1, (os.cpu_count() or 2) // 2)  # as promptc runs the embedded model in process
    alias, key = "smollm2-135m-instruct", f"sk-promptc-sentinel-{secrets.token_hex(8)}"
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path(alias)), "--model_alias", alias,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]  # fmt: skip
    env = {**os.environ, "API_KEY": key}  # the server's api_key setting, kept off the command line
    with log.open("wb") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_ready(server, f"http://127.0.0.1:{port}/v1/models", key, log)
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", alias, key)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


SERVER_START_S = 180.0  # loading the model on a busy 2-core machine takes seconds, not minutes


def _wait_until_ready(server: subprocess.Popen[bytes], url: str, key: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, never a proxy
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with opener.open(request, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"llama_cpp.server did not answer within {SERVER_START_S:.0f} s:\n{log.read_text()[-3000:]}")
