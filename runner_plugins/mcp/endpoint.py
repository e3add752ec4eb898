"""One MCP message through the official SDK's server machinery, without its ASGI app.

Strategy: the SDK's ``serve_one`` is its single-exchange driver (the one its own 2026-07-28 HTTP
entry uses): it validates params per protocol version, answers ``initialize`` and
``server/discover``, dispatches to our ``tools/list``/``tools/call`` handlers and shapes the result
for the negotiated version. We feed it one request per POST with a born-ready connection built
from the request (header version for the handshake era, ``_meta`` envelope for 2026-07-28), so
no session, task group or stream is created per request. The per-request :class:`Call` reaches
the handlers as the transport's request context, the SDK's channel for exactly that.

The two messages that carry the traffic take a direct route through the same SDK pieces.
``tools/call``: the params are validated exactly as ``serve_one`` does (the version's surface
model, then the handler's params model), the tool runs, errors map through the SDK's own
exception-to-error ladder, and the result is the SDK's wire form for the version with the two
values filled in (:mod:`runner_plugins.mcp.shape`): no per-request connection, session,
context or shielded cleanup scope, and the 4 KB document is neither re-validated nor re-encoded.
``tools/list``: its answer is constant per version, so the SDK's first answer is kept as bytes
and later requests only get their params validated. Everything else goes through ``serve_one``.
Test: tests/mcp_server/test_mcp_direct_route.py holds both routes' answers equal.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
import orjson
from mcp.server import Server
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.runner import modern_error_data, serve_one
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
from mcp.shared.message import MessageMetadata, ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import METHOD_NOT_FOUND, ErrorData, JSONRPCRequest, RequestId, methods
from pydantic import BaseModel

from runner_plugins.mcp.shape import ResultShape, ShapeError, probe
from runner_plugins.mcp.toolbox import Call, ToolAnswer, Toolbox
from runner_plugins.mcp.tools import LIST_RESULT
from runner_plugins.mcp.transport import Dispatch, HttpAnswer, Transport, fold_headers
from runner_plugins.plugin import Entry

SERVER_NAME = "conference"
SERVER_VERSION = "1.0"
INSTRUCTIONS = (
    "Conference data (speakers, sessions, topics) behind an API gateway. Start with "
    "get_speaker_context for anything about a person, search_sessions for the programme."
)
logger = logging.getLogger(__name__)
_TRANSPORT = TransportContext(kind="streamable-http", can_send_request=False)


@dataclass(slots=True)
class _OneExchange:
    """The SDK's per-request dispatch context for a POST answered with one JSON body.

    No back-channel: a stateless JSON answer has nowhere to carry server-to-client requests or
    notifications, so requests raise and notifications are dropped.
    """

    request_id: RequestId
    message_metadata: MessageMetadata
    transport: TransportContext = _TRANSPORT
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        return None

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        return None


class Endpoint:
    """The MCP server of ``/mcp``: transport rules, SDK dispatch, the toolbox."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox
        self.server = _server(self._call_tool)
        # Same identity, so the same serverInfo stamp; its tools/call returns the ToolAnswer it
        # is handed, which lets the SDK shape an answer without running the tool again.
        self._shaper = _server(_answer_as_given)
        self._shapes: dict[tuple[str, bool], ResultShape | None] = {}
        self._tool_lists: dict[str, bytes] = {}

    async def handle(
        self,
        transport: Transport,
        method: str,
        headers: Sequence[Entry],
        body: Callable[[], Awaitable[bytes]],
        call: Call,
    ) -> HttpAnswer:
        """Answer one HTTP request to the endpoint."""
        folded = fold_headers(headers)
        early = transport.check_head(method, headers, folded)
        if early is not None:
            return early
        parsed = transport.read_body(headers, await body(), folded)
        if isinstance(parsed, HttpAnswer):
            return parsed
        return transport.reply(parsed, await self.dispatch(parsed, call))

    async def dispatch(self, dispatch: Dispatch, call: Call) -> Outcome:
        """Run one request; protocol errors come back as ErrorData, results in wire form."""
        method = dispatch.request.method
        if method == "tools/call":
            return await self._tools_call(dispatch, call)
        if method == "tools/list":
            listing = self._tool_lists.get(dispatch.version)
            if listing is not None:
                params = self._params(dispatch)
                return params if isinstance(params, ErrorData) else listing
        outcome = await self.serve_one(dispatch, call)
        if method == "tools/list" and isinstance(outcome, dict):
            self._tool_lists[dispatch.version] = orjson.dumps(outcome)
        return outcome

    async def serve_one(
        self, dispatch: Dispatch, context: Call | ToolAnswer, server: Server[Any] | None = None
    ) -> dict[str, Any] | ErrorData:
        """Run one request through the SDK's ``serve_one``; ``context`` reaches the handler."""
        connection = Connection.from_envelope(
            dispatch.version, dispatch.client_info, dispatch.client_capabilities
        )
        exchange = _OneExchange(
            request_id=dispatch.request.id,
            message_metadata=ServerMessageMetadata(request_context=context),
        )
        try:
            return await serve_one(
                server or self.server,
                exchange,
                dispatch.request.method,
                dispatch.request.params,
                connection=connection,
                lifespan_state={},
            )
        except Exception as exc:
            return _error_data(exc)

    async def _tools_call(self, dispatch: Dispatch, call: Call) -> Outcome:
        """``tools/call`` the direct way (module docstring)."""
        params = self._params(dispatch)
        if isinstance(params, ErrorData):
            return params
        assert isinstance(params, types.CallToolRequestParams)
        try:
            answer = await self.toolbox.call(call, params.name, params.arguments)
        except Exception as exc:
            return _error_data(exc)
        key = (dispatch.version, answer.is_error)
        shape = self._shapes[key] if key in self._shapes else await self._learn(key, dispatch)
        if shape is None:
            return await self._shaped(dispatch, answer)
        return shape.fill(answer)

    def _params(self, dispatch: Dispatch) -> BaseModel | ErrorData:
        """The params as ``serve_one`` validates them: version surface, then handler model."""
        request = dispatch.request
        entry = self.server.get_request_handler(request.method)
        if entry is None:
            return ErrorData(code=METHOD_NOT_FOUND, message="Method not found", data=request.method)
        try:
            methods.validate_client_request(request.method, dispatch.version, request.params)
            raw = {} if request.params is None else request.params
            return entry.params_type.model_validate(raw, by_name=False)
        except KeyError:
            # The version gate: the method does not exist at this protocol version.
            return ErrorData(code=METHOD_NOT_FOUND, message="Method not found", data=request.method)
        except Exception as exc:
            return _error_data(exc)

    async def _shaped(self, dispatch: Dispatch, answer: ToolAnswer) -> dict[str, Any] | ErrorData:
        """``answer`` in its wire form for the request's version, by the SDK's own pipeline."""
        shaping = Dispatch(
            dispatch.era,
            dispatch.version,
            # The request's own params (valid: they got this far, 2026-07-28 envelope included).
            JSONRPCRequest(
                jsonrpc="2.0", id=0, method="tools/call", params=dispatch.request.params
            ),
            dispatch.client_info,
            dispatch.client_capabilities,
        )
        return await self.serve_one(shaping, answer, self._shaper)

    async def _learn(self, key: tuple[str, bool], dispatch: Dispatch) -> ResultShape | None:
        """The shape of a result of this kind at this version (once per key)."""
        outcome = await self._shaped(dispatch, probe(is_error=key[1]))
        shape: ResultShape | None = None
        try:
            if isinstance(outcome, ErrorData):
                raise ShapeError(outcome.message)
            shape = ResultShape(outcome)
        except ShapeError as exc:
            # Not expected with the pinned SDK: every answer is then shaped by serve_one.
            logger.warning("no result shape for tools/call at %s: %s", dispatch.version, exc)
        self._shapes[key] = shape
        return shape

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> dict[str, Any]:
        call = ctx.request
        if not isinstance(call, Call):
            raise RuntimeError("tools/call without its request context")
        answer = await self.toolbox.call(call, params.name, params.arguments)
        return answer.wire()


