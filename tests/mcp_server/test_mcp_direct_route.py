"""The direct tools/call and tools/list routes answer exactly what the SDK's serve_one answers.

Every case runs the same request through both routes of one endpoint (the real tools on the real
Flask backend) at every protocol version served, and compares the whole JSON-RPC answers: status,
envelope, result shape, text and structured document. Only the per-source timings in
``meta.sources`` are blanked, since the two routes make two separate fetches.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest

from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.mcp.plugin import McpPlugin
from runner_plugins.mcp.shape import TEXT_MARK, ResultShape, ShapeError
from runner_plugins.mcp.toolbox import Call, ToolAnswer, success
from runner_plugins.mcp.tools import BY_NAME
from runner_plugins.mcp.transport import SERVED_VERSIONS, Dispatch, Transport
from runner_plugins.plugin import StaticRequest
from tests.context.conftest import strict_json
from tests.mcp_server.test_mcp_tools import route_conf

MODERN = "2026-07-28"
#: For cases that never reach the backend.
UNUSED = "http://127.0.0.1:9"
BASE = (
    ("accept", "application/json, text/event-stream"),
    ("content-type", "application/json"),
    ("x-request-id", "direct-1"),
)
CALLS: list[tuple[dict[str, Any], str]] = [
    ({"name": "get_speaker_context", "arguments": {"id": 1}}, "the context plugin's document"),
    ({"name": "get_speaker_context", "arguments": {"name": "a"}}, "candidates"),
    ({"name": "list_topics", "arguments": {}}, "a document the toolbox encodes"),
    ({"name": "get_session", "arguments": {"id": 9999}}, "a tool error"),
    ({"name": "get_speaker_context", "arguments": {"id": "one"}}, "refused arguments"),
    ({"name": "submit_session_feedback", "arguments": {"session_id": 1, "rating": 5}}, "denied"),
    ({"name": "drop_tables", "arguments": {}}, "unknown tool: protocol error"),
    ({"arguments": {"id": 1}}, "no name: invalid params"),
    ({"name": 7}, "name of the wrong type"),
]
#: Every call at every version, but the one the 2026-07-28 header ladder refuses before either
#: route (an Mcp-Name header cannot match a number).
CASES = [
    pytest.param(version, params, id=f"{case}-{version}")
    for params, case in CALLS
    for version in SERVED_VERSIONS
    if not (version == MODERN and not isinstance(params.get("name"), str))
]


@pytest.fixture
async def plugin() -> AsyncIterator[McpPlugin]:
    instance = McpPlugin(ContextPlugin())
    await instance.startup()
    try:
        yield instance
    finally:
        await instance.shutdown()


def _request(version: str, method: str, params: dict[str, Any] | None) -> tuple[Any, bytes]:
    headers: tuple[tuple[str, str], ...] = (*BASE, ("mcp-protocol-version", version))
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": 41, "method": method}
    if version == MODERN:
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        params = {**(params or {}), "_meta": meta}
        headers = (*headers, ("mcp-method", method))
        if method == "tools/call" and isinstance(params.get("name"), str):
            headers = (*headers, ("mcp-name", params["name"]))
    if params is not None:
        message["params"] = params
    return headers, json.dumps(message).encode()


def _prepare(
    plugin: McpPlugin, backend: str, version: str, method: str, params: dict[str, Any] | None
) -> tuple[Dispatch, Call]:
    route = plugin.parse_conf(route_conf(backend))
    headers, body = _request(version, method, params)
    dispatch = route.transport.read_body(list(headers), body)
    assert isinstance(dispatch, Dispatch), dispatch
    request = StaticRequest(
        path="/mcp", method="POST", headers=headers, vars={"consumer_name": "x"}
    )
    return dispatch, Call(route.conf, request, route.access)


async def _both(
    plugin: McpPlugin, backend: str, version: str, method: str, params: dict[str, Any] | None
) -> tuple[tuple[int, Any], tuple[int, Any]]:
    dispatch, call = _prepare(plugin, backend, version, method, params)
    direct = Transport.reply(dispatch, await plugin.endpoint.dispatch(dispatch, call))
    sdk = Transport.reply(dispatch, await plugin.endpoint.serve_one(dispatch, call))
    return (direct.status, json.loads(direct.body)), (sdk.status, json.loads(sdk.body))


def _without_timings(answer: Any) -> Any:
    """The answer with meta.sources' latency and cache flag blanked, in both copies."""
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict) or "structuredContent" not in result:
        return answer

    def blank(document: dict[str, Any]) -> dict[str, Any]:
        meta = document.get("meta")
        if isinstance(meta, dict):
            for source in meta.get("sources", []):
                source["latency_ms"] = source["cached"] = None
        return document

    result["structuredContent"] = blank(result["structuredContent"])
    [block] = result["content"]
    block["text"] = blank(json.loads(block["text"]))
    return answer


