"""Prometheus metrics of the runner, counted with plain integers and read only when scraped.

Strategy: prometheus-client's own metric objects take a lock on every ``inc`` and ``observe``;
the runner is one thread, so on the request path it only bumps plain counters in
:class:`RunnerStats` (list slots reached with one dict lookup; the latency histogram's first
bucket tested inline). Everything else is read when a scrape comes: the conf cache size, the
connection count, the warning totals of the
:class:`~runner_plugins.warning_limiter.WarningLimiter` (protocol errors), and what each plugin
reports through :meth:`~runner_plugins.plugin.Plugin.metrics` (the context plugin: backend calls
by source and status, cache hits, breaker state). :class:`RunnerCollector` turns all of it into
metric families for prometheus-client's registry and exposition format.

:class:`MetricsEndpoint` serves ``GET /metrics`` on the address the operator chose
(``RUNNER_METRICS``: ``host:port`` or ``unix:/path``; off when unset) from the runner's own event
loop: no thread, so a scrape never reads a counter while it changes. It is a deliberately small
HTTP/1.0 responder: one request per connection, the request head bounded in size and time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from runner_plugins.plugin import ResponseChange, Rewrite, Stop
from runner_plugins.protocol import RpcType
from runner_plugins.socket_file import prepare_socket_path

if TYPE_CHECKING:
    from runner_plugins.server import RunnerServer

__all__ = [
    "ERROR",
    "FIRST_BOUND",
    "LATENCY_BUCKETS",
    "OUTCOME_SLOT",
    "MetricsEndpoint",
    "RunnerCollector",
    "RunnerStats",
    "bucket",
    "build_registry",
]

logger = logging.getLogger(__name__)

#: Seconds; the runner's own work is tens of microseconds, the context plugin's tens of ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Most replies take well under it: the request path tests it inline and skips the search.
FIRST_BOUND = LATENCY_BUCKETS[0]
_MAX_REQUEST_HEAD = 8192
_READ_TIMEOUT = 5.0


#: What a plugin returned -> its slot in a plugin's outcome row; anything else is ERROR.
OUTCOME_SLOT: dict[type, int] = {type(None): 0, Stop: 1, Rewrite: 2, ResponseChange: 3}
#: The slot of a plugin that raised or returned something it should not have.
ERROR = 4
_OUTCOME_LABELS = ("continue", "stop", "rewrite", "change", "error")


class RunnerStats:
    """The request path's counters: plain numbers in lists, bumped from the event loop only.

    The request path holds the lists themselves (a plugin's outcome row rides in the conf's
    chain, the latency rows on the connection) and bumps a slot inline: measured, a
    (plugin, outcome) tuple key cost twice as much as a slot, and dropping the per-call lookups
    and a second clock read took the metrics from +0.6 to +0.45-0.5 µs per call. Labels are
    made only at scrape time.
    """

    __slots__ = ("outcomes", "refusals", "latency")

    def __init__(self) -> None:
        #: plugin -> one count per outcome slot (OUTCOME_SLOT, then ERROR)
        self.outcomes: dict[object, list[int]] = {}
        #: reason -> requests refused before any plugin ran
        self.refusals: dict[str, int] = {}
        #: RPC type -> [per-bucket counts..., +Inf count, sum of seconds]; a row for every type,
        #: so the request path indexes without a membership test.
        self.latency: dict[int, list[float]] = {
            int(rpc): [0.0] * (len(LATENCY_BUCKETS) + 2) for rpc in RpcType
        }

    def outcome_row(self, plugin: object) -> list[int]:
        """The plugin's counts, made when a conf first names it."""
        row = self.outcomes.get(plugin)
        if row is None:
            row = self.outcomes[plugin] = [0] * (ERROR + 1)
        return row

    def refused(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1


def bucket(seconds: float) -> int:
    """The histogram row index of a duration."""
    return 0 if seconds <= FIRST_BOUND else bisect.bisect_left(LATENCY_BUCKETS, seconds)


class RunnerCollector(Collector):
    """Builds the runner's metric families at scrape time."""

    def __init__(self, stats: RunnerStats, server: RunnerServer) -> None:
        self._stats = stats
        self._server = server

    def collect(self) -> Iterator[Metric]:
        stats, server = self._stats, self._server
        requests = CounterMetricFamily(
            "runner_requests",
            "Plugin invocations by plugin and outcome (stop, rewrite, continue, change, error); "
            'plugin "" for requests refused before any plugin ran (conf_token_not_found, '
            "rejected_conf).",
            labels=["plugin", "outcome"],
        )
        totals: dict[tuple[str, str], int] = {}
        for plugin, counts in list(stats.outcomes.items()):
            name = str(getattr(plugin, "name", plugin))
            for label, count in zip(_OUTCOME_LABELS, counts, strict=True):
                if count:
                    totals[name, label] = totals.get((name, label), 0) + count
        for reason, count in stats.refusals.items():
            totals["", reason] = count
        for (name, outcome), count in sorted(totals.items()):
            requests.add_metric([name, outcome], count)
        yield requests
        latency = HistogramMetricFamily(
            "runner_request_duration_seconds",
            "Time from a request frame to its reply, plugins' awaits included, by RPC.",
            labels=["rpc"],
        )
        for rpc_type, row in sorted(stats.latency.items()):
            if not any(row[:-1]):
                continue  # an RPC type never timed (only HTTPReqCall and HTTPRespCall are)
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, in_bucket in zip((*LATENCY_BUCKETS, float("inf")), row[:-1], strict=True):
                cumulative += in_bucket
                buckets.append((_le(bound), cumulative))
            latency.add_metric([_rpc_name(rpc_type)], buckets, sum_value=row[-1])
        yield latency
        yield GaugeMetricFamily(
            "runner_conf_cache_entries",
            "Prepared confs (tokens) held by the runner.",
            value=len(server.dispatcher.cache),
        )
        yield GaugeMetricFamily(
            "runner_connections", "Open APISIX connections.", value=server.connection_count
        )
        errors = CounterMetricFamily(
            "runner_protocol_errors",
            "Peer-caused warnings by kind, logged or only counted (bad frames, unknown conf "
            "tokens or RPC types, refused connections, cancelled requests).",
            labels=["kind"],
        )
        warnings = {**server.warnings.totals, **server.dispatcher.warnings.totals}
        for kind, count in sorted(warnings.items()):
            errors.add_metric([kind], count)
        yield errors
        for plugin in server.registry:
            yield from plugin.metrics()


def _rpc_name(rpc_type: int) -> str:
    try:
        return RpcType(rpc_type).name.lower()
    except ValueError:
        return str(rpc_type)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def build_registry(stats: RunnerStats, server: RunnerServer) -> CollectorRegistry:
    """A registry (not the process-global one) with the runner's and the process' metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunnerCollector(stats, server))
    ProcessCollector(namespace="runner", registry=registry)
    return registry


class MetricsEndpoint:
    """``GET /metrics`` over HTTP/1.0 on ``host:port`` or ``unix:/path``, on the running loop."""

    def __init__(self, address: str, render: Callable[[], bytes]) -> None:
        self.address = address
        self._render = render
        self._server: asyncio.Server | None = None
        self._path: str | None = None

    @classmethod
    def for_registry(cls, address: str, registry: CollectorRegistry) -> MetricsEndpoint:
        return cls(address, lambda: generate_latest(registry))

    async def start(self) -> None:
        if self.address.startswith("unix:"):
            path = self.address.removeprefix("unix:")
            prepare_socket_path(path)
            self._server = await asyncio.start_unix_server(self._serve, path)
            os.chmod(path, 0o660)
            self._path = path
        else:
            host, _, port = self.address.rpartition(":")
            self._server = await asyncio.start_server(self._serve, host.strip("[]"), int(port))
        logger.info("metrics on %s/metrics", self.describe())

    def describe(self) -> str:
        """Where it listens (the bound port when 0 was asked)."""
        if self._path is not None:
            return f"unix:{self._path}"
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            self._path = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            status, body, content_type = self._answer(head)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status, body, content_type = "400 Bad Request", b"bad request\n", "text/plain"
        except ConnectionError:
            writer.close()
            return
        writer.write(
            f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    def _answer(self, head: bytes) -> tuple[str, bytes, str]:
        if len(head) > _MAX_REQUEST_HEAD:
            return "400 Bad Request", b"bad request\n", "text/plain"
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or parts[0] != b"GET":
            return "405 Method Not Allowed", b"GET /metrics only\n", "text/plain"
        if parts[1].split(b"?", 1)[0] != b"/metrics":
            return "404 Not Found", b"GET /metrics only\n", "text/plain"
        return "200 OK", self._render(), CONTENT_TYPE_LATEST