Outcome = dict[str, Any] | bytes | ErrorData


def _server(
    on_call_tool: Callable[
        [ServerRequestContext[Any, Any], types.CallToolRequestParams], Awaitable[dict[str, Any]]
    ],
) -> Server[Any]:
    server: Server[Any] = Server(
        SERVER_NAME,
        version=SERVER_VERSION,
        title="Conference gateway",
        instructions=INSTRUCTIONS,
        on_list_tools=_list_tools,
    )
    # Registered directly so the handler may return the result's wire form (a dict), which
    # the SDK still validates against CallToolResult for the negotiated version.
    server.add_request_handler("tools/call", types.CallToolRequestParams, on_call_tool)
    # The SDK's default OpenTelemetry middleware is a no-op without an exporter but still
    # costs a span per message; this process exports no traces.
    server.middleware = []
    return server


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return LIST_RESULT


async def _answer_as_given(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> dict[str, Any]:
    answer = ctx.request
    if not isinstance(answer, ToolAnswer):
        raise RuntimeError("the shaping server is only ever handed a ToolAnswer")
    return answer.wire()


def _error_data(exc: Exception) -> ErrorData:
    # MCPError and pydantic's ValidationError map to their JSON-RPC errors; anything else is
    # logged by the SDK and answered as a bare internal error, never a trace.
    return handler_exception_to_error_data(exc) or modern_error_data(exc)
