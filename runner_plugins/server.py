"""The asyncio Unix-socket server APISIX connects to.

Strategy: one :class:`asyncio.Protocol` object per APISIX connection whose
``data_received`` feeds a sans-IO :class:`FrameReader` (StreamReader measured
about as fast, see docs/performance.md; the Protocol keeps back-pressure,
ExtraInfo answers and pipelined frames under one explicit state). APISIX runs
one exchange at a time per connection (reference ext-plugin-protocol.md §6),
so each connection has at most one request in flight; while it runs, the only
frames read are ExtraInfo answers, anything else stays buffered (reading pauses
past one maximum frame) and is handled afterwards. Writes honour the
transport's flow control the same way. Nothing closes an idle connection:
APISIX keeps up to 32 per worker for 180 s.

PrepareConf is answered synchronously; HTTPReqCall/HTTPRespCall run as a task
because plugins may await ExtraInfo or the network. A once-a-second sweep
cancels requests older than ``request_timeout`` (cheaper than a timer per
request) and warns when it wakes late, i.e. when something blocked the loop.
On stop: close the listener and remove the socket, close idle connections,
give in-flight requests ``shutdown_grace`` to finish, abort the rest, then run
the plugins' ``shutdown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, cast

from runner_plugins.conf_cache import ConfCache
from runner_plugins.config import RunnerConfig
from runner_plugins.dispatch import Dispatcher
from runner_plugins.errors import ProtocolError
from runner_plugins.protocol import MAX_PAYLOAD, FrameReader, RpcType, encode_frame
from runner_plugins.registry import PluginRegistry
from runner_plugins.socket_file import prepare_socket_path

__all__ = ["RunnerServer"]

logger = logging.getLogger(__name__)

_PREPARE_CONF = int(RpcType.PREPARE_CONF)
_HTTP_REQ_CALL = int(RpcType.HTTP_REQ_CALL)
_HTTP_RESP_CALL = int(RpcType.HTTP_RESP_CALL)
_EXTRA_INFO = int(RpcType.EXTRA_INFO)
# Past this much unread input while a request is in flight, stop reading.
_READ_HIGH_WATER = MAX_PAYLOAD + 4
_PLUGIN_HOOK_TIMEOUT = 5.0
_SWEEP_INTERVAL = 1.0
_BLOCKED_WARNING = 0.25
_Handler = Callable[[bytes, Callable[[bytes], "asyncio.Future[bytes]"]], Coroutine[Any, Any, bytes]]


class _Connection(asyncio.Protocol):
    """One APISIX connection: a sequential request/reply loop with ExtraInfo in between."""

    __slots__ = (
        "_server",
        "_dispatcher",
        "_transport",
        "_reader",
        "_task",
        "_waiting",
        "_write_paused",
        "_read_paused",
        "started",
        "_closed",
    )

    def __init__(self, server: RunnerServer) -> None:
        self._server = server
        self._dispatcher = server.dispatcher
        self._transport: asyncio.Transport | None = None
        self._reader = FrameReader()
        self._task: asyncio.Task[None] | None = None
        # ExtraInfo questions sent and not yet answered, oldest first: a plugin may ask several
        # at once (asyncio.gather) and APISIX answers them in order.
        self._waiting: deque[asyncio.Future[bytes]] = deque()
        self._write_paused = False
        self._read_paused = False
        self._closed = False
        self.started = 0.0

    # ----------------------------------------------------------- transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        if not self._server.admit(self):
            logger.warning(
                "connection refused: %d connections open", self._server.config.max_connections
            )
            self._closed = True
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server.forget(self)
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for future in self._waiting:
            future.cancel()
        self._waiting.clear()

    def data_received(self, data: bytes) -> None:
        if self._task is None and not self._write_paused:
            # The common case: an idle connection receives exactly one request frame.
            try:
                frame = self._reader.feed_one(data)
            except ProtocolError as exc:
                self._drop(f"bad frame: {exc}")
                return
            if frame is not None:
                self._start(*frame)
                return
        else:
            self._reader.feed(data)
        self._process()

    def eof_received(self) -> bool | None:
        if not self._reader.at_frame_boundary() and self._task is None:
            logger.warning("connection closed in the middle of a frame")
        return None  # let the transport close itself

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._process()

    # ------------------------------------------------------------------ frames

    def _process(self) -> None:
        reader = self._reader
        while not self._closed:
            if self._waiting:
                if not self._deliver_extra_info():
                    return
                continue
            if self._task is not None or self._write_paused:
                if reader.buffered > _READ_HIGH_WATER and not self._read_paused:
                    self._read_paused = True
                    self._transport.pause_reading()  # type: ignore[union-attr]
                return
            try:
                frame = reader.next_frame()
            except ProtocolError as exc:
                self._drop(f"bad frame: {exc}")
                return
            if frame is None:
                if self._read_paused:
                    self._read_paused = False
                    self._transport.resume_reading()  # type: ignore[union-attr]
                return
            self._start(*frame)

    def _deliver_extra_info(self) -> bool:
        try:
            frame = self._reader.next_frame()
        except ProtocolError as exc:
            self._drop(f"bad frame: {exc}")
            return False
        if frame is None:
            return False
        rpc_type, payload = frame
        if rpc_type != _EXTRA_INFO:
            self._drop(f"expected an ExtraInfo answer, got frame type {rpc_type}")
            return False
        future = self._waiting.popleft()
        if not future.done():  # a cancelled plugin no longer wants the answer
            future.set_result(payload)
        return True

    def _start(self, rpc_type: int, payload: bytes) -> None:
        dispatcher = self._dispatcher
        if rpc_type == _HTTP_REQ_CALL:
            handler: _Handler = dispatcher.http_req_call
        elif rpc_type == _PREPARE_CONF:
            try:
                reply = dispatcher.prepare_conf(payload)
            except ProtocolError as exc:
                self._drop(f"bad PrepareConf: {exc}")
                return
            self._transport.write(reply)  # type: ignore[union-attr]
            return
        elif rpc_type == _HTTP_RESP_CALL:
            handler = dispatcher.http_resp_call
        else:
            self._transport.write(dispatcher.unknown_type(rpc_type))  # type: ignore[union-attr]
            return
        self.started = self._server.loop.time()
        self._task = self._server.loop.create_task(self._run(handler, payload))

    async def _run(self, handler: _Handler, payload: bytes) -> None:
        # The reply is written from inside the task rather than from a done callback: one loop
        # iteration less per request. Whoever cancels this task before it started (connection
        # lost, shutdown) resets ``_task`` itself, since this body never runs then.
        try:
            reply = await handler(payload, self._exchange)
        except asyncio.CancelledError:
            if self._closed:
                self._task = None
                return
            elapsed = self._server.loop.time() - self.started
            logger.warning("request cancelled after %.1f s: answering SERVICE_UNAVAILABLE", elapsed)
            reply = self._dispatcher.unavailable()
        except ProtocolError as exc:
            self._task = None
            self._waiting.clear()
            self._drop(f"undecodable request: {exc}")
            return
        except Exception:
            logger.exception("request failed")
            reply = self._dispatcher.unavailable()
        self._finished(reply)

    def _finished(self, reply: bytes) -> None:
        self._task = None
        # Answers still owed by APISIX would arrive after our reply and be read as requests.
        unanswered = bool(self._waiting)
        self._waiting.clear()
        if self._closed:
            return
        self._transport.write(reply)  # type: ignore[union-attr]
        if self._server.stopping or unanswered:
            self.close()
            return
        if self._reader.buffered or self._read_paused:
            self._process()

    def _exchange(self, payload: bytes) -> asyncio.Future[bytes]:
        """Send an ExtraInfo.Req; the future resolves with APISIX's ExtraInfo.Resp payload."""
        future: asyncio.Future[bytes] = self._server.loop.create_future()
        if self._closed:
            future.set_exception(ConnectionResetError("APISIX closed the connection"))
            return future
        if self._task is None:
            # A plugin kept the request object past its request: this connection may already
            # carry another exchange, so refuse rather than interleave a stray question.
            future.set_exception(RuntimeError("ExtraInfo asked after the request finished"))
            return future
        self._waiting.append(future)
        self._transport.write(encode_frame(_EXTRA_INFO, payload))  # type: ignore[union-attr]
        if self._reader.buffered:
            # Bytes that arrived before our question cannot be its answer: a peer that pipelines
            # requests into an ExtraInfo exchange is dropped now, not after the deadline.
            self._process()
        return future

    # ------------------------------------------------------------------ closing

    @property
    def busy(self) -> bool:
        return self._task is not None

    def cancel_if_older(self, deadline: float) -> None:
        if self._task is not None and self.started < deadline:
            self._task.cancel()

    def _drop(self, why: str) -> None:
        logger.warning("closing connection: %s", why)
        self.abort()

    def close(self) -> None:
        if not self._closed and self._transport is not None:
            self._closed = True
            self._transport.close()

    def abort(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._transport is not None:
            self._transport.abort()


class RunnerServer:
    """Owns the listening socket, the live connections and the plugin lifecycle."""

    def __init__(
        self, config: RunnerConfig, registry: PluginRegistry, cache: ConfCache | None = None
    ) -> None:
        self.config = config
        self.registry = registry
        self.dispatcher = Dispatcher(
            registry,
            cache if cache is not None else ConfCache(config.conf_ttl, config.max_conf_entries),
        )
        self.stopping = False
        self._connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def admit(self, connection: _Connection) -> bool:
        if self.stopping or len(self._connections) >= self.config.max_connections:
            return False
        self._connections.add(connection)
        return True

    def forget(self, connection: _Connection) -> None:
        self._connections.discard(connection)

    async def start(self) -> None:
        """Start the plugins, then listen; raises if the socket cannot be taken."""
        self._loop = asyncio.get_running_loop()
        for plugin in self.registry:
            await asyncio.wait_for(plugin.startup(), _PLUGIN_HOOK_TIMEOUT)
        path = self.config.socket_path
        prepare_socket_path(path)
        self._server = await self._loop.create_unix_server(
            lambda: _Connection(self), path, backlog=4096
        )
        os.chmod(path, self.config.socket_mode)
        self._sweeper = self._loop.create_task(self._sweep())
        logger.info("listening on unix:%s with plugins %s", path, self.registry.names())

    def request_stop(self) -> None:
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def _sweep(self) -> None:
        while True:
            before = self.loop.time()
            await asyncio.sleep(_SWEEP_INTERVAL)
            late = self.loop.time() - before - _SWEEP_INTERVAL
            if late > _BLOCKED_WARNING:
                # Every connection shares this loop: name the symptom for the operator.
                logger.warning(
                    "event loop was blocked for %.2f s (a plugin doing blocking work?)", late
                )
            deadline = self.loop.time() - self.config.request_timeout
            for connection in list(self._connections):
                connection.cancel_if_older(deadline)

    async def shutdown(self) -> None:
        """Stop accepting, drain in-flight requests within the grace period, stop plugins."""
        self.stopping = True
        if self._loop is None:
            return
        if self._server is not None:
            self._server.close()
            # Only a socket we bound is ours to remove.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.config.socket_path)
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self._connections):
            if not connection.busy:
                connection.close()
        deadline = self.loop.time() + self.config.shutdown_grace
        while any(c.busy for c in self._connections) and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self._connections):
            connection.abort()
        for plugin in self.registry:
            try:
                await asyncio.wait_for(plugin.shutdown(), 0.2)
            except Exception:
                logger.exception("plugin %r failed to shut down", plugin.name)
        logger.info("stopped")
