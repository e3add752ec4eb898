"""Repeated warnings, bounded: the first few of a kind are logged, the rest counted and summed up.

Strategy: a peer that breaks the protocol costs the runner one WARNING line per connection, so a
broken or hostile client sending 10,000 bad frames wrote about 10,000 lines. Each warning names a
stable ``kind`` ("closing connection", "unknown RPC type"...); within a window (60 s) the first
``burst`` of a kind are logged as they come, later ones only counted. When the window has passed,
one line says how many were suppressed, with the last message as an example; the server's sweep
calls :meth:`WarningLimiter.flush` every second, so the summary comes even when the flood stops.
The clock is injected so tests do not sleep. Totals per kind stay available to the metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["WarningLimiter"]


@dataclass(slots=True)
class _Kind:
    window_start: float
    logged: int = 0
    suppressed: int = 0
    last: str = ""


class WarningLimiter:
    """Logs at most ``burst`` warnings of one kind per ``window`` seconds, then a summary."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or window <= 0:
            raise ValueError("burst and window must be positive")
        self._logger = logger
        self._burst = burst
        self._window = window
        self._clock = clock
        self._kinds: dict[str, _Kind] = {}
        #: Every warning seen, logged or not, by kind (for the metrics).
        self.totals: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        """Log ``message % args`` unless ``kind`` already used its burst in this window."""
        self.totals[kind] = self.totals.get(kind, 0) + 1
        now = self._clock()
        state = self._kinds.get(kind)
        if state is None:
            # Kinds are a handful of literals in the code, so this dict stays small.
            state = self._kinds[kind] = _Kind(window_start=now)
        elif now - state.window_start >= self._window:
            self._summarize(kind, state)
            state.window_start, state.logged = now, 0
        if state.logged < self._burst:
            state.logged += 1
            self._logger.warning(message, *args)
            if state.logged == self._burst:
                self._logger.warning(
                    "%s: %d warnings in %.0f s, further ones are counted and summarized",
                    kind,
                    self._burst,
                    self._window,
                )
            return
        state.suppressed += 1
        state.last = message % args if args else message

    def flush(self) -> None:
        """Summarize every kind whose window has passed (called periodically)."""
        now = self._clock()
        for kind, state in self._kinds.items():
            if now - state.window_start >= self._window:
                self._summarize(kind, state)
                state.window_start, state.logged = now, 0

    def _summarize(self, kind: str, state: _Kind) -> None:
        if state.suppressed:
            self._logger.warning(
                "%s: %d more in the last %.0f s (last: %s)",
                kind,
                state.suppressed,
                self._window,
                state.last,
            )
            state.suppressed, state.last = 0, ""
