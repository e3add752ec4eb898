"""Calls to the Conference API: one pooled client per process, bounded and accounted.

Strategy: :class:`Backend` is process-wide. It owns the single ``httpx.AsyncClient`` (created on
the running loop, keep-alive pool, no proxies from the environment, no redirects) and, in a
bounded LRU map, one :class:`Upstream` per backend base URL and conf bounds holding the
concurrency semaphore and answer cache sized by that conf, plus the backend's circuit breaker.
:class:`Fetcher` is per request: it carries the request's deadline
(the conf's budget), the headers to propagate, and the breaker admission, and turns every call
into a :class:`SourceResult` - it never raises for backend trouble, because a failing source is
data for the merged document, not a crash.

Each call is bounded three ways: the per-call timeout covers the HTTP exchange, the request
budget covers queueing for a semaphore slot plus the exchange, and the body read stops at
``MAX_SOURCE_BYTES``. Lists are paginated (the backend caps ``limit`` at 100): the first page
tells the total, the remaining pages are fetched concurrently, up to ``MAX_LIST_ITEMS``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard
from urllib.parse import urlencode

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from runner_plugins.context.breaker import Admission, Breaker, State
from runner_plugins.context.cache import SourceCache
from runner_plugins.context.conf import ContextConf
from runner_plugins.context.stats import SourceStats

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_LIST_ITEMS = 1000
MAX_SOURCE_BYTES = 8 * 1024 * 1024
USER_AGENT = "conference-context/0.1"
# Request headers worth forwarding for correlation; nothing else from the client is ever sent
# (no apikey, cookie or authorization: the backend trusts the shared secret only).
PROPAGATED_HEADERS = ("x-request-id", "traceparent", "tracestate")
_PRINTABLE = re.compile(r"[\x20-\x7e]+\Z")

Status = Literal["ok", "error", "timeout", "skipped"]
Kind = Literal["object", "list"]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source (speaker, sessions, topics, resolve) produced for this request."""

    name: str
    status: Status
    http_status: int | None
    latency_ms: float
    cached: bool = False
    error: str | None = None
    data: Any = None
    #: list items beyond MAX_LIST_ITEMS that were not fetched
    not_fetched: int = 0
    retry_after_s: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def meta(self) -> dict[str, Any]:
        """The public meta.sources entry (docs/interfaces.md)."""
        return {
            "name": self.name,
            "status": self.status,
            "http_status": self.http_status,
            "latency_ms": self.latency_ms,
            "cached": self.cached,
            "error": self.error,
        }


class _SourceFailure(Exception):
    """A failed call, already classified (and, when it was the backend's fault, counted)."""

    def __init__(self, status: Status, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.status: Status = status
        self.message = message
        self.http_status = http_status


@dataclass(slots=True)
class Upstream:
    """State shared by the requests of every conf with the same backend and bounds."""

    semaphore: asyncio.Semaphore
    cache: SourceCache
    breaker: Breaker
    #: Fetchers holding this state right now; an idle state is evicted first.
    users: int = 0


#: Distinct (backend_url, bounds) states kept per process. Routes rarely differ, but every conf
#: APISIX sends is operator data, and each state holds a cache of up to ``cache_max_bytes``.
MAX_UPSTREAM_STATES = 64

_StateKey = tuple[str, int, int, int]


def _state_key(conf: ContextConf) -> _StateKey:
    return (conf.backend_url, conf.max_concurrency, conf.cache_max_entries, conf.cache_max_bytes)


class Backend:
    """Process-wide owner of the HTTP client and of the per-backend state."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        max_states: int = MAX_UPSTREAM_STATES,
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._max_states = max_states
        # Least recently used first.
        self._upstreams: OrderedDict[_StateKey, Upstream] = OrderedDict()
        self._warned_full = False
        self.stats = SourceStats()

    async def start(self) -> None:
        """Create the pooled client on the running loop (idempotent)."""
        if self._client is None:
            # The per-backend semaphores are the real bound; this is a backstop.
            limits = httpx.Limits(
                max_connections=1024, max_keepalive_connections=128, keepalive_expiry=30.0
            )
            # httpx's API over aiohttp's connection pool: httpcore's pool re-scans every
            # connection for every queued request, which measured ~10x the CPU per call at 32
            # concurrent calls (docs/performance.md, "Context plugin").
            transport = self._transport or AiohttpTransport(limits=limits, trust_env=False)
            self._client = httpx.AsyncClient(
                transport=transport,
                limits=limits,
                timeout=httpx.Timeout(5.0),
                follow_redirects=False,
                trust_env=False,
                headers={"user-agent": USER_AGENT, "accept": "application/json"},
            )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("Backend.start() was not awaited")
        return self._client

    @property
    def state_count(self) -> int:
        return len(self._upstreams)

    def breakers(self) -> dict[str, State]:
        """Each backend URL's breaker state (the states of one URL share its breaker)."""
        return {key[0]: state.breaker.state for key, state in self._upstreams.items()}

    def upstream(self, conf: ContextConf) -> Upstream:
        """The state for conf's backend and bounds; each conf's own bounds apply.

        Confs that agree on backend and bounds share one state, so a route re-sent under a new
        conf token keeps its cache. Confs with other bounds get their own cap and cache (their
        caps add up on the backend: each route gets what its conf says). The breaker describes
        the backend, not a conf, so it is shared by every state of one backend_url.
        """
        key = _state_key(conf)
        state = self._upstreams.get(key)
        if state is not None:
            self._upstreams.move_to_end(key)
            return state
        breaker = next(
            (s.breaker for k, s in self._upstreams.items() if k[0] == conf.backend_url), None
        )
        state = Upstream(
            semaphore=asyncio.Semaphore(conf.max_concurrency),
            cache=SourceCache(conf.cache_max_entries, conf.cache_max_bytes, self._clock),
            breaker=breaker or Breaker(self._clock),
        )
        self._upstreams[key] = state
        if len(self._upstreams) > self._max_states:
            self._evict()
        return state

    def _evict(self) -> None:
        # The least recently used idle state goes; if every state is busy the oldest goes
        # anyway (the bound is hard): its in-flight requests keep their reference and finish
        # under its semaphore, new ones start on a fresh state.
        victim = next((k for k, s in self._upstreams.items() if s.users == 0), None)
        if victim is None:
            victim = next(iter(self._upstreams))
        del self._upstreams[victim]
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "conference-context: more than %d distinct backend/bounds confs; evicting the "
                "least recently used state (its cache is dropped)",
                self._max_states,
            )


