"""A TTL cache for successful backend source answers, bounded by entries AND bytes.

Strategy: an ``OrderedDict`` kept in least-recently-used order. Every entry carries the size
of the backend body it came from, so the byte bound tracks what the backend actually sent
rather than Python object overhead (which is roughly proportional). Expiry is checked lazily on
read against an injected clock, so tests never sleep; the TTL is passed on each read because
it belongs to the route conf, which APISIX may change while the cache lives on. Only the
caller decides what is cacheable: the fetch layer stores complete, successful answers only,
never errors or partial lists (the same rule KrakenD applies to incomplete responses).
Values are shared between requests and must be treated as read-only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    size: int
    stored_at: float


class SourceCache:
    """LRU + TTL map from a backend URL path to a decoded JSON answer."""

    def __init__(self, max_entries: int, max_bytes: int, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: str, ttl_s: float) -> Any | None:
        """Return the fresh value for key (refreshing its LRU position), else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if ttl_s <= 0 or self._clock() - entry.stored_at >= ttl_s:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: str, value: Any, size: int) -> bool:
        """Store value; False when it can never fit (then nothing is stored)."""
        if self.max_entries <= 0 or size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(value, size, self._clock())
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
        return True

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
