"""Conf tokens: what PrepareConf created, looked up by every HTTPReqCall.

Strategy: APISIX never says when a token is no longer needed, and a worker may present a token up to
about 1.9 x ``APISIX_CONF_EXPIRE_TIME`` after the PrepareConf that created it (the token sits in a
shared dict that expires a little before that time, and a worker's own LRU copy may outlive it by
another expire time; ``get_conf_token`` in
https://github.com/apache/apisix/blob/3.18.0/apisix/plugins/ext-plugin/init.lua), so an entry lives
``ttl`` (2 x that time by default) after its creation or its last use, whichever is later. The
number of entries is bounded: when full, expired entries go first, then the oldest. A token that is
gone is answered with CONF_TOKEN_NOT_FOUND by the dispatcher, which makes APISIX prepare it again.

Tokens start at a random 32-bit value so that a restarted runner does not hand
out a token an APISIX worker still holds for a different route (under
``path_for_test`` APISIX never learns about the restart). The idempotency
``key`` of PrepareConf maps to the live token it created: same key, same token.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner_plugins.plugin import Plugin

__all__ = ["ConfCache", "ConfEntry", "PluginChain"]

#: A route's plugins in conf order, each with the conf it parsed at PrepareConf and its outcome
#: counts in the metrics (None while metrics are off).
PluginChain = tuple[tuple[Plugin[Any], Any, list[int] | None], ...]


@dataclass(slots=True)
class ConfEntry:
    """One prepared conf: a runnable chain, or the reason it could not be built."""

    key: str
    chain: PluginChain
    error: str | None = None
    expires: float = field(default=0.0)


class ConfCache:
    """Token -> :class:`ConfEntry`, with a sliding TTL and a size bound."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        first_token: int | None = None,
    ) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError("ttl and max_entries must be positive")
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[int, ConfEntry] = OrderedDict()
        self._by_key: dict[str, int] = {}
        self._next = secrets.randbits(32) if first_token is None else first_token

    @property
    def ttl(self) -> float:
        """Seconds an entry lives after its creation or last use."""
        return self._ttl

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: int) -> ConfEntry | None:
        """The live entry for ``token`` (its lifetime is extended), or None."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        now = self._clock()
        if entry.expires < now:
            self._drop(token, entry)
            return None
        entry.expires = now + self._ttl
        return entry

    def token_for_key(self, key: str) -> int | None:
        """The live token PrepareConf already issued for ``key``, if any."""
        token = self._by_key.get(key)
        if token is None or self.get(token) is None:
            return None
        return token

    def add(self, entry: ConfEntry) -> int:
        """Store ``entry`` under a fresh token and return the token."""
        now = self._clock()
        if len(self._entries) >= self._max:
            self._evict(now)
        token = self._fresh_token()
        entry.expires = now + self._ttl
        self._entries[token] = entry
        if entry.key:
            self._by_key[entry.key] = token
        return token

    def _fresh_token(self) -> int:
        while True:
            token = self._next
            self._next = (token + 1) & 0xFFFFFFFF
            if token not in self._entries:
                return token

    def _evict(self, now: float) -> None:
        expired = [t for t, e in self._entries.items() if e.expires < now]
        for token in expired:
            self._drop(token, self._entries[token])
        while len(self._entries) >= self._max:
            token, entry = next(iter(self._entries.items()))
            self._drop(token, entry)

    def _drop(self, token: int, entry: ConfEntry) -> None:
        del self._entries[token]
        if self._by_key.get(entry.key) == token:
            del self._by_key[entry.key]
