"""The asyncio Unix-socket server APISIX connects to.

Strategy: one :class:`asyncio.Protocol` object per APISIX connection feeds what it receives to
a sans-IO :class:`~runner_plugins.connection.ConnectionState` (the rules: one exchange at a time,
ExtraInfo answers in order, pipelined frames kept for later) and does what its events say: start
a request through the dispatcher's RPC table, hand an ExtraInfo answer to the plugin awaiting
it, pause or resume reading (past one maximum frame of unread input), or drop a peer that broke
the protocol. Writes honour the transport's flow control the same way. Nothing closes an idle
connection: APISIX keeps up to 32 per worker for 180 s.

PrepareConf is answered synchronously; HTTPReqCall/HTTPRespCall run as a task because plugins
may await ExtraInfo or the network. A periodic sweep (``sweep_interval``) cancels requests older
than ``request_timeout`` (cheaper than a timer per request) and warns when it wakes late, i.e.
when something blocked the loop. On stop: close the listener and remove the socket, close idle
connections, wait up to ``shutdown_grace`` for the in-flight requests' tasks, abort the rest,
then run the plugins' ``shutdown``.

Warnings a peer can trigger at will (a broken frame, a refused connection) go through a
:class:`~runner_plugins.warning_limiter.WarningLimiter`, so a flood of them costs a few log lines
and a periodic summary, not one line each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import cast

from runner_plugins.conf_cache import ConfCache
from runner_plugins.config import RunnerConfig
from runner_plugins.connection import NEED_DATA, PAUSED, Broken, ConnectionState, ExtraInfoAnswer
from runner_plugins.dispatch import Dispatcher, TaskHandler
from runner_plugins.errors import ProtocolError
from runner_plugins.metrics import (
    FIRST_BOUND,
    MetricsEndpoint,
    RunnerStats,
    bucket,
    build_registry,
)
from runner_plugins.registry import PluginRegistry
from runner_plugins.socket_file import prepare_socket_path
from runner_plugins.warning_limiter import WarningLimiter

__all__ = ["RunnerServer"]

logger = logging.getLogger(__name__)

#: Bound once: the request path reads the clock twice per request when metrics are on.
_perf_counter = time.perf_counter

_BLOCKED_WARNING = 0.25


class _NotConnected(asyncio.Transport):
    """The transport of a connection asyncio has not connected yet; never written to."""


_NOT_CONNECTED = _NotConnected()


class _Connection(asyncio.Protocol):
    """The transport side of one APISIX connection; the rules live in :class:`ConnectionState`."""

    __slots__ = (
        "_server",
        "_dispatcher",
        "_transport",
        "_state",
        "_task",
        "_waiting",
        "_read_paused",
        "started",
        "_closed",
        "_latency",
    )

    def __init__(self, server: RunnerServer) -> None:
        self._server = server
        self._dispatcher = server.dispatcher
        # Replaced in connection_made, before any other callback can run.
        self._transport: asyncio.Transport = _NOT_CONNECTED
        self._state = ConnectionState()
        self._task: asyncio.Task[None] | None = None
        # One future per ExtraInfo question the state says is owed, oldest first: a plugin may
        # ask several at once (asyncio.gather) and APISIX answers them in order.
        self._waiting: deque[asyncio.Future[bytes]] = deque()
        self._read_paused = False
        self._closed = False
        self.started = 0.0
        #: The metrics' latency rows by RPC type, or None while metrics are off.
        self._latency = None if server.stats is None else server.stats.latency

    # ----------------------------------------------------------- transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        if not self._server.admit(self):
            self._server.warnings.warning(
                "connection refused",
                "connection refused: %d connections open",
                self._server.config.max_connections,
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
        self._state.receive(data)
        self._process()

    def eof_received(self) -> bool | None:
        if not self._state.at_frame_boundary() and self._task is None:
            self._server.warnings.warning(
                "truncated frame", "connection closed in the middle of a frame"
            )
        return None  # let the transport close itself

    def pause_writing(self) -> None:
        self._state.writable = False

    def resume_writing(self) -> None:
        self._state.writable = True
        self._process()

    # ------------------------------------------------------------------ events

    def _process(self) -> None:
        state = self._state
        while not self._closed:
            event = state.next_event()
            if type(event) is tuple:
                self._start(*event)
            elif event is PAUSED:
                if not self._read_paused and state.should_pause_reading:
                    self._read_paused = True
                    self._transport.pause_reading()
                return
            elif event is NEED_DATA:
                if self._read_paused:
                    self._read_paused = False
                    self._transport.resume_reading()
                return
            elif isinstance(event, ExtraInfoAnswer):
                future = self._waiting.popleft()
                if not future.done():  # a cancelled plugin no longer wants the answer
                    future.set_result(event.payload)
            else:
                assert isinstance(event, Broken)
                self._drop(event.reason)
                return

    def _start(self, rpc_type: int, payload: bytes) -> None:
        handler = self._dispatcher.tasks.get(rpc_type)
        if handler is not None:
            # perf_counter, not loop.time(): uvloop's clock has millisecond steps, and the
            # metrics' latency histogram reads this stamp instead of taking one of its own.
            self.started = _perf_counter()
            self._task = self._server.loop.create_task(self._run(handler, payload, rpc_type))
            return
        immediate = self._dispatcher.immediate.get(rpc_type)
        try:
            if immediate is None:
                reply = self._dispatcher.unknown_type(rpc_type)
            else:
                reply = immediate(payload)
        except ProtocolError as exc:
            self._drop(f"bad request of type {rpc_type}: {exc}")
            return
        self._state.finish()
        self._transport.write(reply)

    async def _run(self, handler: TaskHandler, payload: bytes, rpc_type: int) -> None:
        # The reply is written from inside the task rather than from a done callback: one loop
        # iteration less per request. Whoever cancels this task before it started (connection
        # lost, shutdown) resets ``_task`` itself, since this body never runs then.
        try:
            reply = await handler(payload, self._exchange)
        except asyncio.CancelledError:
            if self._closed:
                self._task = None
                return
            elapsed = _perf_counter() - self.started
            self._server.warnings.warning(
                "request cancelled",
                "request cancelled after %.1f s: answering SERVICE_UNAVAILABLE",
                elapsed,
            )
            reply = self._dispatcher.unavailable()
        except ProtocolError as exc:
            self._task = None
            self._waiting.clear()
            self._drop(f"undecodable request: {exc}")
            return
        except Exception:
            logger.exception("request failed")
            reply = self._dispatcher.unavailable()
        latency = self._latency
        if latency is not None:
            # The histogram bump inline, first bucket tested here: this runs per request.
            seconds = _perf_counter() - self.started
            row = latency[rpc_type]
            if seconds <= FIRST_BOUND:
                row[0] += 1
            else:
                row[bucket(seconds)] += 1
            row[-1] += seconds
        self._finished(reply)

    def _finished(self, reply: bytes) -> None:
        self._task = None
        unanswered = self._state.finish()
        self._waiting.clear()
        if self._closed:
            return
        self._transport.write(reply)
        if self._server.stopping or unanswered:
            self.close()
            return
        if self._state.buffered or self._read_paused:
            self._process()

    def _exchange(self, payload: bytes) -> asyncio.Future[bytes]:
        """Send an ExtraInfo.Req; the future resolves with APISIX's ExtraInfo.Resp payload."""
        future: asyncio.Future[bytes] = self._server.loop.create_future()
        if self._closed:
            future.set_exception(ConnectionResetError("APISIX closed the connection"))
            return future
        try:
            frame = self._state.ask(payload)
        except RuntimeError as exc:
            future.set_exception(exc)
            return future
        self._waiting.append(future)
        self._transport.write(frame)
        if self._state.buffered:
            # Bytes that arrived before our question cannot be its answer: a peer that pipelines
            # requests into an ExtraInfo exchange is dropped now, not after the deadline.
            self._process()
        return future

    # ------------------------------------------------------------------ closing

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The request in flight, if any."""
        return self._task

    def cancel_if_older(self, deadline: float) -> None:
        if self._task is not None and self.started < deadline:
            self._task.cancel()

    def _drop(self, why: str) -> None:
        self._server.warnings.warning("closing connection", "closing connection: %s", why)
        self.abort()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport.close()

    def abort(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._transport.abort()


class RunnerServer:
    """Owns the listening socket, the live connections and the plugin lifecycle."""

    def __init__(
        self,
        config: RunnerConfig,
        registry: PluginRegistry,
        cache: ConfCache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.registry = registry
        self.stats = RunnerStats() if config.metrics_address else None
        self.dispatcher = Dispatcher(
            registry,
            cache if cache is not None else ConfCache(config.conf_ttl, config.max_conf_entries),
            clock=clock,
            stats=self.stats,
        )
        self.metrics: MetricsEndpoint | None = None
        #: Connection-level warnings a peer can cause (the dispatcher has its own).
        self.warnings = WarningLimiter(logger, clock=clock)
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
            await asyncio.wait_for(plugin.startup(), self.config.plugin_startup_timeout)
        path = self.config.socket_path
        prepare_socket_path(path)
        self._server = await self._loop.create_unix_server(
            lambda: _Connection(self), path, backlog=self.config.backlog
        )
        os.chmod(path, self.config.socket_mode)
        self._sweeper = self._loop.create_task(self._sweep())
        logger.info("listening on unix:%s with plugins %s", path, self.registry.names())
        if self.config.metrics_address and self.stats is not None:
            registry = build_registry(self.stats, self)
            metrics = MetricsEndpoint.for_registry(self.config.metrics_address, registry)
            try:
                await metrics.start()
            except OSError as exc:
                # Serving APISIX matters more than being observed: say it loudly, keep serving.
                logger.error("metrics not served on %s: %s", self.config.metrics_address, exc)
            else:
                self.metrics = metrics

    def request_stop(self) -> None:
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def _sweep(self) -> None:
        interval = self.config.sweep_interval
        while True:
            before = self.loop.time()
            await asyncio.sleep(interval)
            late = self.loop.time() - before - interval
            if late > _BLOCKED_WARNING:
                # Every connection shares this loop: name the symptom for the operator.
                logger.warning(
                    "event loop was blocked for %.2f s (a plugin doing blocking work?)", late
                )
            # Requests are stamped with perf_counter (``_Connection._start``).
            deadline = _perf_counter() - self.config.request_timeout
            for connection in list(self._connections):
                connection.cancel_if_older(deadline)
            self.warnings.flush()
            self.dispatcher.warnings.flush()

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
        if self.metrics is not None:
            await self.metrics.close()
        in_flight: set[asyncio.Task[None]] = set()
        for connection in list(self._connections):
            if connection.task is None:
                connection.close()
            else:
                in_flight.add(connection.task)
        if in_flight:
            # Each connection closes itself once its reply is written (``stopping``).
            await asyncio.wait(in_flight, timeout=self.config.shutdown_grace)
        for connection in list(self._connections):
            connection.abort()
        for plugin in self.registry:
            try:
                await asyncio.wait_for(plugin.shutdown(), self.config.plugin_shutdown_timeout)
            except Exception:
                logger.exception("plugin %r failed to shut down", plugin.name)
        logger.info("stopped")
