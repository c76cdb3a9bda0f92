"""End to end on the real embedded model (SmolLM2-135M-Instruct via llama.cpp, through litellm)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from promptc.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
LABELS = {"billing", "technical", "account", "shipping"}
pytestmark = pytest.mark.slow


def _subset(src: Path, dst: Path, n: int) -> None:
    """The first n rows per channel, to keep the run short."""
    rows, seen = [], {}
    for line in src.read_text().splitlines():
        row = json.loads(line)
        seen[row["channel"]] = seen.get(row["channel"], 0) + 1
        if seen[row["channel"]] <= n:
            rows.append(line)
    dst.write_text("\n".join(rows) + "\n")


def test_compile_eval_promote_run_on_the_embedded_model(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "configs/support_triage.yaml").read_text())
    for split, n in (("train", 40), ("val", 5), ("test", 10)):
        _subset(ROOT / f"datasets/support_tickets/{split}.jsonl", tmp_path / f"{split}.jsonl", n)
        config["data"][split] = str(tmp_path / f"{split}.jsonl")
    settings = {"max_bootstrapped_demos": 2, "max_labeled_demos": 6, "max_traced": 8}
    config["optimizer"] = {"name": "bootstrap_fewshot", "seed": 7, "settings": settings}
    config["gates"] = {"overall": {"min_gain": 0.05}, "default": {"min_n": 5}}
    config["artifacts"] = str(tmp_path / "artifacts")
    path = tmp_path / "e2e.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    runner = CliRunner()

    first = runner.invoke(app, ["compile", str(path)])
    assert first.exit_code == 0, first.output
    artifact = re.search(r"artifact (\w{16}) written", first.output)
    assert artifact is not None
    assert re.search(r"model calls: [1-9]\d* made", first.output)

    again = runner.invoke(app, ["compile", str(path)])
    assert again.exit_code == 0, again.output
    assert f"artifact {artifact.group(1)} written" in again.output
    assert "model calls: 0 made" in again.output

    # Whether demos help a 135M model on 40 tickets is the model's business; what is tested here
    # is that eval's verdict, exit code and report agree, and that promote follows the verdict.
    report = tmp_path / "eval.json"
    evaluated = runner.invoke(app, ["eval", str(path), "--json", str(report)])
    data = json.loads(report.read_text())
    overall = data["gates"]["slices"][0]
    assert overall["scope"] == "overall" and overall["n"] == 40
    gained = overall["score"] >= overall["reference"] + 0.05 - 1e-9
    assert data["passed"] is gained
    assert evaluated.exit_code == (0 if gained else 1), evaluated.output
    assert data["candidate"]["summaries"]["(overall)"]["mean"] == overall["score"]

    promoted = runner.invoke(app, ["promote", str(path), "--artifact", artifact.group(1)])
    assert promoted.exit_code == (0 if gained else 1), promoted.output
    alias = "production" if gained else "latest"  # a refused promotion moves no alias

    answer = runner.invoke(
        app, ["run", str(path), "--input", "ticket=I was charged twice for my order", "--alias", alias]
    )
    assert answer.exit_code == 0, answer.output
    m = re.search(r"category: (\w+)", answer.output)
    assert m is not None and m.group(1) in LABELS


def test_the_answer_grammar_holds_the_embedded_model_to_the_labels(tmp_path: Path) -> None:
    from promptc.config.load import Target
    from promptc.evaluation.evaluate import predict
    from promptc.lm.cache import CallCache
    from promptc.lm.model import LM
    from promptc.prompting.program import Candidate, Field, Program, Signature

    # Labels the model would not guess, and a question it answers in prose when left free.
    program = Program(
        name="t",
        version="1.0.0",
        signature=Signature(
            inputs=(Field("question"),),
            outputs=(Field("code", "enum", labels=("zebra-7", "quartz-2")), Field("n", "int")),
            instructions="Answer the question.",
        ),
    )
    questions = ["What is the capital of France?", "Tell me a story about a dragon.", "2 + 2?"]
    target = Target("local/smollm2-135m-instruct", "b179c9523d0e", max_tokens=24)
    for constrained in (True, False):
        lm = LM(Target(**{**target.__dict__, "constrained": constrained}), CallCache(tmp_path / "c.sqlite"))
        predictions = [
            predict(program, Candidate("Answer the question."), lm, {"question": q}) for q in questions
        ]
        if constrained:
            assert all(re.fullmatch(r"code: (zebra-7|quartz-2)\nn: -?\d+", p.raw) for p in predictions)
            assert all(p.outputs is not None for p in predictions)
        else:
            assert any(p.outputs is None for p in predictions)  # what the grammar prevents


def test_label_scores_on_the_embedded_model_agree_with_its_answers(tmp_path: Path) -> None:
    import math

    from promptc.config.load import load_config
    from promptc.data.load import load_splits
    from promptc.evaluation.evaluate import predict
    from promptc.lm.cache import CallCache
    from promptc.lm.model import LM
    from promptc.prompting.adapter import render_messages
    from promptc.prompting.program import baseline_candidate

    cfg = load_config(ROOT / "configs/support_triage.yaml")
    tickets = load_splits(cfg.data, cfg.program.signature).test[:8]
    lm = LM(cfg.target, CallCache(tmp_path / "c.sqlite"))
    candidate = baseline_candidate(cfg.program)
    labels = list(cfg.program.signature.outputs[0].labels)
    agree = 0
    for ticket in tickets:
        scores = lm.label_logprobs(
            render_messages(cfg.program, candidate, ticket.inputs), "category:", labels
        )
        assert set(scores.logprobs) == set(labels) and not scores.cached
        assert all(v < 0 for v in scores.logprobs.values())
        assert sum(math.exp(v) for v in scores.logprobs.values()) <= 1 + 1e-6  # disjoint replies
        again = lm.label_logprobs(render_messages(cfg.program, candidate, ticket.inputs), "category:", labels)
        assert again.cached and again.logprobs == scores.logprobs
        generated = predict(cfg.program, candidate, lm, ticket.inputs).outputs
        top = max(labels, key=lambda label: scores.logprobs[label])
        agree += generated == {"category": top}
    assert agree >= 6  # greedy decoding under the grammar picks the likeliest first token


def test_the_default_optimizer_on_the_embedded_model(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "configs/support_triage.yaml").read_text())
    for split, n in (("train", 10), ("val", 4), ("test", 3)):
        _subset(ROOT / f"datasets/support_tickets/{split}.jsonl", tmp_path / f"{split}.jsonl", n)
        config["data"][split] = str(tmp_path / f"{split}.jsonl")
    settings = {"demo_sets": 1, "knn": 2, "ensemble": 2}
    config["optimizer"] = {"name": "auto", "seed": 0, "settings": settings}
    config["gates"] = {"default": {"min_n": 1}}
    config["artifacts"] = str(tmp_path / "artifacts")
    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    runner = CliRunner()
    dry = runner.invoke(app, ["compile", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    first = runner.invoke(app, ["compile", str(path)])
    assert first.exit_code == 0, first.output
    artifact = re.search(r"artifact (\w{16}) written", first.output)
    assert artifact is not None
    data = json.loads(next((tmp_path / "artifacts").rglob(f"{artifact.group(1)}.json")).read_text())
    names = [t["name"] for t in data["lineage"]["trials"]]
    assert "zero-shot, content-free calibration" in names and "ensemble of the 2 best" in names
    again = runner.invoke(app, ["compile", str(path)])
    assert f"artifact {artifact.group(1)} written" in again.output and "model calls: 0 made" in again.output
