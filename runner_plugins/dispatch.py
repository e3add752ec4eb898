"""The RPC table: one decoded frame in, one reply frame out, no sockets.

Strategy: each request RPC type has a handler; every failure that concerns a
single request becomes a type-0 error frame for that request only. APISIX
recognises an error by the frame type alone, retries the call only for
CONF_TOKEN_NOT_FOUND (after forgetting its tokens) and answers 503 for any
other error code (or continues when ``allow_degradation`` is set); see
``communicate`` and ``receive`` in APISIX's client,
https://github.com/apache/apisix/blob/3.18.0/apisix/plugins/ext-plugin/init.lua:

* unknown RPC type                      -> BAD_REQUEST
* unknown or expired conf token         -> CONF_TOKEN_NOT_FOUND (APISIX re-prepares and retries)
* conf that failed validation           -> BAD_REQUEST (logged once, clearly, at PrepareConf)
* plugin raised / returned a wrong type -> SERVICE_UNAVAILABLE
* reply too large for one frame         -> SERVICE_UNAVAILABLE

A payload that does not decode raises :class:`DecodeError` to the server, which
drops that connection: the peer is not speaking the protocol.

A conf that fails validation still gets a token: PrepareConf succeeds and the
token maps to the failure. APISIX caches the token, so the error is logged once
per route version instead of on every request (a failing PrepareConf would be
retried and logged per request), and every request using it fails closed.

Plugins run in conf order. The first Stop ends the chain; Rewrites of several
plugins are merged (later path/body win, header and arg changes accumulate);
plugins all see the request as APISIX sent it. A merged Rewrite that changes
nothing is sent as a reply with no action. For HTTPRespCall the first plugin
that returns a change ends the chain.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias, TypeVar

from runner_plugins import codec
from runner_plugins.conf_cache import ConfCache, ConfEntry, PluginChain
from runner_plugins.errors import DecodeError, FrameTooLarge
from runner_plugins.metrics import ERROR, OUTCOME_SLOT, RunnerStats
from runner_plugins.plugin import ConfError, Plugin, ResponseChange, Rewrite, Stop
from runner_plugins.protocol import ErrorCode, RpcType
from runner_plugins.registry import PluginRegistry
from runner_plugins.views import ExtraInfoExchange, HttpRequestView, HttpResponseView
from runner_plugins.warning_limiter import WarningLimiter

__all__ = ["Dispatcher", "ImmediateHandler", "TaskHandler"]

logger = logging.getLogger(__name__)

_Outcome = TypeVar("_Outcome")

#: Answers at once, without a task: PrepareConf only parses and caches.
ImmediateHandler: TypeAlias = Callable[[bytes], bytes]
#: Runs as a task: plugins may await ExtraInfo (through the exchange) or the network.
TaskHandler: TypeAlias = Callable[[bytes, ExtraInfoExchange], Coroutine[Any, Any, bytes]]

_NOT_FOUND = codec.encode_error_frame(ErrorCode.CONF_TOKEN_NOT_FOUND)
_BAD_REQUEST = codec.encode_error_frame(ErrorCode.BAD_REQUEST)
_UNAVAILABLE = codec.encode_error_frame(ErrorCode.SERVICE_UNAVAILABLE)


class Dispatcher:
    """Turns request payloads into reply frames using the registry and the conf cache."""

    def __init__(
        self,
        registry: PluginRegistry,
        cache: ConfCache,
        clock: Callable[[], float] = time.monotonic,
        stats: RunnerStats | None = None,
    ) -> None:
        self.registry = registry
        self.cache = cache
        #: The metrics' counters, or None while metrics are off (then nothing is counted).
        self.stats = stats
        #: Per-request warnings a peer can repeat at will (unknown tokens or RPC types).
        self.warnings = WarningLimiter(logger, clock=clock)
        #: The RPC table, by request type; a type in neither is answered by unknown_type().
        self.immediate: dict[int, ImmediateHandler] = {RpcType.PREPARE_CONF: self.prepare_conf}
        self.tasks: dict[int, TaskHandler] = {
            RpcType.HTTP_REQ_CALL: self.http_req_call,
            RpcType.HTTP_RESP_CALL: self.http_resp_call,
        }

    # ----------------------------------------------------------------- PrepareConf

    def prepare_conf(self, payload: bytes) -> bytes:
        """Parse and validate a route's confs once; reply with its token."""
        request = codec.decode_prepare_conf(payload)
        if request.key:
            known = self.cache.token_for_key(request.key)
            if known is not None:
                return codec.encode_prepare_conf_reply(known)
        chain, error = self._build_chain(request.conf)
        token = self.cache.add(ConfEntry(key=request.key, chain=chain, error=error))
        if error is not None:
            logger.error("conf rejected: token=%d key=%s: %s", token, request.key, error)
        else:
            logger.info(
                "conf prepared: token=%d key=%s plugins=%s",
                token,
                request.key,
                ",".join(name for name, _ in request.conf),
            )
        return codec.encode_prepare_conf_reply(token)

    def _build_chain(self, conf: tuple[tuple[str, str], ...]) -> tuple[PluginChain, str | None]:
        chain: list[tuple[Plugin[Any], Any, list[int] | None]] = []
        for name, raw in conf:
            plugin = self.registry.get(name)
            if plugin is None:
                known = ", ".join(self.registry.names()) or "none"
                return (), f"unknown plugin {name!r} (registered: {known})"
            try:
                parsed = plugin.parse_conf(raw)
            except ConfError as exc:
                return (), f"plugin {name!r}: invalid conf: {exc}"
            except Exception as exc:  # a plugin bug must not take the runner down
                logger.exception("plugin %r crashed parsing its conf", name)
                return (), f"plugin {name!r}: conf parser failed: {type(exc).__name__}"
            # The plugin's outcome counts ride along, so the request path bumps a slot without
            # looking the plugin up (docs/performance.md, "Runner metrics").
            counts = None if self.stats is None else self.stats.outcome_row(plugin)
            chain.append((plugin, parsed, counts))
        return tuple(chain), None

    def _entry(self, token: int, req_id: int, what: str) -> ConfEntry | bytes:
        entry = self.cache.get(token)
        if entry is None:
            if self.stats is not None:
                self.stats.refused("conf_token_not_found")
            self.warnings.warning(
                "conf token not found",
                "%s: conf token not found: token=%d request_id=%d",
                what,
                token,
                req_id,
            )
            return _NOT_FOUND
        if entry.error is not None:
            if self.stats is not None:
                self.stats.refused("rejected_conf")
            self.warnings.warning(
                "rejected conf",
                "%s refused, its conf was rejected: token=%d request_id=%d: %s",
                what,
                token,
                req_id,
                entry.error,
            )
            return _BAD_REQUEST
        return entry

    # ----------------------------------------------------------------- HTTPReqCall

    async def http_req_call(self, payload: bytes, exchange: ExtraInfoExchange) -> bytes:
        request = HttpRequestView(payload, exchange)
        entry = self._entry(request.conf_token, request.id, "HTTPReqCall")
        if isinstance(entry, bytes):
            return entry
        merged: Rewrite | None = None
        for plugin, conf, counts in entry.chain:
            try:
                action: object = await plugin.request_filter(conf, request)
            except DecodeError:
                raise
            except Exception:
                logger.exception(
                    "plugin %r failed: token=%d request_id=%d",
                    plugin.name,
                    request.conf_token,
                    request.id,
                )
                if counts is not None:
                    counts[ERROR] += 1
                return _UNAVAILABLE
            if counts is not None:
                # Inline (no method call): this runs per plugin per request.
                counts[OUTCOME_SLOT.get(type(action), ERROR)] += 1
            if action is None:
                continue
            if isinstance(action, Stop):
                return _reply(request, codec.encode_req_call_reply, action)
            if not isinstance(action, Rewrite):
                logger.error(
                    "plugin %r returned %s, not Stop/Rewrite/None: token=%d request_id=%d",
                    plugin.name,
                    type(action).__name__,
                    request.conf_token,
                    request.id,
                )
                return _UNAVAILABLE
            merged = action if merged is None else _merge(merged, action)
        if merged is not None and merged == _NO_CHANGE:
            merged = None
        return _reply(request, codec.encode_req_call_reply, merged)

    # ---------------------------------------------------------------- HTTPRespCall

    async def http_resp_call(self, payload: bytes, exchange: ExtraInfoExchange) -> bytes:
        response = HttpResponseView(payload, exchange)
        entry = self._entry(response.conf_token, response.id, "HTTPRespCall")
        if isinstance(entry, bytes):
            return entry
        change: ResponseChange | None = None
        for plugin, conf, counts in entry.chain:
            try:
                outcome: object = await plugin.response_filter(conf, response)
            except DecodeError:
                raise
            except Exception:
                logger.exception(
                    "plugin %r failed on the response: token=%d request_id=%d",
                    plugin.name,
                    response.conf_token,
                    response.id,
                )
                if counts is not None:
                    counts[ERROR] += 1
                return _UNAVAILABLE
            if counts is not None:
                counts[OUTCOME_SLOT.get(type(outcome), ERROR)] += 1
            if outcome is None:
                continue
            if not isinstance(outcome, ResponseChange):
                logger.error(
                    "plugin %r returned %s, not ResponseChange/None: token=%d request_id=%d",
                    plugin.name,
                    type(outcome).__name__,
                    response.conf_token,
                    response.id,
                )
                return _UNAVAILABLE
            change = outcome
            break
        return _reply(response, codec.encode_resp_call_reply, change)

    # -------------------------------------------------------------------- misc

    def unknown_type(self, rpc_type: int) -> bytes:
        self.warnings.warning(
            "unknown RPC type", "unknown RPC type %d answered with BAD_REQUEST", rpc_type
        )
        return _BAD_REQUEST

    @staticmethod
    def unavailable() -> bytes:
        return _UNAVAILABLE


_NO_CHANGE = Rewrite()


def _reply(
    view: HttpRequestView | HttpResponseView,
    encode: Callable[[int, _Outcome], bytes],
    outcome: _Outcome,
) -> bytes:
    """The encoded reply frame, or SERVICE_UNAVAILABLE when it does not fit in one frame."""
    try:
        return encode(view.id, outcome)
    except FrameTooLarge as exc:
        logger.error("reply refused: token=%d request_id=%d: %s", view.conf_token, view.id, exc)
        return _UNAVAILABLE


def _merge(first: Rewrite, then: Rewrite) -> Rewrite:
    return Rewrite(
        path=then.path if then.path is not None else first.path,
        headers=first.headers + then.headers,
        args=first.args + then.args,
        resp_headers=first.resp_headers + then.resp_headers,
        body=then.body if then.body is not None else first.body,
    )
