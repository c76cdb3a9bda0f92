"""The progress-reporting protocol core code talks to (the CLI renders it with rich)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[], None]


class Reporter(Protocol):
    """Receives stages of long work and the running state of a search."""

    def stage(self, name: str, total: int) -> Advance:
        """Start a stage with a known number of steps."""
        ...

    def status(self, best: float | None, calls: int, tokens: int) -> None:
        """The best validation score so far (None before any), model calls made and tokens spent."""
        ...


class Silent:
    """A reporter that shows nothing."""

    def stage(self, name: str, total: int) -> Advance:
        """Start a stage; nothing is shown."""
        return lambda: None

    def status(self, best: float | None, calls: int, tokens: int) -> None:
        """Nothing is shown."""
