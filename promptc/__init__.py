"""promptc: compile, evaluate, gate and release LLM prompt programs."""

from __future__ import annotations

__version__ = "0.1.0"
