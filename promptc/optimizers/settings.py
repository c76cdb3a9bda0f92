"""Every optimizer's settings: the JSON Schema that validates `optimizer.settings` and declares the
defaults (the one place a default is written), and the frozen dataclass they are read into, so
that an optimizer reads them by attribute and mypy checks each name.

A dataclass's field defaults are read from its schema (`default_of`). A setting without a default
is a field without one (gepa's required reflection_model; mipro's search sizes, which its `auto`
preset fills in) or None while it is left out (a prompt model, gepa's max_metric_calls).
`to_dict` gives the settings back as plain data, the ones set and the defaults: the keys of saved
search state (mipro's study name, gepa's state file) are made from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self


def default_of(schema: Mapping[str, Any], key: str) -> Any:
    """The default a settings schema declares for one setting."""
    return schema["properties"][key]["default"]


def model_spec(temperature: bool) -> dict[str, Any]:
    """The settings schema of a prompt or reflection model: model and revision, max_tokens, and its
    own sampling temperature where the optimizer takes one from it."""
    properties: dict[str, Any] = {
        "model": {"type": "string", "minLength": 1},
        "revision": {"type": "string", "minLength": 1},
    }
    if temperature:
        properties["temperature"] = {"type": "number", "minimum": 0, "maximum": 2}
    properties["max_tokens"] = {"type": "integer", "minimum": 1}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["model", "revision"],
        "properties": properties,
    }


def _plain(value: Any) -> Any:
    """A value as plain data: a dataclass as a dict of the fields it sets (None: left out)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: _plain(v) for name, v in fields if v is not None}
    return value


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A prompt or reflection model: its model and revision, and the temperature and max_tokens set."""

    model: str
    revision: str
    temperature: float | None = None
    max_tokens: int | None = None


def _with_model(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Settings with the model block under key, when given, read into a ModelSpec."""
    return {**raw, key: ModelSpec(**raw[key])} if key in raw else dict(raw)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """An optimizer's settings, read by attribute; SCHEMA validates them and declares their defaults."""

    SCHEMA: ClassVar[dict[str, Any]]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """The settings of a validated settings block; what it leaves out takes its default."""
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data: the ones set and the defaults, not those left out without one."""
        plain: dict[str, Any] = _plain(self)
        return plain


# The setting of single-candidate optimizers that scores their one candidate on val.
VALIDATE_SETTING: dict[str, Any] = {"type": "boolean", "default": False}

# Settings shared by every optimizer that bootstraps demos (optimizers/demos.py).
DEMO_SETTINGS: dict[str, Any] = {
    "max_bootstrapped_demos": {"type": "integer", "minimum": 0, "default": 4},
    "max_labeled_demos": {"type": "integer", "minimum": 0, "default": 6},
    "teacher_demos": {"type": "integer", "minimum": 0, "default": 4},
    "max_traced": {"type": "integer", "minimum": 1, "default": 16},
    "metric_threshold": {"type": "number", "default": 1.0},
}


@dataclass(frozen=True, kw_only=True)
class DemoSettings(Settings):
    """How demos are bootstrapped: teacher traces, the acceptance threshold, the demo counts."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": DEMO_SETTINGS,
    }
    max_bootstrapped_demos: int = default_of(SCHEMA, "max_bootstrapped_demos")
    max_labeled_demos: int = default_of(SCHEMA, "max_labeled_demos")
    teacher_demos: int = default_of(SCHEMA, "teacher_demos")
    max_traced: int = default_of(SCHEMA, "max_traced")
    metric_threshold: float = default_of(SCHEMA, "metric_threshold")


@dataclass(frozen=True, kw_only=True)
class AutoSettings(Settings):
    """auto's settings (optimizers/auto.py)."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "demo_sets": {"type": "integer", "minimum": 0, "default": 2},
            "max_demos": {"type": "integer", "minimum": 1, "default": 8},
            "knn": {"type": "integer", "minimum": 0, "default": 4},
            "knn_pool": {"type": "integer", "minimum": 1, "default": 512},
            "confirm_train": {"type": "integer", "minimum": 0, "default": 60},
            "calibrate": {"type": "boolean", "default": True},
            "ensemble": {"type": "integer", "minimum": 0, "default": 3},
            "bootstrap": {"type": "integer", "minimum": 0, "default": 4},
        },
    }
    demo_sets: int = default_of(SCHEMA, "demo_sets")
    max_demos: int = default_of(SCHEMA, "max_demos")
    knn: int = default_of(SCHEMA, "knn")
    knn_pool: int = default_of(SCHEMA, "knn_pool")
    confirm_train: int = default_of(SCHEMA, "confirm_train")
    calibrate: bool = default_of(SCHEMA, "calibrate")
    ensemble: int = default_of(SCHEMA, "ensemble")
    bootstrap: int = default_of(SCHEMA, "bootstrap")


@dataclass(frozen=True, kw_only=True)
class LabeledSettings(Settings):
    """labeled_fewshot's settings (optimizers/labeled.py)."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"k": {"type": "integer", "minimum": 0, "default": 6}, "validate": VALIDATE_SETTING},
    }
    k: int = default_of(SCHEMA, "k")
    validate: bool = default_of(SCHEMA, "validate")


