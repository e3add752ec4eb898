"""/mcp through the gateway, black-box: the official MCP SDK clients and raw HTTP.

Both protocol eras with the SDK's own clients (``streamable_http_client`` + ``ClientSession`` for
the ``initialize`` handshake, ``mcp.Client(url, mode="auto")`` for 2026-07-28), the permission of
the write tool, authentication, and every bad input the transport must answer as the MCP
Streamable HTTP spec says. Driven only by ``GATEWAY_URL`` and the two keys.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.integration.conftest import assert_error_shape, json_body

MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
TOOLS = {
    "get_speaker_context",
    "search_speakers",
    "search_sessions",
    "get_session",
    "list_topics",
    "submit_session_feedback",
    "search",
    "fetch",
}
#: One call per tool with arguments that succeed on the seed (docs/interfaces.md, "Seed facts").
CALLS: dict[str, dict[str, Any]] = {
    "get_speaker_context": {"id": 1},
    "search_speakers": {"name": "maria"},
    "search_sessions": {"topic": "kubernetes", "day": 1},
    "get_session": {"id": 104},
    "list_topics": {},
    "submit_session_feedback": {"session_id": 104, "rating": 4, "comment": "via MCP"},
    "search": {"query": "Amelia"},
    "fetch": {"id": "session:104"},
}


@asynccontextmanager
async def handshake_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"apikey": key}, timeout=30.0) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                yield session


def rest_document(chatgpt: httpx.Client, speaker_id: int) -> dict[str, Any]:
    response = chatgpt.get(f"/speaker/{speaker_id}/context")
    assert response.status_code == 200, response.text[:200]
    return dict(json_body(response))


def without_timing(document: dict[str, Any]) -> dict[str, Any]:
    # Latency, cache hits and the request id differ from call to call; the data must not.
    return {k: v for k, v in document.items() if k != "meta"}


async def test_handshake_client_lists_and_calls_every_tool(
    gateway_url: str, chatgpt_key: str, chatgpt: httpx.Client
) -> None:
    async with handshake_session(f"{gateway_url}/mcp", chatgpt_key) as session:
        init = await session.initialize()
        assert init.protocol_version == "2025-11-25"
        assert init.server_info.name == "conference"
        listed = await session.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        for tool in listed.tools:
            hints = tool.annotations
            assert hints is not None and None not in (
                hints.read_only_hint,
                hints.destructive_hint,
                hints.idempotent_hint,
                hints.open_world_hint,
            ), tool.name
            assert tool.output_schema is not None, tool.name
        for name, arguments in CALLS.items():
            # The SDK client validates structuredContent against each outputSchema itself.
            result = await session.call_tool(name, arguments)
            assert result.is_error is False, (name, result.content)
            assert result.structured_content is not None
            assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
        context = await session.call_tool("get_speaker_context", {"id": 1})
    assert without_timing(context.structured_content or {}) == without_timing(
        rest_document(chatgpt, 1)
    )


async def test_modern_client_auto_mode_uses_2026_07_28(
    gateway_url: str, chatgpt_key: str, chatgpt: httpx.Client
) -> None:
    # mcp.Client takes a URL; key-auth also reads the key from the apikey query argument.
    async with Client(f"{gateway_url}/mcp?apikey={chatgpt_key}", mode="auto") as client:
        assert client.session.discover_result is not None, "fell back to the handshake"
        assert MODERN in client.session.discover_result.supported_versions
        listed = await client.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        for name, arguments in CALLS.items():
            result = await client.call_tool(name, arguments)
            assert result.is_error is False, (name, result.content)
        by_name = await client.call_tool("get_speaker_context", {"name": "Amelia Hartley"})
    assert without_timing(by_name.structured_content or {}) == without_timing(
        rest_document(chatgpt, 1)
    )


async def test_readonly_key_cannot_use_the_write_tool(gateway_url: str, readonly_key: str) -> None:
    async with handshake_session(f"{gateway_url}/mcp", readonly_key) as session:
        await session.initialize()
        read = await session.call_tool("get_session", {"id": 104})
        assert read.is_error is False
        write = await session.call_tool("submit_session_feedback", {"session_id": 104, "rating": 1})
    assert write.is_error is True
    assert "not post session feedback" in write.content[0].text  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ raw HTTP


def rpc(method: str, params: dict[str, Any] | None = None, ident: int | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if ident is not None:
        message["id"] = ident
    if params is not None:
        message["params"] = params
    return message


def post(client: httpx.Client, body: Any, **headers: str) -> httpx.Response:
    sent = {"accept": ACCEPT, "content-type": "application/json", **headers}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/mcp", content=content, headers=sent)


def rpc_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = json_body(response)
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    return dict(body)


def modern(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return rpc(method, {**(params or {}), "_meta": meta})


def test_no_key_is_401(client: httpx.Client) -> None:
    response = post(client, rpc("tools/list"))
    body = assert_error_shape(response, 401)
    # The OAuth challenge names the MCP resource's metadata (RFC 9728); APISIX's inner auth
    # plugins may add their own challenges before it.
    challenges = response.headers.get_list("www-authenticate")
    assert any(
        c.startswith('Bearer resource_metadata="')
        and c.endswith('/.well-known/oauth-protected-resource/mcp"')
        for c in challenges
    ), challenges
    assert "message" in body


def test_wrong_key_is_401(client: httpx.Client) -> None:
    assert_error_shape(post(client, rpc("tools/list"), apikey="not-a-key"), 401)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_are_405(chatgpt: httpx.Client, method: str) -> None:
    response = chatgpt.request(method, "/mcp", headers={"accept": ACCEPT})
    rpc_error(response, 405, -32600)
    assert response.headers["allow"] == "POST"


def test_notification_is_202_without_body(chatgpt: httpx.Client) -> None:
    response = post(chatgpt, rpc("notifications/initialized", ident=None))
    assert response.status_code == 202 and response.content == b""


def test_unsupported_protocol_version_is_400_naming_the_supported_ones(
    chatgpt: httpx.Client,
) -> None:
    response = post(chatgpt, rpc("tools/list"), **{"mcp-protocol-version": "1999-01-01"})
    error = rpc_error(response, 400, -32022)["error"]
    assert {"2025-06-18", "2025-11-25", MODERN} <= set(error["data"]["supported"])


def test_disallowed_origin_is_403_and_allowed_origin_works(chatgpt: httpx.Client) -> None:
    rpc_error(post(chatgpt, rpc("tools/list"), origin="https://evil.example"), 403, -32600)
    ok = post(chatgpt, rpc("tools/list"), origin="https://chatgpt.com")
    assert ok.status_code == 200 and "result" in json_body(ok)
    assert ok.headers.get("access-control-allow-origin") == "https://chatgpt.com"


def test_public_host_is_accepted(chatgpt: httpx.Client) -> None:
    # Behind a tunnel or load balancer the Host is the public name, never localhost.
    response = post(chatgpt, rpc("tools/list"), host="conference.example.org")
    assert response.status_code == 200, response.text[:200]


def test_wrong_accept_is_406(chatgpt: httpx.Client) -> None:
    response = post(chatgpt, rpc("tools/list"), accept="text/html")
    rpc_error(response, 406, -32600)


def test_wrong_content_type_is_415(chatgpt: httpx.Client) -> None:
    response = chatgpt.post(
        "/mcp",
        content=json.dumps(rpc("tools/list")).encode(),
        headers={"accept": ACCEPT, "content-type": "text/plain"},
    )
    rpc_error(response, 415, -32600)


def test_oversize_body_is_413(chatgpt: httpx.Client) -> None:
    huge = rpc("tools/call", {"name": "search", "arguments": {"query": "x" * 70_000}})
    rpc_error(post(chatgpt, huge), 413, -32600)


def test_malformed_json_is_parse_error(chatgpt: httpx.Client) -> None:
    body = rpc_error(post(chatgpt, b'{"jsonrpc": "2.0", "id": 1,'), 400, -32700)
    assert body["id"] is None


@pytest.mark.parametrize(
    "message",
    [[rpc("tools/list")], {"jsonrpc": "1.0", "id": 1, "method": "tools/list"}, 42],
    ids=["batch", "wrong-jsonrpc", "not-an-object"],
)
def test_invalid_request(chatgpt: httpx.Client, message: Any) -> None:
    rpc_error(post(chatgpt, message), 400, -32600)


def test_unknown_method_in_both_eras(chatgpt: httpx.Client) -> None:
    legacy = post(chatgpt, rpc("prompts/list"), **{"mcp-protocol-version": "2025-11-25"})
    assert rpc_error(legacy, 200, -32601)["id"] == 1
    headers = {"mcp-protocol-version": MODERN, "mcp-method": "prompts/list"}
    rpc_error(post(chatgpt, modern("prompts/list"), **headers), 404, -32601)


def test_a_lone_surrogate_echoed_back_still_gives_json(chatgpt: httpx.Client) -> None:
    # "\ud800" is a valid JSON escape for a character UTF-8 cannot hold; the error answer
    # that names the unknown method must still be JSON, not a failed encoding.
    raw = b'{"jsonrpc": "2.0", "id": 7, "method": "tools/\\ud800"}'
    answer = post(chatgpt, raw, **{"mcp-protocol-version": "2025-11-25"})
    assert rpc_error(answer, 200, -32601)["id"] == 7


def test_modern_header_mismatch(chatgpt: httpx.Client) -> None:
    params = {"name": "get_session", "arguments": {"id": 104}}
    headers = {"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "fetch"}
    rpc_error(post(chatgpt, modern("tools/call", params), **headers), 400, -32020)
    headers["mcp-method"] = "tools/list"
    headers["mcp-name"] = "get_session"
    rpc_error(post(chatgpt, modern("tools/call", params), **headers), 400, -32020)


def test_unknown_tool_and_bad_arguments(chatgpt: httpx.Client) -> None:
    version = {"mcp-protocol-version": "2025-11-25"}
    unknown = post(chatgpt, rpc("tools/call", {"name": "drop_all", "arguments": {}}), **version)
    rpc_error(unknown, 200, -32602)
    bad = post(
        chatgpt, rpc("tools/call", {"name": "get_session", "arguments": {"id": "x"}}), **version
    )
    assert bad.status_code == 200
    result = json_body(bad)["result"]
    assert result["isError"] is True and "id" in result["content"][0]["text"]


def test_mcp_answers_carry_request_id_and_rate_limit_headers(chatgpt: httpx.Client) -> None:
    response = post(chatgpt, rpc("tools/list"), **{"x-request-id": "mcp-correlation-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "mcp-correlation-1"
    assert "x-ratelimit-remaining" in response.headers


def test_cors_preflight_allows_the_mcp_headers(client: httpx.Client) -> None:
    response = client.options(
        "/mcp",
        headers={
            "origin": "https://chatgpt.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "mcp-protocol-version,content-type",
        },
    )
    assert response.status_code == 200
    allowed = response.headers["access-control-allow-headers"].split(",")
    assert {"mcp-protocol-version", "mcp-method", "mcp-name", "apikey"} <= set(allowed)
