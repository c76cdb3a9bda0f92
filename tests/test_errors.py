"""Exit codes and messages: every bad input exits 2 naming the file or key; crashes exit 3, never 1."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from promptc.cli.app import app, error_boundary
from promptc.commands.lifecycle import compile_config
from promptc.config.load import load_config
from tests.conftest import ConfigWriter, make_examples

runner = CliRunner()
MINIBATCH = {"num_candidates": 4, "num_trials": 6, "minibatch_size": 8, "minibatch_full_eval_steps": 3}


def invoke(*args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def assert_clean(result: Any, code: int, *expected: str) -> None:
    """The exit code, each expected text, and no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output, result.output


def cache_rows() -> int:
    """Model calls stored in the default call cache (0 when no cache was opened)."""
    path = Path(os.environ["PROMPTC_HOME"]) / "cache.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    return count


# The entry point's error boundary


def test_an_unexpected_error_exits_3_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as info, error_boundary():
        raise ValueError("boom\nsecond line")
    assert info.value.exit_code == 3
    err = capsys.readouterr().err
    assert "unexpected ValueError: boom" in err and "second line" not in err
    assert "PROMPTC_DEBUG=1" in err and "Traceback" not in err


def test_promptc_debug_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTC_DEBUG", "1")
    with pytest.raises(typer.Exit) as info, error_boundary():
        raise ValueError("boom")
    assert info.value.exit_code == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_ctrl_c_exits_130() -> None:
    with pytest.raises(typer.Exit) as info, error_boundary():
        raise KeyboardInterrupt
    assert info.value.exit_code == 130


def test_a_crash_inside_a_command_exits_3_not_1(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import promptc.commands.lifecycle

    def crash(*_: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(promptc.commands.lifecycle, "check", crash)
    assert_clean(invoke("check", write_config()), 3, "unexpected RuntimeError: a bug", "PROMPTC_DEBUG=1")


def test_usage_errors_keep_exit_2() -> None:
    result = invoke("eval")
    assert result.exit_code == 2 and "Missing argument" in result.output


# Config files


def test_a_non_utf8_config_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("program:\n  name: caf\xe9\n".encode("latin-1"))
    assert_clean(
        invoke("check", path), 2, "latin1.yaml: not UTF-8 text (byte 0xe9", "save the config as UTF-8"
    )


def test_a_binary_config_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    assert_clean(invoke("check", path), 2, "model.yaml")


def test_a_directory_or_fifo_as_config_exits_2(tmp_path: Path) -> None:
    assert_clean(invoke("check", tmp_path), 2, str(tmp_path), "not a regular file")
    os.mkfifo(tmp_path / "pipe.yaml")
    assert_clean(invoke("check", tmp_path / "pipe.yaml"), 2, "pipe.yaml: not a regular file")


# Metric modules


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "def score(gold, predicted:\n    return 1.0\n",
            "bad_metric.py:1: syntax error in module 'bad_metric'",
        ),
        ("raise RuntimeError('no GPU')\n", "importing module 'bad_metric' raised RuntimeError: no GPU"),
    ],
)
def test_a_metric_module_that_fails_to_import_exits_2(
    write_config: ConfigWriter, tmp_path: Path, source: str, expected: str
) -> None:
    (tmp_path / "bad_metric.py").write_text(source)
    config = write_config(lambda c: c.update(metric="bad_metric:score"))
    try:
        assert_clean(invoke("compile", config), 2, expected)
    finally:
        sys.modules.pop("bad_metric", None)
    assert cache_rows() == 0


