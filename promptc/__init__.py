"""promptc: compile, evaluate, gate and release LLM prompt programs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def load(config_path: str | Path, ref: str = "production", target: str | None = None) -> Any:
    """The released program behind an alias (or artifact id) as a callable: ``load(cfg)(ticket=...)``;
    target names one of the config's `targets:` (required when it names several)."""
    from promptc.api import load as load_program

    return load_program(config_path, ref, target)
