"""Why the MCP server is a runner plugin: one `tools/call` through each server path, in-process.

Strategy: the same tool answer (a 4 KB speaker document as structuredContent plus text) served
1,000 times by (a) the official SDK's own ASGI app in stateless JSON mode, the "own ASGI
process" alternative minus its proxy hop, and (b) this project's endpoint (sans-IO transport +
the direct tools/call route on the SDK's models), as the runner plugin runs it. Handshake era
(``MCP-Protocol-Version: 2025-11-25``), no network, one process; prints microseconds per call.

    python bench/mcp_dispatch_bench.py [--calls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mcp_types as types  # noqa: E402
from mcp.server import Server  # noqa: E402
from mcp.server.transport_security import TransportSecuritySettings  # noqa: E402

from runner_plugins.mcp.endpoint import Endpoint  # noqa: E402
from runner_plugins.mcp.toolbox import Call, ToolAnswer  # noqa: E402
from runner_plugins.mcp.tools import LIST_RESULT  # noqa: E402
from runner_plugins.mcp.transport import Transport, TransportRules  # noqa: E402
from runner_plugins.plugin import StaticRequest  # noqa: E402

SESSION = {
    "id": 129,
    "title": "Resilience patterns for API gateways",
    "abstract": "A practical session on resilience, built around a real system. " * 4,
    "day": 1,
    "start": "09:00",
    "end": "09:45",
    "room": "Room B",
    "level": "intermediate",
    "speakers": [{"id": 1, "name": "Amelia Hartley"}],
    "topics": [{"id": 3, "name": "Resilience"}, {"id": 7, "name": "Security"}],
}
DOCUMENT = {
    "speaker": {"id": 1, "name": "Amelia Hartley", "company": "Northwind Cloud", "bio": "x" * 90},
    "sessions": [{**SESSION, "id": 129 + i} for i in range(5)],
    "topics": [{"id": i, "name": f"Topic {i}", "description": "y" * 60} for i in range(13)],
    "meta": {"complete": True, "sources": [], "missing": [], "truncated": False},
}
TEXT = json.dumps(DOCUMENT, separators=(",", ":"))
RESULT = {"content": [{"type": "text", "text": TEXT}], "structuredContent": DOCUMENT}
BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "get_speaker_context", "arguments": {"id": 1}},
    }
).encode()
HEADERS = [
    ("accept", "application/json, text/event-stream"),
    ("content-type", "application/json"),
    ("mcp-protocol-version", "2025-11-25"),
]


async def _sdk_asgi(calls: int) -> float:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return LIST_RESULT

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return types.CallToolResult.model_validate(RESULT)

    server: Server[Any] = Server("bench", on_list_tools=list_tools, on_call_tool=call_tool)
    server.middleware = []
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = server.streamable_http_app(
        stateless_http=True, json_response=True, transport_security=security
    )
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in HEADERS]
        + [(b"host", b"localhost"), (b"content-length", str(len(BODY)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }

    async def one() -> int:
        sent: list[MutableMapping[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": BODY, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        return int(sent[0]["status"])

    async with server.session_manager.run():
        assert await one() == 200
        started = time.perf_counter()
        for _ in range(calls):
            await one()
        return (time.perf_counter() - started) / calls * 1e6


async def _runner_endpoint(calls: int) -> float:
    class ConstantTools:
        async def call(self, call: Call, name: str, arguments: Any) -> ToolAnswer:
            return ToolAnswer(TEXT, TEXT.encode())

    endpoint = Endpoint(ConstantTools())  # type: ignore[arg-type]
    transport = Transport(TransportRules(frozenset(), 65536))
    call = Call(None, StaticRequest(), None)  # type: ignore[arg-type]

    async def body() -> bytes:
        return BODY

    answer = await endpoint.handle(transport, "POST", list(HEADERS), body, call)
    assert answer.status == 200, answer.body[:200]
    started = time.perf_counter()
    for _ in range(calls):
        await endpoint.handle(transport, "POST", list(HEADERS), body, call)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    sdk = asyncio.run(_sdk_asgi(args.calls))
    ours = asyncio.run(_runner_endpoint(args.calls))
    print(f"\n{args.calls} tools/call answers ({len(TEXT)}-character document), one process:\n")
    print("| server path | µs per call |")
    print("|---|---:|")
    print(f"| SDK `streamable_http_app(stateless_http=True, json_response=True)` | {sdk:.0f} |")
    print(f"| runner endpoint (transport.py + direct tools/call route) | {ours:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
