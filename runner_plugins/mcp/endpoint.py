"""One MCP message through the official SDK's server machinery, without its ASGI app.

Strategy: the SDK's ``serve_one`` is its single-exchange driver (the one its own 2026-07-28 HTTP
entry uses): it validates params per protocol version, answers ``initialize`` and
``server/discover``, dispatches to our ``tools/list``/``tools/call`` handlers and shapes the result
for the negotiated version. We feed it one request per POST with a born-ready connection built
from the request (header version for the handshake era, ``_meta`` envelope for 2026-07-28), so
no session, task group or stream is created per request. The per-request :class:`Call` reaches
the handlers as the transport's request context, the SDK's channel for exactly that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.runner import modern_error_data, serve_one
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
from mcp.shared.message import MessageMetadata, ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import ErrorData, RequestId

from runner_plugins.mcp.toolbox import Call, Toolbox
from runner_plugins.mcp.tools import LIST_RESULT
from runner_plugins.mcp.transport import Dispatch, HttpAnswer, Transport

SERVER_NAME = "conference"
SERVER_VERSION = "1.0"
INSTRUCTIONS = (
    "Conference data (speakers, sessions, topics) behind an API gateway. Start with "
    "get_speaker_context for anything about a person, search_sessions for the programme."
)
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
        self.server: Server[Any] = Server(
            SERVER_NAME,
            version=SERVER_VERSION,
            title="Conference gateway",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
        )
        # Registered directly so the handler may return the result's wire form (a dict), which
        # the SDK still validates against CallToolResult for the negotiated version.
        self.server.add_request_handler("tools/call", types.CallToolRequestParams, self._call_tool)
        # The SDK's default OpenTelemetry middleware is a no-op without an exporter but still
        # costs a span per message; this process exports no traces.
        self.server.middleware = []

    async def handle(
        self,
        transport: Transport,
        method: str,
        headers: list[tuple[str, str | None]],
        body: Callable[[], Awaitable[bytes]],
        call: Call,
    ) -> HttpAnswer:
        """Answer one HTTP request to the endpoint."""
        early = transport.check_head(method, headers)
        if early is not None:
            return early
        parsed = transport.read_body(headers, await body())
        if isinstance(parsed, HttpAnswer):
            return parsed
        return transport.reply(parsed, await self.dispatch(parsed, call))

    async def dispatch(self, dispatch: Dispatch, call: Call) -> dict[str, Any] | ErrorData:
        """Run one request through the SDK; protocol errors come back as ErrorData."""
        connection = Connection.from_envelope(
            dispatch.version, dispatch.client_info, dispatch.client_capabilities
        )
        context = _OneExchange(
            request_id=dispatch.request.id,
            message_metadata=ServerMessageMetadata(request_context=call),
        )
        try:
            return await serve_one(
                self.server,
                context,
                dispatch.request.method,
                dispatch.request.params,
                connection=connection,
                lifespan_state={},
            )
        except Exception as exc:
            # MCPError and pydantic's ValidationError map to their JSON-RPC errors; anything
            # else is logged by the SDK and answered as a bare internal error, never a trace.
            return handler_exception_to_error_data(exc) or modern_error_data(exc)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return LIST_RESULT

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> dict[str, Any]:
        call = ctx.request
        if not isinstance(call, Call):
            raise RuntimeError("tools/call without its request context")
        return await self.toolbox.call(call, params.name, params.arguments)
