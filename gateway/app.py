"""The local gateway's HTTP server: aiohttp's low-level server around the plugin pipeline.

Strategy: aiohttp parses HTTP (its parser limits are set well above ours, so oversize requests
reach our own checks and get JSON 414/431/413 answers instead of the parser's text errors); one
handler routes, builds the :class:`RequestContext` and hands it to :mod:`gateway.pipeline`.
The handler is the single place that turns an unexpected exception into a JSON 500, so the
gateway never answers with HTML or a stack trace.

aiohttp has no bound on how long a client may take to send a request's header: a client that
drips one byte at a time held a connection for as long as it liked. The connection handler adds
nginx's ``client_header_timeout``: one timer per request header, armed when the connection
opens or when the first byte of the next request arrives, never re-armed by further bytes, and
cancelled once the header is complete. Like nginx, the gateway then closes the connection without
an answer: nginx terminates a request that timed out (``NGX_HTTP_REQUEST_TIME_OUT``) instead of
finalizing it, so config.yaml's ``error_page 408`` is never used for it, and 408 only shows in
the access log. A body that stalls for ``client_body_timeout`` between two reads ends the same way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from multidict import CIMultiDict, MultiDict

from gateway.build import build
from gateway.config import GatewayConfig
from gateway.context import RequestContext, Services
from gateway.errors import (
    ERROR_PAGE_CONTENT_TYPE,
    Exit,
    is_error_page_uri,
    json_exit,
    status_exit,
)
from gateway.mime import exit_content_type
from gateway.pipeline import Response, process
from gateway.plugins.external import next_request_id
from gateway.router import Router
from gateway.settings import Limits
from gateway.upstream import HOP_BY_HOP, build_clients
from gateway.uri import normalize
from runner_plugins.client import RunnerClient

logger = logging.getLogger(__name__)

SERVER_HEADER = "APISIX-local-standin"
STANDIN_NOTICE = (
    "This is the local DEVELOPMENT stand-in for Apache APISIX (gateway/), not the production "
    "path: deploy real APISIX with the same apisix/apisix.yaml (docker-compose.yml)."
)


class _JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler: its parser errors answered with JSON, a header-read timeout."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages:
            # A whole header was parsed: the request is handled, the timer has done its job.
            self._cancel_header_timer()
        elif self._header_timer is None and data and self._waiting_for_request():
            # First bytes of the next request on a kept-alive connection (nginx arms the
            # timer at that point; until then keepalive_timeout applies).
            self._arm_header_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _waiting_for_request(self) -> bool:
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    def _arm_header_timer(self) -> None:
        if self._header_timeout > 0:
            self._header_timer = self._loop.call_later(self._header_timeout, self._header_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_late(self) -> None:
        self._header_timer = None
        if self._messages or not self._waiting_for_request():
            return
        peer = self.transport.get_extra_info("peername") if self.transport else None
        logger.info("client %s timed out while sending the request header", peer)
        self.force_close()
        if self.transport is not None:
            self.transport.close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # Requests beyond even the parser's generous limits never reach Gateway.handle.
        if isinstance(exc, LineTooLong):
            status = 431
        logger.info("rejected a malformed request from %s: %s", request.remote, _reason(exc))
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        result = status_exit(status)
        response = web.Response(
            status=status, body=result.body, content_type=ERROR_PAGE_CONTENT_TYPE
        )
        response.headers["Server"] = SERVER_HEADER
        response.force_close()
        return response


def _reason(exc: BaseException | None) -> str:
    """What was wrong, without aiohttp's quote of the raw bytes (they may hold an API key)."""
    if isinstance(exc, HttpProcessingError):
        first = (exc.message or "").strip().splitlines()
        return f"{exc.code} {first[0].rstrip(':') if first else type(exc).__name__}"
    return type(exc).__name__ if exc is not None else "unknown error"


class _JsonErrorServer(web.Server):
    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout

    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(
            self, loop=self._loop, header_timeout=self._header_timeout, **self._kwargs
        )


