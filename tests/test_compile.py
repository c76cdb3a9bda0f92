"""compile on the fake provider: dry-run estimates, budget caps, determinism, the search in the artifact."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptc.cli.app import app
from promptc.commands.lifecycle import compile_config
from promptc.config.load import load_config
from promptc.optimizers.estimate import estimate_compile
from promptc.prompting.program import Candidate, baseline_candidate
from tests.conftest import ConfigWriter

runner = CliRunner()
MINIBATCH = {"num_candidates": 4, "num_trials": 6, "minibatch_size": 8, "minibatch_full_eval_steps": 3}


def invoke(*args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def optimizer(name: str, settings: dict[str, Any], **top: Any) -> Any:
    """A config edit: this optimizer (seed 3) plus any other top-level keys."""

    def edit(cfg: dict[str, Any]) -> None:
        cfg["optimizer"] = {"name": name, "seed": 3, "settings": settings}
        cfg.update(top)

    return edit


def artifact_of(output: str, root: Path) -> dict[str, Any]:
    m = re.search(r"artifact (\w{16}) written", output)
    assert m, output
    data: dict[str, Any] = json.loads(next(root.rglob(f"{m.group(1)}.json")).read_text())
    return data


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("labeled_fewshot", {"k": 6}),
        ("bootstrap_fewshot", {}),
        ("random_search", {"num_candidate_programs": 4}),
        ("mipro", MINIBATCH),
        ("mipro", {"auto": "light"}),
    ],
)
def test_dry_run_estimate_is_within_ten_percent_of_the_calls_made(
    write_config: ConfigWriter, name: str, settings: dict[str, Any]
) -> None:
    cfg = load_config(write_config(optimizer(name, settings)))
    estimate = estimate_compile(cfg)
    outcome = compile_config(cfg)  # a fresh cache: every request is a new call, bar exact repeats
    made = outcome.search_usage.calls
    assert abs(estimate.search.total - made) <= 0.1 * made, (estimate.search.stages, made)
    assert estimate.holdout_calls == 2 * 32
    # A compile that keeps the configured program evaluates it once: the baseline's calls serve both.
    holdout = outcome.usage.calls - made
    kept = Candidate.from_dict(outcome.artifact.content["candidate"]) == baseline_candidate(cfg.program)
    assert holdout == (32 if kept else 64)


def test_dry_run_gives_the_default_optimizers_worst_case(write_config: ConfigWriter) -> None:
    cfg = load_config(write_config(optimizer("auto", {})))
    estimate = estimate_compile(cfg)
    outcome = compile_config(cfg)
    assert outcome.search_usage.calls <= estimate.search.total
    assert estimate.holdout_calls == 32 + 3 * 32  # the baseline, and an ensemble of three at most
    assert outcome.usage.calls <= estimate.total_calls


def test_dry_run_prints_calls_cost_and_budget_and_calls_nothing(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(
        optimizer("random_search", {"num_candidate_programs": 4}, budget={"max_calls": 100})
    )
    result = invoke("compile", config, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "teacher traces on train" in result.output
    assert "search: 184 model calls" in result.output  # 16 traces + 7 candidates x 24 val examples
    assert "holdout: 64 model calls" in result.output
    assert "total: 248 model calls" in result.output
    assert "cost: $0 (local model)" in result.output
    assert "the search would stop at the cap, after 100 of 184 calls" in result.output
    assert not (tmp_path / "artifacts").exists()
    assert not (Path(os.environ["PROMPTC_HOME"]) / "cache.sqlite").exists()


def test_dry_run_does_not_import_litellm_for_local_models(write_config: ConfigWriter) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from promptc.cli.app import app\n"
        "result = CliRunner().invoke(app, ['compile', sys.argv[1], '--dry-run'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('litellm', 'optuna') if m in sys.modules))\n"
    )
    config = write_config(optimizer("mipro", MINIBATCH))
    done = subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_budget_cap_stops_the_search_cleanly_and_the_artifact_says_so(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(optimizer("random_search", {"num_candidate_programs": 4}, budget={"max_calls": 60}))
    result = invoke("compile", config)
    assert result.exit_code == 0, result.output
    assert "stopped by budget: the call cap of 60 model calls was reached" in result.output
    assert "kept the best of 2 fully scored candidate(s)" in result.output
    assert "search: 60 model calls made" in result.output
    artifact = artifact_of(result.output, tmp_path / "artifacts")
    lineage = artifact["lineage"]
    assert lineage["stopped_by_budget"] is True
    assert [t["name"] for t in lineage["trials"]] == ["zero-shot", "labeled only 6"]
    assert lineage["trials"][1]["val_score"] > lineage["trials"][0]["val_score"]
    kept = [d["source_id"] for d in artifact["candidate"]["demos"]]
    assert kept in [t["demo_ids"] for t in lineage["trials"]]  # one of the two fully scored ones
    assert (
        artifact["evaluation"]["candidate"]["summaries"]["(overall)"]["n"] == 32
    )  # the holdout is not capped

    again = invoke("compile", config)  # cached calls are free, so a re-run searches further
    assert again.exit_code == 0, again.output
    assert len(artifact_of(again.output, tmp_path / "artifacts")["lineage"]["trials"]) > 2


def test_a_budget_spent_before_any_candidate_is_scored_exits_3(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(optimizer("bootstrap_fewshot", {}, budget={"max_calls": 10}))  # traces 16
    result = invoke("compile", config)
    assert result.exit_code == 3
    assert (
        "the call cap of 10 model calls was reached before the search had a candidate to keep "
        "(none was scored on all 24 validation examples); no artifact was written" in result.output
    )
    assert "raise budget.max_calls" in result.output
    assert not (tmp_path / "artifacts").exists()


def test_budget_keys_are_checked(write_config: ConfigWriter) -> None:
    result = invoke("compile", write_config(lambda c: c.update(budget={"max_call": 10})))
    assert result.exit_code == 2
    assert "budget" in result.output and "allowed keys: max_calls, max_cost_usd" in result.output


@pytest.mark.parametrize(
    ("name", "settings"), [("random_search", {"num_candidate_programs": 4}), ("mipro", MINIBATCH)]
)
def test_same_config_and_cache_give_the_same_artifact(
    write_config: ConfigWriter, tmp_path: Path, name: str, settings: dict[str, Any]
) -> None:
    config = write_config(optimizer(name, settings))
    first = invoke("compile", config)
    assert first.exit_code == 0, first.output
    second = invoke("compile", config)
    assert second.exit_code == 0, second.output
    assert "model calls: 0 made" in second.output
    a, b = (
        artifact_of(first.output, tmp_path / "artifacts"),
        artifact_of(second.output, tmp_path / "artifacts"),
    )
    assert a == b
    trials = a["lineage"]["trials"]
    assert len(trials) > 3 and all(
        {"name", "val_score", "n", "full", "calls", "demo_ids"} <= set(t) for t in trials
    )
    assert a["lineage"]["stopped_by_budget"] is False


def test_compile_shows_the_trials_and_where_the_optuna_study_is(write_config: ConfigWriter) -> None:
    result = invoke("compile", write_config(optimizer("mipro", MINIBATCH)))
    assert result.exit_code == 0, result.output
    assert "chosen" in result.output and "(minibatch)" in result.output
    assert "optuna-dashboard sqlite:///" in result.output
    assert re.search(r"best val score \d\.\d{3} \| model calls made [1-9]", result.output)


def test_an_eval_the_cache_answers_does_not_import_litellm(write_config: ConfigWriter) -> None:
    config = write_config()
    assert invoke("compile", config).exit_code == 0
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from promptc.cli.app import app\n"
        "result = CliRunner().invoke(app, ['eval', sys.argv[1]])\n"
        "assert result.exit_code in (0, 1), result.output\n"
        "assert 'model calls: 0 made' in result.output, result.output\n"
        "print('litellm' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
