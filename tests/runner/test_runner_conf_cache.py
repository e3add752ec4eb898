"""Conf cache with an injected clock: lifetime, sliding expiry, bounds, idempotent keys."""

from __future__ import annotations

import pytest

from runner_plugins.conf_cache import ConfCache, ConfEntry
from runner_plugins.config import RunnerConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(key: str = "") -> ConfEntry:
    return ConfEntry(key=key, chain=())


def test_default_ttl_is_twice_the_apisix_expire_time():
    config = RunnerConfig.from_env({"APISIX_CONF_EXPIRE_TIME": "3600"}, listen="/tmp/x.sock")
    assert config.conf_ttl == 7200


def test_entry_lives_ttl_then_expires():
    clock = Clock()
    cache = ConfCache(ttl=7200, clock=clock)
    token = cache.add(entry())
    clock.now += 6840  # the longest an APISIX worker may still present it (1.9 x 3600)
    assert cache.get(token) is not None
    clock.now += 7200.001
    assert cache.get(token) is None
    assert len(cache) == 0


def test_use_extends_the_lifetime():
    clock = Clock()
    cache = ConfCache(ttl=100, clock=clock)
    token = cache.add(entry())
    for _ in range(5):
        clock.now += 90
        assert cache.get(token) is not None
    clock.now += 101
    assert cache.get(token) is None


def test_same_key_same_token_until_expiry():
    clock = Clock()
    cache = ConfCache(ttl=100, clock=clock)
    token = cache.add(entry("route#1#ext-plugin-pre-req#1"))
    assert cache.token_for_key("route#1#ext-plugin-pre-req#1") == token
    assert cache.token_for_key("route#2#ext-plugin-pre-req#1") is None
    clock.now += 101
    assert cache.token_for_key("route#1#ext-plugin-pre-req#1") is None


def test_bounded_expired_first_then_oldest():
    clock = Clock()
    cache = ConfCache(ttl=100, max_entries=3, clock=clock)
    old = cache.add(entry("a"))
    clock.now += 60
    kept = [cache.add(entry("b")), cache.add(entry("c"))]
    clock.now += 50  # "a" has expired, "b" and "c" have not
    newest = cache.add(entry("d"))
    assert cache.get(old) is None
    assert all(cache.get(t) is not None for t in kept + [newest])
    fifth = cache.add(entry("e"))  # full of live entries: the oldest ("b") goes
    assert len(cache) == 3
    assert cache.get(kept[0]) is None and cache.token_for_key("b") is None
    assert cache.get(fifth) is not None


def test_tokens_are_fresh_and_wrap_around():
    cache = ConfCache(ttl=10, first_token=2**32 - 2)
    tokens = [cache.add(entry()) for _ in range(4)]
    assert tokens == [2**32 - 2, 2**32 - 1, 0, 1]


def test_start_token_is_random():
    starts = {ConfCache(ttl=10).add(entry()) for _ in range(5)}
    assert len(starts) > 1


def test_invalid_bounds_are_refused():
    with pytest.raises(ValueError):
        ConfCache(ttl=0)
    with pytest.raises(ValueError):
        ConfCache(ttl=1, max_entries=0)
