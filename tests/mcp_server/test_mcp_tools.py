"""The conference-mcp plugin on the real Flask backend: every tool, permissions, failures.

The plugin is driven as the runner drives it (a Request with headers, body and variables), on a
live backend over loopback, with the context plugin it shares.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest

from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.mcp.plugin import McpPlugin
from runner_plugins.mcp.tools import BY_NAME
from runner_plugins.plugin import StaticRequest, Stop
from tests.context.conftest import TEST_SECRET, ask, make_conf

PUBLIC = "https://conference.example"
HEADERS = (
    ("accept", "application/json, text/event-stream"),
    ("content-type", "application/json"),
    ("mcp-protocol-version", "2025-11-25"),
    ("x-request-id", "mcp-req-1"),
)


def route_conf(backend: str, **context: Any) -> Any:
    raw = {
        "public_url": PUBLIC + "/",
        "feedback_consumers": ["chatgpt"],
        "allowed_origins": ["https://chatgpt.com"],
        "context": {"backend_url": backend, "secret": TEST_SECRET, **context},
    }
    return json.dumps(raw)


@pytest.fixture
async def plugin() -> AsyncIterator[McpPlugin]:
    instance = McpPlugin(ContextPlugin())
    await instance.startup()
    try:
        yield instance
    finally:
        await instance.shutdown()


MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


async def post(
    plugin: McpPlugin,
    conf_raw: str,
    method: str,
    params: dict[str, Any] | None = None,
    consumer: str | None = "chatgpt",
    modern: bool = False,
) -> tuple[int, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    headers: tuple[tuple[str, str], ...] = HEADERS
    if modern:
        # 2026-07-28: the envelope in _meta and the routing headers that mirror the body.
        params = {**(params or {}), "_meta": ENVELOPE}
        headers = (
            *(h for h in HEADERS if h[0] != "mcp-protocol-version"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", method),
        )
        if method == "tools/call":
            headers = (*headers, ("mcp-name", str(params["name"])))
    if params is not None:
        message["params"] = params
    request = StaticRequest(
        path="/mcp",
        method="POST",
        headers=headers,
        request_body=json.dumps(message).encode(),
        vars={"consumer_name": consumer} if consumer else {},
    )
    stop = await plugin.request_filter(plugin.parse_conf(conf_raw), request)
    assert isinstance(stop, Stop)
    assert ("content-type", "application/json") in stop.headers
    return stop.status, json.loads(stop.body)


async def call_tool(
    plugin: McpPlugin, conf_raw: str, name: str, arguments: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    status, body = await post(
        plugin, conf_raw, "tools/call", {"name": name, "arguments": arguments}, **kw
    )
    assert status == 200, body
    result = body["result"]
    assert isinstance(result, dict)
    return result


def assert_ok(result: dict[str, Any], tool: str) -> dict[str, Any]:
    assert result["isError"] is False, result["content"]
    structured = result["structuredContent"]
    # outputSchema conformance, and the same JSON as text for clients without structured output.
    jsonschema.validate(structured, BY_NAME[tool].tool.output_schema or {})
    [block] = result["content"]
    assert block["type"] == "text" and json.loads(block["text"]) == structured
    return dict(structured)


def error_text(result: dict[str, Any]) -> str:
    assert result["isError"] is True, result
    assert "structuredContent" not in result
    return str(result["content"][0]["text"])


async def test_tools_list_has_every_tool_with_all_four_hints(
    plugin: McpPlugin, backend_url: str
) -> None:
    status, body = await post(plugin, route_conf(backend_url), "tools/list")
    assert status == 200
    tools = body["result"]["tools"]
    assert [t["name"] for t in tools] == list(BY_NAME)
    for tool in tools:
        hints = tool["annotations"]
        assert {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} <= set(hints)
        assert tool["inputSchema"]["type"] == "object" and tool["outputSchema"]["type"] == "object"
        assert tool["description"]
        assert hints["readOnlyHint"] is (tool["name"] != "submit_session_feedback")


async def test_speaker_context_is_the_rest_document(plugin: McpPlugin, backend_url: str) -> None:
    rest = await ask(plugin.context, make_conf(backend_url), "/speaker/1/context")
    mcp = assert_ok(
        await call_tool(plugin, route_conf(backend_url), "get_speaker_context", {"id": 1}),
        "get_speaker_context",
    )
    for key in ("speaker", "sessions", "topics"):
        assert mcp[key] == rest.body[key]
    assert [s["id"] for s in mcp["sessions"]] == [129, 131, 187, 239, 261]
    assert mcp["meta"]["complete"] is True and mcp["meta"]["request_id"] == "mcp-req-1"


async def test_speaker_context_by_name_and_ambiguity(plugin: McpPlugin, backend_url: str) -> None:
    conf = route_conf(backend_url)
    one = assert_ok(
        await call_tool(plugin, conf, "get_speaker_context", {"name": "lukasz"}),
        "get_speaker_context",
    )
    assert one["speaker"]["id"] == 4
    many = assert_ok(
        await call_tool(plugin, conf, "get_speaker_context", {"name": "maria"}),
        "get_speaker_context",
    )
    assert {c["id"] for c in many["candidates"]} == {6, 7}
    missing = error_text(await call_tool(plugin, conf, "get_speaker_context", {"id": 9999}))
    assert "9999" in missing and "not found" in missing


async def test_trim_applies_to_mcp_answers(plugin: McpPlugin, backend_url: str) -> None:
    conf = route_conf(backend_url, max_response_chars=1500)
    result = await call_tool(plugin, conf, "get_speaker_context", {"id": 1})
    doc = assert_ok(result, "get_speaker_context")
    assert len(result["content"][0]["text"]) <= 1500
    assert doc["meta"]["truncated"]["max_chars"] == 1500
    listing = await call_tool(plugin, conf, "search_sessions", {"day": 1, "limit": 50})
    sessions = assert_ok(listing, "search_sessions")
    assert len(listing["content"][0]["text"]) <= 1500
    assert sessions["meta"]["truncated"]["sessions_dropped"] > 0


async def test_search_tools(plugin: McpPlugin, backend_url: str) -> None:
    conf = route_conf(backend_url)
    speakers = assert_ok(
        await call_tool(plugin, conf, "search_speakers", {"name": "JOSE"}), "search_speakers"
    )
    assert [s["id"] for s in speakers["speakers"]] == [2] and speakers["total"] == 1
    sessions = assert_ok(
        await call_tool(plugin, conf, "search_sessions", {"speaker": "Amelia Hartley"}),
        "search_sessions",
    )
    assert [s["id"] for s in sessions["sessions"]] == [129, 131, 187, 239, 261]
    at = assert_ok(
        await call_tool(plugin, conf, "search_sessions", {"day": 2, "time": "10:10", "limit": 100}),
        "search_sessions",
    )
    assert at["sessions"] and all(
        s["day"] == 2 and s["start"] <= "10:10" < s["end"] for s in at["sessions"]
    )
    topical = assert_ok(
        await call_tool(plugin, conf, "search_sessions", {"topic": "kubernetes"}), "search_sessions"
    )
    assert topical["total"] > 0
    assert all(
        any("kubernetes" in t["name"].lower() for t in s["topics"]) for s in topical["sessions"]
    )
    session = assert_ok(await call_tool(plugin, conf, "get_session", {"id": 104}), "get_session")
    assert {s["id"] for s in session["session"]["speakers"]} == {16, 53}
    topics = assert_ok(await call_tool(plugin, conf, "list_topics", {}), "list_topics")
    assert topics["total"] == 32


async def test_search_and_fetch_in_chatgpt_shapes(plugin: McpPlugin, backend_url: str) -> None:
    conf = route_conf(backend_url)
    found = assert_ok(await call_tool(plugin, conf, "search", {"query": "Amelia"}), "search")
    first = found["results"][0]
    assert first == {
        "id": "speaker:1",
        "title": "Amelia Hartley (Northwind Cloud)",
        "url": f"{PUBLIC}/speaker/1/context",
    }
    fetched = assert_ok(await call_tool(plugin, conf, "fetch", {"id": "speaker:1"}), "fetch")
    assert fetched["id"] == "speaker:1" and fetched["url"] == first["url"]
    assert json.loads(fetched["text"])["speaker"]["name"] == "Amelia Hartley"
    assert fetched["metadata"] == {"type": "speaker", "complete": "true"}
    session = assert_ok(await call_tool(plugin, conf, "fetch", {"id": "session:104"}), "fetch")
    assert (
        session["url"] == f"{PUBLIC}/session/104"
        and session["title"] == "From zero to API Gateways"
    )
    bad = error_text(await call_tool(plugin, conf, "fetch", {"id": "topic:1"}))
    assert "speaker:1" in bad


async def test_feedback_only_for_consumers_that_may_post(
    plugin: McpPlugin, backend_url: str
) -> None:
    conf = route_conf(backend_url)
    args = {"session_id": 104, "rating": 5, "comment": "Great talk"}
    stored = assert_ok(
        await call_tool(plugin, conf, "submit_session_feedback", args), "submit_session_feedback"
    )
    assert stored["feedback"]["session_id"] == 104 and stored["feedback"]["rating"] == 5
    refused = error_text(
        await call_tool(plugin, conf, "submit_session_feedback", args, consumer="readonly")
    )
    assert "not post session feedback" in refused and "readonly" in refused
    # The gateway did not name a consumer: fail closed.
    unknown = error_text(
        await call_tool(plugin, conf, "submit_session_feedback", args, consumer=None)
    )
    assert "not post session feedback" in unknown
    missing = error_text(
        await call_tool(plugin, conf, "submit_session_feedback", {**args, "session_id": 9999})
    )
    assert "9999" in missing


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_speaker_context", {}, "exactly one of"),
        ("get_speaker_context", {"id": 1, "name": "x"}, "exactly one of"),
        ("get_speaker_context", {"id": "one"}, "id: 'one' is not of type 'integer'"),
        ("get_session", {}, "'id' is a required property"),
        ("search_sessions", {"time": "25:00"}, "time"),
        ("submit_session_feedback", {"session_id": 104, "rating": 9}, "rating"),
        ("list_topics", {"colour": "red"}, "colour"),
    ],
)
async def test_bad_arguments_are_tool_errors_that_say_what_to_fix(
    plugin: McpPlugin, backend_url: str, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    message = error_text(await call_tool(plugin, route_conf(backend_url), tool, arguments))
    assert expected in message


async def test_unknown_tool_is_a_protocol_error(plugin: McpPlugin, backend_url: str) -> None:
    status, body = await post(
        plugin, route_conf(backend_url), "tools/call", {"name": "drop_tables", "arguments": {}}
    )
    assert status == 200 and body["error"]["code"] == -32602
    assert "drop_tables" in body["error"]["message"]


async def test_malformed_tool_params_are_invalid_params(
    plugin: McpPlugin, backend_url: str
) -> None:
    status, body = await post(plugin, route_conf(backend_url), "tools/call", {"arguments": {}})
    assert status == 200 and body["error"]["code"] == -32602


async def test_unknown_method(plugin: McpPlugin, backend_url: str) -> None:
    status, body = await post(plugin, route_conf(backend_url), "resources/list")
    assert status == 200 and body["error"]["code"] == -32601


async def test_initialize_negotiates_a_handshake_version(
    plugin: McpPlugin, backend_url: str
) -> None:
    params = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    status, body = await post(plugin, route_conf(backend_url), "initialize", params)
    assert status == 200
    assert body["result"]["protocolVersion"] == "2025-06-18"
    assert body["result"]["capabilities"]["tools"] is not None
    assert body["result"]["serverInfo"]["name"] == "conference"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_backend_down_is_a_plain_language_tool_error(plugin: McpPlugin) -> None:
    conf = route_conf(f"http://127.0.0.1:{_closed_port()}", breaker_failures=1000)
    for tool, args in (
        ("get_speaker_context", {"id": 3}),
        ("search_sessions", {"keyword": "api"}),
        ("submit_session_feedback", {"session_id": 104, "rating": 4}),
    ):
        message = error_text(await call_tool(plugin, conf, tool, args))
        assert "unreachable" in message or "unavailable" in message, message
        assert "Traceback" not in message


@pytest.mark.parametrize(
    ("tool", "arguments", "error"),
    [
        ("get_speaker_context", {"id": 1}, False),
        ("list_topics", {}, False),
        ("get_session", {"id": 9999}, True),
    ],
)
async def test_2026_07_28_results_are_complete_and_stamped(
    plugin: McpPlugin, backend_url: str, tool: str, arguments: dict[str, Any], error: bool
) -> None:
    status, body = await post(
        plugin,
        route_conf(backend_url),
        "tools/call",
        {"name": tool, "arguments": arguments},
        modern=True,
    )
    assert status == 200, body
    result = body["result"]
    assert result["resultType"] == "complete" and result["isError"] is error
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "conference"
    if not error:
        jsonschema.validate(result["structuredContent"], BY_NAME[tool].tool.output_schema or {})


async def test_2026_07_28_discover_lists_the_modern_version(
    plugin: McpPlugin, backend_url: str
) -> None:
    status, body = await post(plugin, route_conf(backend_url), "server/discover", {}, modern=True)
    assert status == 200
    assert body["result"]["supportedVersions"] == [MODERN]
    assert body["result"]["capabilities"]["tools"] is not None


async def test_handshake_results_carry_no_result_type(plugin: McpPlugin, backend_url: str) -> None:
    result = await call_tool(plugin, route_conf(backend_url), "list_topics", {})
    assert "resultType" not in result
