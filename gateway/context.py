"""The per-request state plugins read and change, the built routes and consumers, the services.

Strategy: one mutable :class:`RequestContext` per request plays the part of APISIX's ``api_ctx``
plus ``ngx.var``: plugins edit the headers and query that go upstream and queue the headers that
go back to the client, and the pipeline applies them. Everything long-lived (the runner client,
the rate-limit counters, the consumers) sits in :class:`Services`, built once at startup.

This is the gateway's bottom layer: of the gateway it imports only :mod:`gateway.errors`. The
plugins are known here only as the small :class:`Plugin` protocol, so ``gateway.plugins`` can
import this module for real and nothing imports in a circle (tests/gateway/test_layers.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from limits.aio.strategies import FixedWindowRateLimiter
from multidict import CIMultiDict, MultiDict

from gateway.errors import Exit
from runner_plugins.client import RunnerClient


class Plugin(Protocol):
    """What routes, consumers and the pipeline need of a configured plugin.

    ``gateway.plugins.base.GatewayPlugin`` is the implementation; ``gateway.build`` makes them.
    """

    @property
    def name(self) -> str:
        """The plugin's name in apisix.yaml."""

    @property
    def priority(self) -> int:
        """APISIX's priority: the pipeline runs a phase's plugins by descending priority."""

    @property
    def phase(self) -> str:
        """ "rewrite", "access", "before_proxy" or "credential" (consumer-side data only)."""

    #: ``_meta.error_response``: replaces the body of any exit >= 400 of this plugin.
    error_response: Any

    async def run(self, ctx: RequestContext) -> Exit | None:
        """Run the plugin's phase; an :class:`Exit` ends the request."""

    def header_filter(self, ctx: RequestContext, headers: CIMultiDict[str]) -> None:
        """Edit the client response headers."""

    def body_filter(self, ctx: RequestContext, body: bytes) -> bytes:
        """Edit the whole client response body."""


@dataclass(frozen=True, slots=True)
class Consumer:
    """A consumer with its plugins built (credentials and plugins merged into the route)."""

    username: str
    plugins: Mapping[str, Plugin]


@dataclass(frozen=True, slots=True)
class Route:
    """A route with its plugins built, as the router matches it and the pipeline runs it."""

    id: str
    uris: tuple[str, ...]
    methods: frozenset[str] | None
    priority: int
    upstream_id: str | None
    plugins: Mapping[str, Plugin]
    #: Changes whenever the route's definition changes; part of the PrepareConf key.
    version: str


@dataclass(slots=True)
class Services:
    """Shared, long-lived collaborators of the plugins."""

    consumers: Sequence[Consumer]
    limiter: FixedWindowRateLimiter
    runner: RunnerClient | None


@dataclass(slots=True)
class RequestContext:
    """One request on its way through the phases."""

    method: str
    #: The normalised, percent-decoded path (APISIX ``var.uri``) the router matched.
    path: str
    #: The path as the client sent it (still encoded), without the query.
    raw_path: str
    args: MultiDict[str]
    #: The request headers that will go upstream (plugins edit them).
    headers: CIMultiDict[str]
    src_ip: str
    server_port: int
    body: bytes
    route: Route
    services: Services
    #: Over client_max_body_size: refused (413) when proxying, as nginx's delayed check does.
    body_too_large: bool = False
    #: The runner's numeric request id (APISIX: worker id << 22 + counter).
    runner_request_id: int = 0
    consumer: Consumer | None = None
    #: Name -> plugin, route plugins merged with the consumer's once one is identified.
    plugins: dict[str, Plugin] = field(default_factory=dict)
    #: Set by proxy-rewrite ``uri`` or a runner Rewrite path (encoded, without query).
    upstream_path: str | None = None
    args_changed: bool = False
    #: Set by proxy-rewrite ``method``.
    upstream_method: str | None = None
    #: Overrides the Host sent upstream (proxy-rewrite ``host``, runner Rewrite ``host``).
    upstream_host: str | None = None
    #: Headers queued for the client response (set first, add repeats), e.g. X-RateLimit-*.
    resp_headers: list[tuple[str, str]] = field(default_factory=list)
    #: Free-form values plugins hand to their header filters (APISIX keeps them in ``ctx``).
    vars: dict[str, str] = field(default_factory=dict)
    #: The answer is a bare status that nginx serves through ``error_page``: no header filters.
    error_page: bool = False
    #: Status of the upstream's answer (APISIX ``upstream_status``); None when never proxied.
    upstream_status: int | None = None
    #: Status of the client response, known to the header and body filters.
    status: int = 0

    def variable(self, name: str) -> str | None:
        """An nginx/APISIX variable as the runner's ExtraInfo may ask for it."""
        if name.startswith("http_"):
            return self.headers.get(name[5:].replace("_", "-"))
        if name.startswith("arg_"):
            return self.args.get(name[4:])
        known = {
            "uri": self.path,
            "request_uri": self.raw_path,
            "request_method": self.method,
            "method": self.method,
            "remote_addr": self.src_ip,
            "server_port": str(self.server_port),
            "scheme": "http",
            "host": (self.headers.get("Host") or "").split(":")[0],
            "route_id": self.route.id,
            "consumer_name": self.consumer.username if self.consumer else None,
        }
        if name in known:
            return known[name]
        return self.vars.get(name)
