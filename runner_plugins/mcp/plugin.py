"""The `conference-mcp` runner plugin: the MCP endpoint behind APISIX's auth and limits.

Strategy: the route runs it from ext-plugin-post-req, after key-auth, the consumer's limit-count,
request-id and CORS, exactly like the REST context routes. APISIX's HTTPReqCall carries no body,
so the plugin asks for it through ExtraInfo (one round trip, and only once the headers passed the
transport rules), asks for the ``consumer_name`` variable only when a tool needs a permission,
and always answers with a Stop: the request never goes upstream.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.mcp.access import Access
from runner_plugins.mcp.conf import McpConf, parse_conf
from runner_plugins.mcp.endpoint import Endpoint
from runner_plugins.mcp.toolbox import Call, Toolbox
from runner_plugins.mcp.transport import JSON_TYPE, Transport, TransportRules
from runner_plugins.plugin import Plugin, Request, RequestAction, Stop

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Route:
    """What one conf builds once: its transport rules and permission policy."""

    conf: McpConf
    transport: Transport
    access: Access


class McpPlugin(Plugin[_Route]):
    """Answers POST /mcp (MCP Streamable HTTP, stateless, JSON answers)."""

    name = "conference-mcp"

    def __init__(self, context: ContextPlugin) -> None:
        self.context = context
        self.endpoint = Endpoint(Toolbox(context))

    def parse_conf(self, raw: str) -> _Route:
        conf = parse_conf(raw)
        rules = TransportRules(conf.allowed_origins, conf.max_body_bytes)
        return _Route(conf, Transport(rules), Access(conf.feedback_consumers))

    async def startup(self) -> None:
        await self.context.startup()

    async def shutdown(self) -> None:
        await self.context.shutdown()

    async def request_filter(self, conf: _Route, request: Request) -> RequestAction | None:
        call = Call(conf.conf, request, conf.access)
        answer = await self.endpoint.handle(
            conf.transport, request.method, request.headers, request.body, call
        )
        headers: tuple[tuple[str, str], ...] = (("cache-control", "no-store"),)
        if answer.body:
            headers = (("content-type", JSON_TYPE), *headers)
        return Stop(status=answer.status, headers=headers + answer.headers, body=answer.body)
