"""A per-backend circuit breaker: closed, open, half-open with a single probe.

Strategy: count consecutive failed backend calls (transport errors, timeouts, 5xx, malformed
answers; a 404 is an answer, not a failure). At the threshold the breaker opens: requests are
refused at once with a Retry-After instead of piling up on a sick backend and burning the
client's budget. When the reset delay has passed the breaker half-opens and admits exactly one
request as a probe; the probe's first call outcome closes or re-opens it. Admission is per
request (not per call) so a probe request can fetch all of its sources. Thresholds come from
the route conf on every call because APISIX may hand us a changed conf at any time. The clock
is injected so tests move time instead of sleeping.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class Admission:
    """The breaker's answer for one request."""

    allowed: bool
    probe: bool = False
    retry_after_s: int = 0


class Breaker:
    """Failure accounting for one backend base URL."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> State:
        return self._state

    def admit(self, reset_s: float) -> Admission:
        """Decide whether a request may call the backend now."""
        if self._state is State.CLOSED:
            return Admission(True)
        if self._state is State.OPEN:
            waited = self._clock() - self._opened_at
            if waited < reset_s:
                return Admission(False, retry_after_s=max(1, math.ceil(reset_s - waited)))
            self._state = State.HALF_OPEN
        if self._probe_in_flight:
            return Admission(False, retry_after_s=1)
        self._probe_in_flight = True
        return Admission(True, probe=True)

    def end_probe(self) -> None:
        """Free the probe slot (call in ``finally``); a probe with no outcome may be retried."""
        self._probe_in_flight = False

    def record(self, ok: bool, threshold: int) -> None:
        """Account one backend call outcome."""
        if ok:
            self._failures = 0
            if self._state is State.HALF_OPEN:
                self._state = State.CLOSED
            return
        if self._state is State.HALF_OPEN:
            self._open()
            return
        if self._state is State.OPEN:
            # A call admitted before the breaker opened; it must not extend the open period.
            return
        self._failures += 1
        if self._failures >= threshold:
            self._open()

    def _open(self) -> None:
        self._state = State.OPEN
        self._opened_at = self._clock()
        self._failures = 0
