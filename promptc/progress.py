"""The progress-reporting protocol core code talks to (the CLI renders it with rich)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[], None]


class Reporter(Protocol):
    """Receives stages of long work; returns a callback to advance each one."""

    def stage(self, name: str, total: int) -> Advance:
        """Start a stage with a known number of steps."""
        ...


class Silent:
    """A reporter that shows nothing."""

    def stage(self, name: str, total: int) -> Advance:
        """Start a stage; nothing is shown."""
        return lambda: None
