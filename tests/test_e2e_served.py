"""End to end over HTTP: the embedded model behind llama-cpp-python's OpenAI-compatible server.

The server (`python -m llama_cpp.server`, as `make serve` starts it) runs for the session;
promptc reaches it as a hosted `openai/...` model with target.api_base and target.api_key_env.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from promptc.cli.app import app
from tests.conftest import LlamaServer
from tests.test_e2e_local import ROOT, _subset

pytestmark = pytest.mark.slow
KEY_ENV = "PROMPTC_SERVE_KEY"
runner = CliRunner()


def served_config(tmp_path: Path, server: LlamaServer, revision: str) -> Path:
    """The support-triage program on a few tickets, for the served model."""
    config = yaml.safe_load((ROOT / "configs/support_triage.yaml").read_text())
    for split, n in (("train", 10), ("val", 1), ("test", 1)):
        _subset(ROOT / f"datasets/support_tickets/{split}.jsonl", tmp_path / f"{split}.jsonl", n)
        config["data"][split] = str(tmp_path / f"{split}.jsonl")
    config["target"] = {
        "model": f"openai/{server.alias}",
        "revision": revision,
        "api_base": server.api_base,
        "api_key_env": KEY_ENV,
        "temperature": 0,
        "max_tokens": 8,
        "concurrency": 1,
        "timeout_s": 120,
    }
    config["optimizer"] = {"name": "labeled_fewshot", "seed": 7, "settings": {"k": 2}}
    config["gates"] = {"overall": {"min": 0.0}}
    config["artifacts"] = str(tmp_path / "artifacts")
    path = tmp_path / "served.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def server(llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> LlamaServer:
    monkeypatch.setenv(KEY_ENV, llama_server.key)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return llama_server


def invoke(*args: object) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def test_compile_eval_promote_run_against_the_served_model(server: LlamaServer, tmp_path: Path) -> None:
    path = served_config(tmp_path, server, revision=server.alias)
    compiled = invoke("compile", path)
    assert compiled.exit_code == 0, compiled.output
    m = re.search(r"artifact (\w{16}) written", compiled.output)
    assert m is not None and re.search(r"model calls: [1-9]\d* made", compiled.output)
    artifact = m.group(1)

    report = tmp_path / "eval.json"
    evaluated = invoke("eval", path, "--json", report)
    assert evaluated.exit_code == 0, evaluated.output
    assert "model calls: 0 made" in evaluated.output  # the same calls as compile's holdout
    assert json.loads(report.read_text())["passed"] is True
    promoted = invoke("promote", path, "--artifact", artifact, "--alias", "production")
    assert promoted.exit_code == 0, promoted.output
    answer = invoke("run", path, "--alias", "production", "--input", "ticket=I was charged twice this month")
    assert answer.exit_code == 0, answer.output
    # Over HTTP no grammar holds the reply to the labels; a reply is shown either way.
    assert "category" in answer.output or "could not parse" in answer.output

    (stored,) = (tmp_path / "artifacts").rglob(f"{artifact}.json")
    lineage = json.loads(stored.read_text())["lineage"]
    assert [o["model"] for o in lineage["observed_models"]] == [server.alias]
    written = [
        p for root in (tmp_path, Path(os.environ["PROMPTC_HOME"])) for p in root.rglob("*") if p.is_file()
    ]
    assert not [str(p) for p in written if server.key.encode() in p.read_bytes()]
    outputs = (compiled.output, evaluated.output, promoted.output, answer.output, report.read_text())
    assert not any(server.key in out for out in outputs)


def test_a_revision_the_server_does_not_report_is_refused(server: LlamaServer, tmp_path: Path) -> None:
    path = served_config(tmp_path, server, revision=f"{server.alias}-v2")
    result = invoke("compile", path)
    assert result.exit_code == 3, result.output
    assert f"the provider reports model '{server.alias}'" in result.output
    cache = Path(os.environ["PROMPTC_HOME"]) / "cache.sqlite"
    assert not cache.exists() or sqlite3.connect(cache).execute("SELECT key FROM calls").fetchall() == []


def test_a_wrong_key_is_refused_by_the_server_and_never_printed(
    server: LlamaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-promptc-wrong-key-3e1d0c"
    monkeypatch.setenv(KEY_ENV, wrong)
    result = invoke("compile", served_config(tmp_path, server, revision=server.alias))
    assert result.exit_code == 3, result.output
    assert wrong not in result.output and server.key not in result.output
