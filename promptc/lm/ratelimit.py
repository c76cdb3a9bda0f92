"""Requests-per-minute and tokens-per-minute caps shared by an LM's concurrent workers.

A sliding window, kept conservatively: a request counts against the window from the moment
it is sent until one window after its reply came back. The provider receives a request
after we send it and before we read its reply, so however its clock and ours differ, it
never sees more than the cap inside any window of its own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

WINDOW_S = 60.0  # the caps are per minute


@dataclass
class _Slot:
    """One request in the window: when it was sent, when its reply came back, its tokens."""

    sent: float
    tokens: int
    done: float | None = None


class RateLimiter:
    """Blocks each request until it fits under rpm requests and tpm tokens in the window."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.rpm, self.tpm, self.window_s = rpm, tpm, WINDOW_S
        self._slots: list[_Slot] = []
        self._changed = threading.Condition()

    def acquire(self, tokens: int) -> tuple[_Slot, float]:
        """Wait until a request of about `tokens` fits; returns its slot and the seconds waited.

        A request estimated at more than tpm on its own is sent when the window is empty
        (otherwise it could never be sent; the provider decides whether it accepts it).
        """
        start = time.monotonic()
        with self._changed:
            while True:
                now = time.monotonic()
                self._slots = [s for s in self._slots if s.done is None or s.done + self.window_s > now]
                if self._fits(tokens):
                    slot = _Slot(now, tokens)
                    self._slots.append(slot)
                    return slot, now - start
                expiries = [s.done + self.window_s - now for s in self._slots if s.done is not None]
                # With no reply back yet, nothing expires until one is: wait to be told.
                self._changed.wait(timeout=max(0.001, min(expiries)) if expiries else None)

    def _fits(self, tokens: int) -> bool:
        if self.rpm is not None and len(self._slots) >= self.rpm:
            return False
        if self.tpm is not None and self._slots:
            return sum(s.tokens for s in self._slots) + tokens <= self.tpm
        return True

    def release(self, slot: _Slot, tokens: int | None = None) -> None:
        """The reply came back (or the attempt failed); tokens, when known, replaces the estimate."""
        with self._changed:
            slot.done = time.monotonic()
            if tokens is not None:
                slot.tokens = tokens
            self._changed.notify_all()
