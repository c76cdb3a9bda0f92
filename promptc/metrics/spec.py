"""A metric as configured, typed: one metric (a built-in with its settings, or module:function),
or a composite scoring named outputs apart with weights; and its canonical text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


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


MetricSpec = Single | Composite


def metric_label(spec: MetricSpec) -> str:
    """The metric's canonical text: a bare name as written, anything else as compact sorted JSON.

    It is what configs, lineages and stored evaluations carry; load_metric reads it back.
    """
    data = spec.to_data()
    return data if isinstance(data, str) else json.dumps(data, sort_keys=True, separators=(",", ":"))


def custom_names(spec: MetricSpec) -> list[str]:
    """The module:function metrics the spec uses, each once, in order."""
    singles = [spec] if isinstance(spec, Single) else [p.metric for p in spec.parts]
    return list(dict.fromkeys(s.name for s in singles if s.custom))
