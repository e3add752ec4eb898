"""The context plugin's counters and the Prometheus families built from them at scrape time.

Strategy: the request path only bumps plain integers (:class:`SourceStats`); the families are
built when the runner is scraped (:func:`families`), from these counters and from the breakers'
current state, so metrics cost nothing on the request path but a dict update.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from runner_plugins.context.breaker import State

__all__ = ["SourceStats", "families"]

#: Breaker state as a number: one time series per backend that graphs and alerts well.
_STATE_VALUE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class SourceStats:
    """Backend calls by source and status, and answer-cache lookups."""

    __slots__ = ("calls", "cache_hits", "cache_misses")

    def __init__(self) -> None:
        #: (source, status) -> count; status is ok, error, timeout or skipped (breaker open).
        self.calls: dict[tuple[str, str], int] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    def call(self, source: str, status: str) -> None:
        key = (source, status)
        self.calls[key] = self.calls.get(key, 0) + 1


def families(stats: SourceStats, breakers: Mapping[str, State]) -> Iterator[Metric]:
    """The context plugin's metric families (runner_context_*)."""
    calls = CounterMetricFamily(
        "runner_context_backend_calls",
        "Sources fetched from the backend (cache hits excluded), by source and status "
        "(ok, error, timeout, skipped = breaker open).",
        labels=["source", "status"],
    )
    for (source, status), count in sorted(stats.calls.items()):
        calls.add_metric([source, status], count)
    yield calls
    lookups = CounterMetricFamily(
        "runner_context_cache_lookups",
        "Answer-cache lookups by result (hit, miss).",
        labels=["result"],
    )
    lookups.add_metric(["hit"], stats.cache_hits)
    lookups.add_metric(["miss"], stats.cache_misses)
    yield lookups
    state = GaugeMetricFamily(
        "runner_context_breaker_state",
        "Circuit breaker per backend: 0 closed, 1 half-open, 2 open.",
        labels=["backend"],
    )
    for backend, current in sorted(breakers.items()):
        state.add_metric([backend], _STATE_VALUE[current])
    yield state