class Gateway:
    """Routes, plugins and upstream clients built from one configuration."""

    def __init__(
        self, config: GatewayConfig, runner: RunnerClient | None, limits: Limits | None = None
    ) -> None:
        self.config = config
        self.limits = limits or Limits()
        built = build(config)
        self.router = Router(built.routes)
        self.clients = build_clients(config.upstreams, self.limits.max_upstream_body)
        self.services = Services(
            consumers=built.consumers,
            limiter=FixedWindowRateLimiter(MemoryStorage()),
            runner=runner,
        )
        self._runner: web.ServerRunner | None = None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            status, headers, body = await self._answer(request)
        except _BodyTimedOut:
            # nginx terminates a request whose body read timed out (NGX_HTTP_REQUEST_TIME_OUT)
            # instead of finalizing it: nothing is sent, and the 408 only shows in its log.
            logger.info("client %s timed out while sending the body (408)", request.remote)
            if request.transport is not None:
                request.transport.close()
            # Never written: aiohttp takes the closing transport for a client that left.
            return web.Response(status=408)
        except Exception:
            # The one broad handler: a bug must still give a JSON answer, never a trace.
            logger.exception("unexpected error on %s %s", request.method, request.path)
            status, headers, body = _from_exit(status_exit(500))
        # aiohttp frames the body itself; hop-by-hop headers from a runner Stop or an upstream
        # must not leak to the client.
        for name in HOP_BY_HOP:
            headers.popall(name, None)
        headers["Server"] = SERVER_HEADER
        return web.Response(status=status, headers=headers, body=body)

    async def _answer(self, request: web.BaseRequest) -> Response:
        limits = self.limits
        if len(request.raw_path) > limits.max_uri_bytes:
            return _from_exit(status_exit(414))
        header_bytes = sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
        if header_bytes > limits.max_header_bytes:
            return _from_exit(status_exit(431))
        raw_path = request.raw_path.split("?", 1)[0]
        uri = normalize(raw_path)
        if uri is None:
            return _from_exit(status_exit(400))
        if is_error_page_uri(uri):
            # config.yaml's error pages are `internal` locations: nginx's 404 for a client.
            return _from_exit(status_exit(404))
        match = self.router.match(request.method, uri)
        if match is None:
            return _from_exit(json_exit(404, {"error_msg": "404 Route Not Found"}), uri)
        # APISIX runs nginx with apisix_delay_client_max_body_check on: an oversize body is only
        # refused when it is read, i.e. when proxying, so the plugins answer first (pipeline).
        too_large = (
            request.content_length is not None and request.content_length > limits.max_body_bytes
        )
        body: bytes | None = b""
        if not too_large:
            try:
                if _body_received(request):
                    # Nothing to wait for, so no deadline to arm and nothing to iterate (most
                    # requests: no body, or a small one that came with the headers).
                    body = _buffered_body(request, limits.max_body_bytes)
                else:
                    body = await _read_body(
                        request, limits.max_body_bytes, limits.client_body_timeout
                    )
            except TimeoutError:
                raise _BodyTimedOut from None
            except ConnectionResetError:
                # The client went away mid-body: nginx logs that at info level (and a 400).
                logger.info(
                    "client %s closed the connection while sending the body", request.remote
                )
                return _from_exit(status_exit(400))
        if body is None:
            too_large, body = True, b""
        route = match.route
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        ctx = RequestContext(
            method=request.method,
            path=uri,
            raw_path=raw_path,
            args=MultiDict(request.query),
            headers=CIMultiDict(request.headers),
            src_ip=request.remote or "127.0.0.1",
            server_port=sockname[1] if sockname else 0,
            body=body,
            body_too_large=too_large,
            route=route,
            services=self.services,
            runner_request_id=next_request_id(),
        )
        upstream = self.clients.get(route.upstream_id) if route.upstream_id else None
        return await process(ctx, upstream, request.query_string)

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (port 0 picks one); returns the bound port."""
        server = _JsonErrorServer(
            self.handle,
            max_line_size=4 * self.limits.max_uri_bytes,
            max_field_size=4 * self.limits.max_header_bytes,
            max_headers=256,
            keepalive_timeout=self.limits.keepalive_timeout,
            header_timeout=self.limits.client_header_timeout,
            auto_decompress=False,
            access_log=None,
        )
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=5.0)
        await self._runner.setup()
        # aiohttp's default accept backlog is 128; bursts of hundreds of new connections (a
        # load test, a client pool warming up) overflowed it. nginx's listen default is 511.
        site = web.TCPSite(self._runner, host, port, backlog=1024)
        await site.start()
        bound = port
        for sock in self._runner.addresses:
            bound = sock[1]
        logger.warning(STANDIN_NOTICE)
        logger.info("local gateway listening on http://%s:%d", host, bound)
        return bound

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for client in self.clients.values():
            await client.close()
        if self.services.runner is not None:
            await self.services.runner.close()


def _body_received(request: web.BaseRequest) -> bool:
    """True when reading the body cannot block: there is none, or all of it is buffered."""
    if not request.body_exists:
        return True
    # A client that sent Expect waits for our 100 Continue, which is a write that may block.
    return request.content.is_eof() and "Expect" not in request.headers


def _buffered_body(request: web.BaseRequest, limit: int) -> bytes | None:
    """The body of a request whose body is wholly buffered (``_body_received``)."""
    if not request.body_exists:
        return b""
    body = request.content.read_nowait()
    return None if len(body) > limit else body


class _BodyTimedOut(Exception):
    """The client sent nothing of its body for ``client_body_timeout`` seconds."""


async def _read_body(request: web.BaseRequest, limit: int, timeout: float) -> bytes | None:
    """The body, or None past ``limit``; TimeoutError when ``timeout`` passes between two reads
    (nginx's ``client_body_timeout`` is per read, not for the whole body)."""
    if not request.body_exists:
        return b""
    if request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue":
        # aiohttp's low-level server leaves this to the handler; a client that waits for it
        # (curl 7.x above 1 KiB) would otherwise stall until its own expect timeout.
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    chunks: list[bytes] = []
    size = 0
    while True:
        async with asyncio.timeout(timeout):
            chunk = await request.content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _from_exit(result: Exit, path: str = "") -> Response:
    # Answers given before routing: no plugin runs, so no header filter either.
    headers: CIMultiDict[str] = CIMultiDict(result.headers)
    headers.setdefault("Content-Type", exit_content_type(path))
    return result.status, headers, result.body