@dataclass(frozen=True, kw_only=True)
class BootstrapSettings(DemoSettings):
    """bootstrap_fewshot's settings (optimizers/bootstrap.py)."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {**DEMO_SETTINGS, "validate": VALIDATE_SETTING},
    }
    validate: bool = default_of(SCHEMA, "validate")


@dataclass(frozen=True, kw_only=True)
class RandomSearchSettings(DemoSettings):
    """random_search's settings (optimizers/random_search.py)."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "num_candidate_programs": {"type": "integer", "minimum": 0, "default": 8},
            "min_bootstrapped_demos": {"type": "integer", "minimum": 0, "default": 1},
            **DEMO_SETTINGS,
        },
    }
    num_candidate_programs: int = default_of(SCHEMA, "num_candidate_programs")
    min_bootstrapped_demos: int = default_of(SCHEMA, "min_bootstrapped_demos")


# mipro's `auto` presets: the search sizes a config does not set.
PRESETS: dict[str, dict[str, int]] = {
    "light": {"num_candidates": 6, "num_trials": 10, "minibatch_size": 25, "minibatch_full_eval_steps": 5},
    "medium": {"num_candidates": 12, "num_trials": 18, "minibatch_size": 35, "minibatch_full_eval_steps": 5},
    "heavy": {"num_candidates": 18, "num_trials": 27, "minibatch_size": 35, "minibatch_full_eval_steps": 5},
}


@dataclass(frozen=True, kw_only=True)
class MiproSettings(DemoSettings):
    """mipro's settings (optimizers/mipro.py); the search sizes not set come from the `auto` preset."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "auto": {"enum": list(PRESETS), "default": "light"},
            "num_candidates": {"type": "integer", "minimum": 1},
            "num_trials": {"type": "integer", "minimum": 0},
            "minibatch_size": {"type": "integer", "minimum": 1},
            "minibatch_full_eval_steps": {"type": "integer", "minimum": 1},
            "proposal_examples": {"type": "integer", "minimum": 0, "default": 6},
            "tips": {"type": "boolean", "default": True},
            "prompt_model": model_spec(True),
            "min_bootstrapped_demos": {"type": "integer", "minimum": 0, "default": 1},
            **DEMO_SETTINGS,
        },
    }
    auto: str = default_of(SCHEMA, "auto")
    num_candidates: int
    num_trials: int
    minibatch_size: int
    minibatch_full_eval_steps: int
    proposal_examples: int = default_of(SCHEMA, "proposal_examples")
    tips: bool = default_of(SCHEMA, "tips")
    prompt_model: ModelSpec | None = None  # None: the target proposes
    min_bootstrapped_demos: int = default_of(SCHEMA, "min_bootstrapped_demos")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """The settings of a validated settings block, the search sizes it leaves out from its preset."""
        preset = PRESETS[raw.get("auto", default_of(cls.SCHEMA, "auto"))]
        return cls(**{**preset, **_with_model(raw, "prompt_model")})


@dataclass(frozen=True, kw_only=True)
class CoproSettings(Settings):
    """copro's settings (optimizers/copro.py)."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "breadth": {"type": "integer", "minimum": 1, "default": 4},
            "depth": {"type": "integer", "minimum": 1, "default": 2},
            "init_temperature": {"type": "number", "minimum": 0, "maximum": 2, "default": 0.7},
            "proposal_examples": {"type": "integer", "minimum": 0, "default": 6},
            "prompt_model": model_spec(False),
        },
    }
    breadth: int = default_of(SCHEMA, "breadth")
    depth: int = default_of(SCHEMA, "depth")
    init_temperature: float = default_of(SCHEMA, "init_temperature")
    proposal_examples: int = default_of(SCHEMA, "proposal_examples")
    prompt_model: ModelSpec | None = None  # None: the target proposes

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """The settings of a validated settings block."""
        return cls(**_with_model(raw, "prompt_model"))


# gepa's `auto` presets: the rounds whose metric calls make the budget.
AUTO_ROUNDS = {"light": 6, "medium": 12, "heavy": 24}


@dataclass(frozen=True, kw_only=True)
class GepaSettings(Settings):
    """gepa's settings (optimizers/gepa.py)."""

    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["reflection_model"],
        "properties": {
            "reflection_model": model_spec(True),
            "auto": {"enum": list(AUTO_ROUNDS), "default": "light"},
            "max_metric_calls": {"type": "integer", "minimum": 1},
            "minibatch_size": {"type": "integer", "minimum": 1, "default": 3},
            "merge": {"type": "boolean", "default": False},
        },
    }
    reflection_model: ModelSpec
    auto: str = default_of(SCHEMA, "auto")
    max_metric_calls: int | None = None  # None: the auto preset's rounds' worth
    minibatch_size: int = default_of(SCHEMA, "minibatch_size")
    merge: bool = default_of(SCHEMA, "merge")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """The settings of a validated settings block."""
        return cls(**_with_model(raw, "reflection_model"))
