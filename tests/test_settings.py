"""Optimizer settings: one home for each default (the schema), the dataclasses read from it, and
the plain data they give back, which keys saved search state."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from promptc.optimizers import OPTIMIZERS
from promptc.optimizers.settings import PRESETS, AutoSettings, GepaSettings, MiproSettings, ModelSpec

MODEL = {"model": "fake/learner", "revision": "fake00000000"}
REQUIRED: dict[str, dict[str, Any]] = {"gepa": {"reflection_model": MODEL}}
# Settings blocks as a config may give them, per optimizer (with what each requires).
BLOCKS: dict[str, list[dict[str, Any]]] = {
    "auto": [{}, {"calibrate": False, "knn": 0, "confirm_train": 3}],
    "labeled_fewshot": [{}, {"k": 2, "validate": True}],
    "bootstrap_fewshot": [{}, {"validate": True, "metric_threshold": 1}, {"metric_threshold": 0.5}],
    "random_search": [{}, {"num_candidate_programs": 2, "min_bootstrapped_demos": 0}],
    "mipro": [
        {},
        {"auto": "heavy", "num_trials": 3},
        {"prompt_model": {**MODEL, "temperature": 1, "max_tokens": 9}, "tips": False},
    ],
    "copro": [{}, {"prompt_model": MODEL, "init_temperature": 1}],
    "gepa": [
        {"reflection_model": MODEL},
        {"reflection_model": {**MODEL, "temperature": 0.2}, "max_metric_calls": 5, "merge": True},
    ],
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_dataclass_defaults_are_the_schema_defaults(name: str) -> None:
    optimizer = OPTIMIZERS[name]
    properties = optimizer.settings_schema["properties"]
    fields = {f.name: f for f in dataclasses.fields(optimizer.settings_type)}
    assert set(fields) == set(properties)
    for key, spec in properties.items():
        default = fields[key].default
        if "default" in spec:
            assert default == spec["default"] and type(default) is type(spec["default"]), key
        else:  # required, filled in from a preset, or None while left out
            assert default in (dataclasses.MISSING, None), key
    built = optimizer.read_settings(REQUIRED.get(name, {}))
    for key, spec in properties.items():
        if "default" in spec:
            assert getattr(built, key) == spec["default"], key


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_settings_give_back_what_was_set_and_the_defaults(name: str) -> None:
    # As the schema-defaults-filled dict they replace: mipro's study name and gepa's state file
    # are keyed by it, so an unchanged config finds its saved state after an upgrade.
    properties = OPTIMIZERS[name].settings_schema["properties"]
    defaults = {key: spec["default"] for key, spec in properties.items() if "default" in spec}
    for block in BLOCKS[name]:
        settings = OPTIMIZERS[name].read_settings(block)
        preset = PRESETS[settings.auto] if name == "mipro" else {}
        assert settings.to_dict() == {**preset, **defaults, **block}


def test_mipro_fills_the_search_sizes_it_is_not_given_from_its_preset() -> None:
    heavy = MiproSettings.from_dict({"auto": "heavy", "num_trials": 3})
    assert (heavy.num_candidates, heavy.num_trials, heavy.minibatch_size) == (18, 3, 35)
    assert MiproSettings.from_dict({}).num_candidates == PRESETS["light"]["num_candidates"]


def test_model_blocks_are_read_into_model_specs() -> None:
    gepa = GepaSettings.from_dict({"reflection_model": {**MODEL, "max_tokens": 40}})
    assert gepa.reflection_model == ModelSpec(model="fake/learner", revision="fake00000000", max_tokens=40)
    assert gepa.max_metric_calls is None and "max_metric_calls" not in gepa.to_dict()
    assert MiproSettings.from_dict({}).prompt_model is None


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AutoSettings().knn = 0  # type: ignore[misc]