@pytest.mark.parametrize(("version", "params"), CASES)
async def test_tools_call_answers_like_serve_one(
    plugin: McpPlugin, backend_url: str, version: str, params: dict[str, Any]
) -> None:
    (direct_status, direct), (sdk_status, sdk) = await _both(
        plugin, backend_url, version, "tools/call", params
    )
    assert direct_status == sdk_status
    assert _without_timings(direct) == _without_timings(sdk)


@pytest.mark.parametrize("version", SERVED_VERSIONS)
async def test_tool_documents_are_spliced_unchanged(
    plugin: McpPlugin, backend_url: str, version: str
) -> None:
    # Not vacuous: the structured copy is there, valid for the tool, and equal to the text.
    (_, direct), _ = await _both(
        plugin,
        backend_url,
        version,
        "tools/call",
        {"name": "get_speaker_context", "arguments": {"id": 1}},
    )
    result = direct["result"]
    assert result["isError"] is False
    schema = BY_NAME["get_speaker_context"].tool.output_schema or {}
    jsonschema.validate(result["structuredContent"], schema)
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert ("resultType" in result) is (version == MODERN)


@pytest.mark.parametrize("version", SERVED_VERSIONS)
async def test_tools_list_kept_answer_is_the_sdk_answer(
    plugin: McpPlugin, backend_url: str, version: str
) -> None:
    first, _ = await _both(plugin, backend_url, version, "tools/list", None)
    # The first answer came from serve_one and was kept; this one is the kept bytes.
    again, sdk = await _both(plugin, backend_url, version, "tools/list", None)
    assert first == again == sdk
    bad, sdk_bad = await _both(plugin, backend_url, version, "tools/list", {"cursor": 5})
    assert bad == sdk_bad and bad[1]["error"]["code"] == -32602


async def test_non_finite_numbers_become_null_as_the_sdk_sends_them(plugin: McpPlugin) -> None:
    # A backend may send NaN or Infinity (the stdlib reads them); the SDK's route sends such
    # floats as null, and the spliced answer must too, in the text block as well.
    dispatch, _ = _prepare(plugin, UNUSED, "2025-11-25", "tools/call", {"name": "fetch"})
    answer = success({"score": math.nan, "limit": -math.inf, "name": "NaN"}, 100_000)
    sdk = await plugin.endpoint._shaped(dispatch, answer)
    shape = await plugin.endpoint._learn(("2025-11-25", False), dispatch)
    assert isinstance(sdk, dict) and shape is not None
    direct = strict_json(shape.fill(answer))
    assert direct == sdk
    assert direct["structuredContent"] == {"score": None, "limit": None, "name": "NaN"}
    assert strict_json(direct["content"][0]["text"]) == {
        "score": None,
        "limit": None,
        "name": "NaN",
    }


async def test_a_lone_surrogate_in_a_message_still_gives_json(plugin: McpPlugin) -> None:
    # A backend's error message may decode to one (a "\\ud800" escape); orjson refuses it.
    dispatch, _ = _prepare(plugin, UNUSED, "2025-11-25", "tools/call", {"name": "fetch"})
    shape = await plugin.endpoint._learn(("2025-11-25", True), dispatch)
    assert shape is not None
    result = json.loads(shape.fill(ToolAnswer("refused: \ud800")))
    assert result == {"content": [{"type": "text", "text": "refused: \ud800"}], "isError": True}


def test_a_shape_needs_each_marker_once() -> None:
    with pytest.raises(ShapeError):
        ResultShape({"content": [], "isError": False})
    twice = {"content": [{"type": "text", "text": TEXT_MARK}], "note": TEXT_MARK}
    with pytest.raises(ShapeError):
        ResultShape(twice)


async def test_one_endpoint_keeps_each_versions_shape_apart(
    plugin: McpPlugin, backend_url: str
) -> None:
    # Shapes are learned per version on one endpoint: interleave versions, as clients do.
    params = {"name": "list_topics", "arguments": {}}
    for version in (*SERVED_VERSIONS, *reversed(SERVED_VERSIONS)):
        (_, direct), (_, sdk) = await _both(plugin, backend_url, version, "tools/call", params)
        assert _without_timings(direct) == _without_timings(sdk), version
