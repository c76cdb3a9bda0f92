"""promptc: compile, evaluate, gate and release LLM prompt programs."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load(config_path: str, ref: str = "production") -> Any:
    """The released program behind an alias (or artifact id) as a callable: ``load(cfg)(ticket=...)``."""
    from promptc.api import load as load_program

    return load_program(config_path, ref)