def test_a_metric_returning_nan_is_refused_with_the_example(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    (tmp_path / "nan_metric.py").write_text("def score(gold, predicted):\n    return float('nan')\n")
    config = write_config(lambda c: c.update(metric="nan_metric:score"))
    result = invoke("compile", config)
    assert_clean(result, 3, "nan_metric:score returned nan", "on example E0", "finite number")
    assert not list((tmp_path / "artifacts").rglob("*.json"))


# Where promptc writes


def test_an_unwritable_artifacts_path_exits_2_before_any_model_call(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    config = write_config(lambda c: c.update(artifacts="taken/artifacts"))
    assert_clean(invoke("compile", config), 2, "artifacts:", "taken is not a directory", "writable")
    assert cache_rows() == 0


def test_an_unwritable_cache_path_exits_2(write_config: ConfigWriter, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    config = write_config(lambda c: c.update(cache="taken/cache.sqlite"))
    assert_clean(invoke("compile", config), 2, "cache:", "taken is not a directory")
    directory = write_config(lambda c: c.update(cache="."), name="dir.yaml")
    assert_clean(invoke("compile", directory), 2, "is a directory, not the cache file")


# Data files


def test_a_jsonl_line_that_is_a_list_names_the_line(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    with (tmp_path / "data/test.jsonl").open("a") as fh:
        fh.write('["E9999", "a list", "billing"]\n')
    assert_clean(invoke("check", config), 2, "test.jsonl:33: a JSON list, not an object")


def test_parquet_data_loads(write_config: ConfigWriter, tmp_path: Path) -> None:
    import pandas as pd

    config = write_config(lambda c: c["data"].update(test="data/test.parquet"))
    pd.DataFrame(make_examples(32, seed=3, start=200)).to_parquet(tmp_path / "data/test.parquet")
    assert_clean(invoke("check", config), 0, "no leakage")
    (tmp_path / "data/test.parquet").write_bytes(b"PAR1 not really parquet")
    assert_clean(invoke("check", config), 2, "test.parquet: cannot parse .parquet file")


def test_a_directory_as_data_file_exits_2(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(lambda c: c["data"].update(test="data/dir.jsonl"))
    (tmp_path / "data/dir.jsonl").mkdir()
    assert_clean(invoke("check", config), 2, "dir.jsonl: is a directory, not a data file")


def test_a_symlink_loop_as_data_file_exits_2(write_config: ConfigWriter, tmp_path: Path) -> None:
    relative = write_config(lambda c: c["data"].update(test="data/a.jsonl"))
    (tmp_path / "data/a.jsonl").symlink_to("b.jsonl")
    (tmp_path / "data/b.jsonl").symlink_to("a.jsonl")
    assert_clean(invoke("check", relative), 2, "data.test", "symlink loop")
    absolute = write_config(lambda c: c["data"].update(test=str(tmp_path / "data/a.jsonl")), name="abs.yaml")
    assert_clean(invoke("check", absolute), 2, "a.jsonl: cannot open the data file (a symlink loop)")


def test_a_data_path_too_long_for_the_file_system_exits_2(write_config: ConfigWriter) -> None:
    config = write_config(lambda c: c["data"].update(test="data/" + "x" * 300 + ".jsonl"))
    assert_clean(invoke("check", config), 2, "a path too long for the file system")


def test_a_data_file_that_is_not_utf8_exits_2(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config()
    with (tmp_path / "data/val.jsonl").open("ab") as fh:
        fh.write(b'{"id": "\xff"}\n')
    assert_clean(invoke("check", config), 2, "val.jsonl: not UTF-8 text (byte 0xff")


# Registry and artifacts


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ([], '"targets"'),
        ({"targets": {"x": []}}, "targets.x is not an object"),
        ({"targets": {"x": {"aliases": {}, "history": [1]}}}, "targets.x.history[0] is not an event"),
    ],
)
def test_a_registry_of_the_wrong_structure_exits_3_with_a_clear_message(
    write_config: ConfigWriter, tmp_path: Path, content: Any, expected: str
) -> None:
    config = write_config()
    registry = tmp_path / "artifacts/triage/registry.json"
    registry.parent.mkdir(parents=True)
    registry.write_text(json.dumps(content))
    assert_clean(invoke("list", config), 3, "registry.json: not a promptc registry", expected)


# Models


def test_an_unknown_fake_model_exits_2_without_litellm_text(write_config: ConfigWriter) -> None:
    result = invoke("compile", write_config(model="fake/nosuch"))
    assert_clean(result, 2, "unknown fake model 'nosuch'")
    assert "litellm" not in result.output.lower() and "attempts" not in result.output


def test_a_wrong_prompt_model_revision_is_refused_before_any_model_call(write_config: ConfigWriter) -> None:
    wrong = {"model": "fake/learner", "revision": "abcdef123456"}
    config = write_config(
        lambda c: c.update(optimizer={"name": "mipro", "settings": {**MINIBATCH, "prompt_model": wrong}})
    )
    assert_clean(invoke("compile", config), 2, "target.revision is 'abcdef123456'")
    assert cache_rows() == 0


# Concurrent runs


def test_two_concurrent_mipro_compiles_both_finish(write_config: ConfigWriter) -> None:
    config = load_config(
        write_config(lambda c: c.update(optimizer={"name": "mipro", "seed": 3, "settings": MINIBATCH}))
    )
    start = threading.Barrier(2)
    ids: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            ids.append(compile_config(config).artifact.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(ids) == 2 and ids[0] == ids[1]  # the run-specific study name does not change the search


def test_a_new_mipro_run_leaves_a_running_study_alone(write_config: ConfigWriter) -> None:
    from promptc.lm.model import LM
    from promptc.metrics import exact_match
    from promptc.optimizers import mipro
    from promptc.optimizers.base import CompileInputs

    config = load_config(write_config())
    inputs = CompileInputs(config.program, (), (), exact_match, LM(config.target), seed=0, settings={})
    first, _ = mipro._study(inputs, "triage-1.0.0-mipro-abc", 4)
    trial = first.ask()
    second, _ = mipro._study(inputs, "triage-1.0.0-mipro-abc", 4)
    first.tell(trial, 0.5)  # today's code: KeyError 'Record does not exist.'
    assert first.study_name != second.study_name
    assert first.best_value == 0.5