class Fetcher:
    """The backend calls of one client request, sharing its deadline and admission."""

    def __init__(self, backend: Backend, conf: ContextConf, headers: Mapping[str, str]) -> None:
        self._backend = backend
        self._conf = conf
        self._upstream = backend.upstream(conf)
        self._upstream.users += 1
        self._closed = False
        self._deadline = asyncio.get_running_loop().time() + conf.budget_s
        # httpx only sends ASCII header values (anything else raises): a correlation header
        # that is not printable ASCII is dropped rather than failing the request.
        self._headers = {
            name: value for name, value in headers.items() if value and _PRINTABLE.match(value)
        }
        self._headers[conf.secret_header] = conf.secret
        self._admission: Admission | None = None

    def close(self) -> None:
        """Release the breaker probe slot if this request held it (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._upstream.users -= 1
        if self._admission is not None and self._admission.probe:
            self._upstream.breaker.end_probe()

    async def fetch(self, name: str, path: str, kind: Kind, **params: str) -> SourceResult:
        """Fetch one source; classify every failure instead of raising."""
        started = time.perf_counter()
        key = path + ("?" + urlencode(sorted(params.items())) if params else "")
        cached = self._upstream.cache.get(key, self._conf.cache_ttl_s)
        stats = self._backend.stats
        if cached is not None:
            stats.cache_hits += 1
            value, not_fetched = cached
            return SourceResult(
                name, "ok", 200, _ms(started), cached=True, data=value, not_fetched=not_fetched
            )
        stats.cache_misses += 1
        admission = self._admit()
        if not admission.allowed:
            stats.call(name, "skipped")
            return SourceResult(
                name,
                "skipped",
                None,
                _ms(started),
                error=f"circuit breaker open; retry after {admission.retry_after_s} s",
                retry_after_s=admission.retry_after_s,
            )
        try:
            if kind == "object":
                value, size = await self._get_object(path, params)
                not_fetched = 0
            else:
                value, size, not_fetched = await self._get_list(path, params)
        except _SourceFailure as failure:
            stats.call(name, failure.status)
            return SourceResult(
                name, failure.status, failure.http_status, _ms(started), error=failure.message
            )
        stats.call(name, "ok")
        self._upstream.breaker.record(True, self._conf.breaker_failures)
        if self._conf.cache_ttl_s > 0:
            self._upstream.cache.put(key, (value, not_fetched), size)
        return SourceResult(name, "ok", 200, _ms(started), data=value, not_fetched=not_fetched)

    def _admit(self) -> Admission:
        if self._admission is None:
            self._admission = self._upstream.breaker.admit(self._conf.breaker_reset_s)
        return self._admission

    async def _get_object(self, path: str, params: Mapping[str, str]) -> tuple[Any, int]:
        value, size = await self._call(path, params)
        if not isinstance(value, dict) or not _has_identity(value):
            raise self._malformed("expected an object with an integer id and a name or title")
        return value, size

    async def _get_list(self, path: str, params: Mapping[str, str]) -> tuple[list[Any], int, int]:
        first, size = await self._call(path, {**params, "limit": str(PAGE_SIZE), "offset": "0"})
        items, total, page = self._page(first)
        wanted = min(total, MAX_LIST_ITEMS)
        offsets = range(len(items), wanted, page) if items and page > 0 else range(0)
        rest = await asyncio.gather(
            *(
                self._call(path, {**params, "limit": str(PAGE_SIZE), "offset": str(offset)})
                for offset in offsets
            )
        )
        for value, page_size in rest:
            more, _, _ = self._page(value)
            items.extend(more)
            size += page_size
        items = items[:MAX_LIST_ITEMS]
        return items, size, max(0, total - len(items))

    def _page(self, value: Any) -> tuple[list[Any], int, int]:
        if not isinstance(value, dict):
            raise self._malformed("expected a list object with items and total")
        items, total = value.get("items"), value.get("total")
        if not isinstance(items, list) or not _is_int(total):
            raise self._malformed("expected a list object with items and total")
        if not all(isinstance(item, dict) and _is_int(item.get("id")) for item in items):
            raise self._malformed("list items must be objects with an integer id")
        limit = value.get("limit")
        page = limit if _is_int(limit) and limit > 0 else len(items)
        return list(items), total, page

    async def _call(self, path: str, params: Mapping[str, str]) -> tuple[Any, int]:
        """One GET under the budget, the semaphore and the call timeout; returns JSON and size."""
        budget = asyncio.timeout_at(self._deadline)
        call: asyncio.Timeout | None = None
        try:
            async with budget:
                async with self._upstream.semaphore:
                    call = asyncio.timeout(self._conf.call_timeout_s)
                    async with call:
                        status, body = await self._exchange(path, params)
        except TimeoutError:
            raise self._failure(
                "timeout",
                f"no answer within {self._conf.call_timeout_ms} ms"
                if call is not None and call.expired()
                else f"request budget of {self._conf.budget_ms} ms exhausted",
            ) from None
        except httpx.HTTPError as exc:
            if is_timeout(exc):
                raise self._failure(
                    "timeout", f"no answer within {self._conf.call_timeout_ms} ms"
                ) from None
            cause = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
            raise self._failure("error", f"backend unreachable: {type(cause).__name__}") from None

        if status >= 500:
            raise self._failure("error", f"backend answered HTTP {status}", status)
        if status != 200:
            # An answer, not a sick backend (so the breaker does not count it): 404 is "no such
            # speaker", 401/403 a secret mismatch.
            reason = "not found" if status == 404 else f"backend answered HTTP {status}"
            raise _SourceFailure("error", reason, status)
        try:
            value = json.loads(body)
        except ValueError:
            raise self._malformed("body is not valid JSON") from None
        return value, len(body)

    async def _exchange(self, path: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        url = self._conf.backend_url + path
        timeout = httpx.Timeout(self._conf.call_timeout_s)
        async with self._backend.client.stream(
            "GET", url, params=params, headers=self._headers, timeout=timeout
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_SOURCE_BYTES:
                raise self._failure("error", "backend answer exceeds the size limit", 200)
            chunks: list[bytes] = []
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > MAX_SOURCE_BYTES:
                    raise self._failure("error", "backend answer exceeds the size limit", 200)
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)

    def _failure(
        self, status: Status, message: str, http_status: int | None = None
    ) -> _SourceFailure:
        self._upstream.breaker.record(False, self._conf.breaker_failures)
        return _SourceFailure(status, message, http_status)

    def _malformed(self, why: str) -> _SourceFailure:
        return self._failure("error", f"malformed backend answer: {why}", 200)


def is_timeout(exc: httpx.HTTPError) -> bool:
    # httpx-aiohttp maps every aiohttp connection error to httpx.ConnectTimeout (a refused
    # connection would read as a timeout, i.e. 504 instead of 502): trust the original error.
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, TimeoutError)
    return isinstance(exc, httpx.TimeoutException)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_identity(value: Mapping[str, Any]) -> bool:
    # Speakers and topics have a name, sessions (read by the MCP tools) a title.
    label = value.get("name", value.get("title"))
    return _is_int(value.get("id")) and isinstance(label, str)
