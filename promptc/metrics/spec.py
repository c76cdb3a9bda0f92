"""A metric as configured, typed: one metric (a built-in with its settings, or module:function),
a composite scoring named outputs apart with weights, or a judge (a pinned model scoring against
a rubric); and its canonical text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from promptc.config.schema import config_schema
from promptc.errors import ConfigError


@dataclass(frozen=True)
class Single:
    """One metric: a built-in name (with the settings that differ from its defaults) or module:function."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def custom(self) -> bool:
        """A module:function metric."""
        return ":" in self.name

    def to_data(self) -> str | dict[str, Any]:
        """As written in YAML: the bare name, or {name: settings}."""
        return {self.name: dict(self.settings)} if self.settings else self.name


@dataclass(frozen=True)
class Part:
    """One output of a composite metric: its metric and its weight."""

    output: str
    metric: Single
    weight: float


@dataclass(frozen=True)
class Composite:
    """Outputs scored apart, each by its own metric; the score is the weighted mean."""

    parts: tuple[Part, ...]

    def to_data(self) -> dict[str, Any]:
        """As written in YAML: {fields: {...}, weights: {...}}, every weight given."""
        return {
            "fields": {p.output: p.metric.to_data() for p in self.parts},
            "weights": {p.output: p.weight for p in self.parts},
        }


@dataclass(frozen=True)
class JudgeSpec:
    """A judge: a pinned model that scores each reply against a rubric on a whole-number scale.

    Every key is part of the canonical text, so the metric fingerprint, the config digest and the
    artifact id change with the judge's model, revision, rubric or scale; where it is served
    (api_base, api_key_env) is left out of the fingerprint and the digest, as a target's is.
    """

    model: str
    revision: str
    rubric: str
    scale: tuple[int, int]  # (lowest, highest)
    max_tokens: int
    api_base: str | None = None
    api_key_env: str | None = None

    def to_data(self) -> dict[str, Any]:
        """As written in YAML: {judge: {model, revision, rubric, scale, max_tokens, ...}}."""
        data: dict[str, Any] = {
            "model": self.model,
            "revision": self.revision,
            "rubric": self.rubric,
            "scale": list(self.scale),
            "max_tokens": self.max_tokens,
        }
        data.update({k: v for k, v in (("api_base", self.api_base), ("api_key_env", self.api_key_env)) if v})
        return {"judge": data}


MetricSpec = Single | Composite | JudgeSpec

MAX_SCALE_STEPS = 100  # a judge's scale has at most this many steps above its lowest score


def parse_judge(raw: Any, where: str) -> JudgeSpec:
    """The judge block (`where` names it, e.g. metric.judge), checked against the config schema's
    judge definition; errors name the key and the fix."""
    import jsonschema

    schema = config_schema()["$defs"]["judge"]
    fix = "write {judge: {model: ..., revision: ..., rubric: ..., scale: [1, 5]}} (README: Metrics)"
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(raw), key=lambda e: list(map(str, e.path))
    )
    for error in errors:
        key = ".".join(map(str, error.absolute_path))
        shown = "(the value is not shown)" if key.split(".")[0] in ("api_base", "api_key_env") else ""
        message = f"must be {error.schema['description']} {shown}" if shown else error.message
        raise ConfigError(f"{where}{'.' + key if key else ''}: {message.strip()}", fix=fix)
    low, high = raw["scale"]
    if not 0 < high - low <= MAX_SCALE_STEPS:
        raise ConfigError(
            f"{where}.scale: [{low}, {high}] is not [lowest, highest] with 1 to {MAX_SCALE_STEPS} steps",
            fix="give the lowest whole-number score first, e.g. scale: [1, 5]",
        )
    if not raw["rubric"].strip():
        raise ConfigError(
            f"{where}.rubric: is blank", fix="say what a good reply does, in words the judge reads"
        )
    default_tokens = schema["properties"]["max_tokens"]["default"]
    return JudgeSpec(
        model=raw["model"],
        revision=raw["revision"],
        rubric=raw["rubric"],
        scale=(low, high),
        max_tokens=raw.get("max_tokens", default_tokens),
        api_base=raw.get("api_base"),
        api_key_env=raw.get("api_key_env"),
    )


def metric_label(spec: MetricSpec) -> str:
    """The metric's canonical text: a bare name as written, anything else as compact sorted JSON.

    It is what configs, lineages and stored evaluations carry; load_metric reads it back.
    """
    data = spec.to_data()
    return data if isinstance(data, str) else json.dumps(data, sort_keys=True, separators=(",", ":"))


def custom_names(spec: MetricSpec) -> list[str]:
    """The module:function metrics the spec uses, each once, in order."""
    if isinstance(spec, JudgeSpec):
        return []
    singles = [spec] if isinstance(spec, Single) else [p.metric for p in spec.parts]
    return list(dict.fromkeys(s.name for s in singles if s.custom))
