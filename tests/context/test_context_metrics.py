"""The context plugin's metrics: backend calls by source and status, cache hits, breaker state."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from runner_plugins.context.conf import ContextConf
from runner_plugins.context.plugin import ContextPlugin
from tests.context.conftest import ask
from tests.context.fake_backend import FakeBackend
from tests.metrics_text import Samples, samples

ConfFor = Callable[..., ContextConf]


class _PluginCollector(Collector):
    def __init__(self, plugin: ContextPlugin) -> None:
        self._plugin = plugin

    def collect(self) -> Iterable[Metric]:
        return self._plugin.metrics()


def _scrape(plugin: ContextPlugin) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_PluginCollector(plugin))
    return samples(generate_latest(registry).decode())


async def test_calls_cache_hits_and_breaker_state_are_reported(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    cached = conf_for(fake.url, cache_ttl_s=60)
    assert (await ask(plugin, cached, "/speaker/1/context")).status == 200
    assert (await ask(plugin, cached, "/speaker/1/context")).status == 200  # all from cache
    got = _scrape(plugin)
    calls = "runner_context_backend_calls_total"
    fetched = {labels: v for (name, labels), v in got.items() if name == calls}
    assert fetched[(("source", "speaker"), ("status", "ok"))] == 1
    assert sum(fetched.values()) == len(fake.calls)  # every backend request counted once
    hits = got[("runner_context_cache_lookups_total", (("result", "hit"),))]
    misses = got[("runner_context_cache_lookups_total", (("result", "miss"),))]
    assert (hits, misses) == (misses, sum(fetched.values()))  # the second ask hit each miss
    assert got[("runner_context_breaker_state", (("backend", fake.url),))] == 0

    failing = conf_for(fake.url, breaker_failures=1, breaker_reset_s=60, cache_ttl_s=0)
    fake.fault["speaker"] = "500"
    assert (await ask(plugin, failing, "/speaker/2/context")).status == 502
    assert (await ask(plugin, failing, "/speaker/2/context")).status == 503
    got = _scrape(plugin)
    assert got[(calls, (("source", "speaker"), ("status", "error")))] == 1
    assert got[(calls, (("source", "speaker"), ("status", "skipped")))] == 1
    assert got[("runner_context_breaker_state", (("backend", fake.url),))] == 2
