"""Optimizers, one module each, in an explicit registry.

Beside the optimizers: base.py (the compile contract and the trial log every search runs
through), demos.py (demo sets), proposals.py (asking a model for instructions, and the
hygiene a proposal must pass) and gepa_state.py (gepa's saved state and candidate pool).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from promptc.errors import ConfigError
from promptc.optimizers import auto, bootstrap, copro, gepa, labeled, mipro, random_search
from promptc.optimizers.base import CallEstimate, CompileInputs, CompileResult
from promptc.program import Program


class EstimateCalls(Protocol):
    """The model calls a compile makes on a cold cache, from the settings, the split sizes and,
    where it changes the plan (auto: one label or not), the program."""

    def __call__(
        self, settings: dict[str, Any], n_train: int, n_val: int, program: Program | None = None
    ) -> CallEstimate: ...


@dataclass(frozen=True)
class Optimizer:
    """An optimizer's compile function, its settings schema and its call estimate."""

    compile: Callable[[CompileInputs], CompileResult]
    settings_schema: dict[str, Any]
    estimate_calls: EstimateCalls


OPTIMIZERS: dict[str, Optimizer] = {
    "auto": Optimizer(auto.compile_program, auto.SETTINGS, auto.estimate_calls),
    "labeled_fewshot": Optimizer(labeled.compile_program, labeled.SETTINGS, labeled.estimate_calls),
    "bootstrap_fewshot": Optimizer(bootstrap.compile_program, bootstrap.SETTINGS, bootstrap.estimate_calls),
    "random_search": Optimizer(
        random_search.compile_program, random_search.SETTINGS, random_search.estimate_calls
    ),
    "mipro": Optimizer(mipro.compile_program, mipro.SETTINGS, mipro.estimate_calls),
    "copro": Optimizer(copro.compile_program, copro.SETTINGS, copro.estimate_calls),
    "gepa": Optimizer(gepa.compile_program, gepa.SETTINGS, gepa.estimate_calls),
}


def get_optimizer(name: str, settings: dict[str, Any]) -> Optimizer:
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
