"""Optimizers, one module each, in an explicit registry.

Beside the optimizers: base.py (the compile contract and the trial log every search runs
through), settings.py (every optimizer's settings: schema, defaults and dataclass), demos.py
(demo sets), proposals.py (asking a model for instructions, and the hygiene a proposal must
pass) and gepa_state.py (gepa's saved state and candidate pool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from promptc.errors import ConfigError
from promptc.optimizers import auto, bootstrap, copro, gepa, labeled, mipro, random_search
from promptc.optimizers.base import CallEstimate, CompileInputs, CompileResult
from promptc.optimizers.settings import (
    AutoSettings,
    BootstrapSettings,
    CoproSettings,
    GepaSettings,
    LabeledSettings,
    MiproSettings,
    RandomSearchSettings,
    Settings,
)
from promptc.prompting.program import Program

S = TypeVar("S", bound=Settings)
S_contra = TypeVar("S_contra", bound=Settings, contravariant=True)


class EstimateCalls(Protocol[S_contra]):
    """The model calls a compile makes on a cold cache, from the settings, the split sizes and,
    where it changes the plan (auto: one label or not), the program."""

    def __call__(
        self, settings: S_contra, n_train: int, n_val: int, program: Program | None = None, /
    ) -> CallEstimate: ...


@dataclass(frozen=True)
class Optimizer(Generic[S]):
    """An optimizer's compile function, its settings (schema and dataclass) and its call estimate."""

    compile_program: Callable[[CompileInputs, S], CompileResult]
    settings_type: type[S]
    estimate_calls: EstimateCalls[S]

    @property
    def settings_schema(self) -> dict[str, Any]:
        """The JSON Schema that validates the settings and declares their defaults."""
        return self.settings_type.SCHEMA

    def read_settings(self, raw: Mapping[str, Any]) -> S:
        """Validated settings (get_optimizer), read into the optimizer's settings dataclass."""
        return self.settings_type.from_dict(raw)

    def compile(self, inputs: CompileInputs) -> CompileResult:
        """Compile with the inputs' settings read into the optimizer's settings dataclass."""
        return self.compile_program(inputs, self.read_settings(inputs.settings))


OPTIMIZERS: dict[str, Optimizer[Any]] = {
    "auto": Optimizer(auto.compile_program, AutoSettings, auto.estimate_calls),
    "labeled_fewshot": Optimizer(labeled.compile_program, LabeledSettings, labeled.estimate_calls),
    "bootstrap_fewshot": Optimizer(bootstrap.compile_program, BootstrapSettings, bootstrap.estimate_calls),
    "random_search": Optimizer(
        random_search.compile_program, RandomSearchSettings, random_search.estimate_calls
    ),
    "mipro": Optimizer(mipro.compile_program, MiproSettings, mipro.estimate_calls),
    "copro": Optimizer(copro.compile_program, CoproSettings, copro.estimate_calls),
    "gepa": Optimizer(gepa.compile_program, GepaSettings, gepa.estimate_calls),
}


def get_optimizer(name: str, settings: dict[str, Any]) -> Optimizer[Any]:
    """The named optimizer, with its settings validated."""
    import jsonschema

    if name not in OPTIMIZERS:
        raise ConfigError(
            f"optimizer.name: unknown optimizer {name!r}", fix=f"use one of {', '.join(OPTIMIZERS)}"
        )
    optimizer = OPTIMIZERS[name]
    errors = list(jsonschema.Draft202012Validator(optimizer.settings_schema).iter_errors(settings))
    if errors:
        allowed = ", ".join(optimizer.settings_schema["properties"])
        lines = [
            f"  optimizer.settings.{'.'.join(map(str, e.absolute_path)) or ''}: {e.message}" for e in errors
        ]
        raise ConfigError(
            f"invalid settings for {name}:\n" + "\n".join(lines), fix=f"{name} accepts: {allowed}"
        )
    return optimizer
