"""A compilation matrix of two real local revisions: SmolLM2-135M-Instruct and Gemma 3 270M."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.test_cli import invoke
from tests.test_e2e_local import ROOT, _subset

pytestmark = pytest.mark.slow

SMOLLM2 = {"model": "local/smollm2-135m-instruct", "revision": "b179c9523d0e", "max_tokens": 8}
GEMMA3 = {"model": "local/gemma3-270m", "revision": "a5fd3b62230a", "max_tokens": 8}


def test_compile_matrix_of_two_local_revisions(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "configs/support_triage.yaml").read_text())
    for split, n in (("train", 2), ("val", 1), ("test", 3)):
        _subset(ROOT / f"datasets/support_tickets/{split}.jsonl", tmp_path / f"{split}.jsonl", n)
        config["data"][split] = str(tmp_path / f"{split}.jsonl")
    del config["target"]
    config["targets"] = {"smollm2": SMOLLM2, "gemma": GEMMA3}
    config["optimizer"] = {"name": "labeled_fewshot", "seed": 7, "settings": {"k": 2, "validate": True}}
    config["gates"] = {"overall": {"min": 0.0}, "default": {"min_n": 1}}
    config["artifacts"] = str(tmp_path / "artifacts")
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))

    compiled = invoke("compile", path, "--matrix")
    assert compiled.exit_code == 0, compiled.output
    assert "[1/2] support-triage 1.0.0 for smollm2" in compiled.output
    assert "[2/2] support-triage 1.0.0 for gemma" in compiled.output
    ids = re.findall(r"artifact (\w{16}) written", compiled.output)
    assert len(set(ids)) == 2

    rows = json.loads(invoke("matrix", path, "--json").output)
    assert [(r["target"], r["revision"], r["artifact"]) for r in rows] == [
        ("smollm2", "b179c9523d0e", ids[0]),
        ("gemma", "a5fd3b62230a", ids[1]),
    ]
    assert all(r["gates"] == "pass" and r["candidate"] is not None for r in rows)

    assert invoke("promote", path, "--target", "gemma", "--artifact", "latest").exit_code == 0
    answer = invoke("run", path, "--target", "gemma", "-i", "ticket=I was charged twice this month")
    assert answer.exit_code == 0, answer.output
    assert re.search(r"category: (billing|technical|account|shipping)", answer.output)
    # The SmolLM2 artifact is never served on Gemma's revision.
    refused = invoke("run", path, "--target", "gemma", "--alias", ids[0], "-i", "ticket=hello")
    assert refused.exit_code == 2
    assert "compile and evaluate an artifact for this model revision" in refused.output


def test_gemma_label_scores_follow_the_same_chat_format_as_its_answers(tmp_path: Path) -> None:
    from promptc.config.load import Target, load_config
    from promptc.data.load import load_splits
    from promptc.evaluation.evaluate import predict
    from promptc.lm.cache import CallCache
    from promptc.lm.model import LM
    from promptc.prompting.adapter import render_messages
    from promptc.prompting.program import baseline_candidate

    cfg = load_config(ROOT / "configs/support_triage.yaml")
    tickets = load_splits(cfg.data, cfg.program.signature).test[:6]
    lm = LM(Target(GEMMA3["model"], GEMMA3["revision"], max_tokens=8), CallCache(tmp_path / "c.sqlite"))
    candidate = baseline_candidate(cfg.program)
    labels = list(cfg.program.signature.outputs[0].labels)
    agree = 0
    for ticket in tickets:
        messages = render_messages(cfg.program, candidate, ticket.inputs)
        scores = lm.label_logprobs(messages, "category:", labels).logprobs
        generated = predict(cfg.program, candidate, lm, ticket.inputs).outputs
        agree += generated == {"category": max(labels, key=lambda label: scores[label])}
    # Scores read after another prompt format than the one answers are generated from would
    # disagree with greedy answers far more often.
    assert agree >= 5
