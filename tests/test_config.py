"""Config loading: valid configs become dataclasses; every mistake names the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptc.config.load import load_config
from promptc.errors import ConfigError
from tests.conftest import ConfigWriter


def test_valid_config_loads_with_defaults_and_absolute_paths(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    cfg = load_config(write_config())
    assert cfg.program.signature.outputs[0].labels == ("billing", "technical", "account", "shipping")
    assert cfg.target.temperature == 0.0 and cfg.target.max_tokens == 64
    assert cfg.data.train == tmp_path / "data/train.jsonl"
    assert cfg.artifacts_dir == tmp_path / "artifacts"
    assert cfg.cache_path.name == "cache.sqlite" and str(tmp_path.parent) in str(cfg.cache_path.parents[1])


def test_same_config_same_digest(write_config: ConfigWriter) -> None:
    assert load_config(write_config()).digest == load_config(write_config()).digest


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["program"]["outputs"]["category"].pop("labels"),
            "program.outputs.category: 'labels' is a required",
        ),
        (lambda c: c["program"].update(version="v1"), "program.version: 'v1' does not match"),
        (
            lambda c: c["target"].update(temperature=5),
            "target.temperature: 5 is greater than the maximum of 2",
        ),
        (lambda c: c["optimizer"].update(name="magic"), "optimizer.name: 'magic' is not one of"),
        (lambda c: c.update(colour="red"), "(top level): Additional properties are not allowed ('colour'"),
        (lambda c: c["data"].update(file="all.csv"), "data: give either train, val and test files"),
        (lambda c: c["program"]["inputs"].update(category={"type": "str"}), "is both an input and an output"),
        (
            lambda c: c["gates"].update(reference="prod uction"),
            "gates.reference: 'prod uction' does not match",
        ),
        (lambda c: c["gates"].update(reference="../x"), "gates.reference: '../x' does not match"),
        (
            lambda c: c["gates"].update(reference="latest"),
            "gates.reference: 'latest' moves with each compile",
        ),
    ],
)
def test_invalid_configs_name_the_key(write_config: ConfigWriter, edit: object, expected: str) -> None:
    path = write_config(edit)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.exit_code == 2
    assert str(path) in info.value.message
    assert expected in info.value.message


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("program:\n  name: x\n  inputs: [a, b\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "not valid YAML at line" in info.value.message


def test_config_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(path)


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    import time

    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to more than 100,000 values") as info:
        load_config(path)
    assert time.perf_counter() - start < 5
    assert info.value.exit_code == 2


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("program: &p\n  name: x\n  again: *p\n")
    with pytest.raises(ConfigError, match=r"program\.again: an alias refers to a value that contains it"):
        load_config(path)


def test_a_huge_config_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * 200_000)
    with pytest.raises(ConfigError, match="too large for a config"):
        load_config(path)


def test_ordinary_anchors_and_merge_keys_still_load(write_config: ConfigWriter) -> None:
    path = write_config()
    text = path.read_text().replace(
        "gates:\n", "strict: &strict\n  min: 0.5\ngates:\n  slices:\n    chat: *strict\n"
    )
    path.write_text(text.replace("artifacts: artifacts\n", ""))
    with pytest.raises(ConfigError, match="strict"):  # an unknown top-level key, not an alias error
        load_config(path)
    path.write_text(text.replace("strict: &strict\n  min: 0.5\n", "").replace("*strict", "{min: 0.5}"))
    assert load_config(path).gates.slices["chat"].min == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("target: {model: a}\ntarget: {model: b}\n", "line 2, column 1: duplicate key target"),
        ("program:\n  name: a\n  inputs: {}\n  name: b\n", "line 4, column 3: duplicate key program.name"),
    ],
)
def test_duplicate_keys_are_refused_with_the_key_path(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert info.value.exit_code == 2 and str(path) in info.value.message


def test_labels_that_differ_only_in_case_are_refused(write_config: ConfigWriter) -> None:
    path = write_config(
        lambda c: c["program"]["outputs"]["category"].update(labels=["billing", "Billing", "shipping"])
    )
    with pytest.raises(
        ConfigError, match=r"program\.outputs\.category\.labels: 'billing' and 'Billing'"
    ) as info:
        load_config(path)
    assert info.value.exit_code == 2


def test_retired_gate_keys_still_load(write_config: ConfigWriter) -> None:
    # resamples and seed tuned the old bootstrap; the intervals are exact now, so both are ignored.
    path = write_config(lambda c: c["gates"].update(mode="confidence", resamples=500, seed=3))
    gates = load_config(path).gates
    assert gates.mode == "confidence" and not hasattr(gates, "resamples")
