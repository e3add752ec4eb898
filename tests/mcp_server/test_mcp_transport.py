"""The /mcp transport rules, sans-IO: headers and bytes in, decisions out, no sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp_types import ErrorData

from runner_plugins.mcp.transport import (
    SERVED_VERSIONS,
    Dispatch,
    HttpAnswer,
    Transport,
    TransportRules,
)

MODERN = "2026-07-28"
RULES = TransportRules(frozenset({"https://chatgpt.com"}), max_body_bytes=2048)
BASE = [("accept", "application/json, text/event-stream"), ("content-type", "application/json")]
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def transport() -> Transport:
    return Transport(RULES)


def body_of(answer: HttpAnswer) -> Any:
    assert answer.body, answer
    return json.loads(answer.body)


def error_code(answer: HttpAnswer) -> int:
    body = body_of(answer)
    assert body["jsonrpc"] == "2.0" and "result" not in body
    return int(body["error"]["code"])


def modern_headers(method: str, name: str | None = None) -> list[tuple[str, str | None]]:
    headers: list[tuple[str, str | None]] = [
        *BASE,
        ("mcp-protocol-version", MODERN),
        ("mcp-method", method),
    ]
    if name is not None:
        headers.append(("mcp-name", name))
    return headers


def modern_call(name: str = "get_session", **extra: Any) -> bytes:
    params = {"name": name, "arguments": {"id": 101}, "_meta": ENVELOPE, **extra}
    return json.dumps(
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    ).encode()


# --------------------------------------------------------------------------- check_head


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_only_post_is_served(method: str) -> None:
    answer = transport().check_head(method, BASE)
    assert answer is not None and answer.status == 405
    assert ("allow", "POST") in answer.headers
    assert error_code(answer) == -32600


def test_a_present_origin_must_be_allowed() -> None:
    bad = transport().check_head("POST", [*BASE, ("Origin", "https://evil.example")])
    assert bad is not None and bad.status == 403
    assert "evil.example" in body_of(bad)["error"]["message"]
    assert transport().check_head("POST", [*BASE, ("origin", "https://chatgpt.com")]) is None
    # No Origin: not a browser, nothing to rebind.
    assert transport().check_head("POST", BASE) is None


@pytest.mark.parametrize(
    "accept",
    ["text/event-stream", "text/html", "", "application/xml"],
)
def test_accept_must_allow_json(accept: str) -> None:
    answer = transport().check_head(
        "POST", [("accept", accept), ("content-type", "application/json")]
    )
    assert answer is not None and answer.status == 406


@pytest.mark.parametrize(
    "accept",
    ["application/json", "*/*", "application/*;q=0.5", "text/event-stream, application/json"],
)
def test_accept_wildcards_and_lists(accept: str) -> None:
    assert (
        transport().check_head("POST", [("accept", accept), ("content-type", "application/json")])
        is None
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_content_type_must_be_json(content_type: str) -> None:
    answer = transport().check_head("POST", [BASE[0], ("content-type", content_type)])
    assert answer is not None and answer.status == 415


def test_content_type_parameters_are_fine() -> None:
    headers = [BASE[0], ("Content-Type", "application/json; charset=utf-8")]
    assert transport().check_head("POST", headers) is None


def test_declared_oversize_body_is_413_before_reading() -> None:
    answer = transport().check_head("POST", [*BASE, ("content-length", "2049")])
    assert answer is not None and answer.status == 413
    assert transport().check_head("POST", [*BASE, ("content-length", "2048")]) is None


def test_actual_oversize_body_is_413() -> None:
    answer = transport().read_body(BASE, b" " * 2049)
    assert isinstance(answer, HttpAnswer) and answer.status == 413


@pytest.mark.parametrize("version", ["2099-01-01", "1.0", "", "2025-06-18 "])
def test_unsupported_protocol_version_names_the_supported_ones(version: str) -> None:
    answer = transport().check_head("POST", [*BASE, ("mcp-protocol-version", version)])
    assert answer is not None and answer.status == 400
    error = body_of(answer)["error"]
    assert error["code"] == -32022
    assert error["data"]["supported"] == list(SERVED_VERSIONS)
    assert error["data"]["requested"] == version
    assert {"2025-06-18", "2025-11-25", MODERN} <= set(SERVED_VERSIONS)


@pytest.mark.parametrize("version", SERVED_VERSIONS)
def test_served_versions_pass(version: str) -> None:
    assert transport().check_head("POST", [*BASE, ("mcp-protocol-version", version)]) is None


# ---------------------------------------------------------------------------- read_body


def test_malformed_json_is_a_parse_error() -> None:
    for raw in (b"{", b"\xff\xfe", b"[" * 100_000):
        answer = transport().read_body(BASE, raw[:2048])
        assert isinstance(answer, HttpAnswer) and answer.status == 400
        assert error_code(answer) == -32700
        assert body_of(answer)["id"] is None


@pytest.mark.parametrize(
    "document",
    [
        [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
        "just a string",
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": 5},
        {"jsonrpc": "2.0", "id": [1], "method": "ping"},
        {"jsonrpc": "2.0", "id": 1},
    ],
    ids=["batch", "not-an-object", "wrong-version", "method-not-a-string", "bad-id", "no-method"],
)
def test_invalid_requests(document: Any) -> None:
    answer = transport().read_body(BASE, json.dumps(document).encode())
    assert isinstance(answer, HttpAnswer) and answer.status == 400
    assert error_code(answer) == -32600


def test_an_invalid_request_echoes_a_valid_id() -> None:
    raw = json.dumps({"jsonrpc": "2.0", "id": "abc", "method": 5}).encode()
    answer = transport().read_body(BASE, raw)
    assert isinstance(answer, HttpAnswer) and body_of(answer)["id"] == "abc"


@pytest.mark.parametrize("headers", [BASE, modern_headers("notifications/initialized")])
def test_notifications_are_accepted_with_202_and_no_body(headers: list[Any]) -> None:
    raw = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
    answer = transport().read_body(headers, raw)
    assert answer == HttpAnswer(202)


def test_a_posted_response_is_accepted_with_202() -> None:
    raw = json.dumps({"jsonrpc": "2.0", "id": 3, "result": {}}).encode()
    assert transport().read_body(BASE, raw) == HttpAnswer(202)


def test_handshake_era_without_a_version_header_assumes_2025_03_26() -> None:
    raw = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    parsed = transport().read_body(BASE, raw)
    assert isinstance(parsed, Dispatch)
    assert (parsed.era, parsed.version, parsed.request.method) == (
        "handshake",
        "2025-03-26",
        "tools/list",
    )


def test_handshake_era_with_a_version_header() -> None:
    raw = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    parsed = transport().read_body([*BASE, ("MCP-Protocol-Version", "2025-06-18")], raw)
    assert isinstance(parsed, Dispatch) and (parsed.era, parsed.version) == (
        "handshake",
        "2025-06-18",
    )


def test_modern_request_with_matching_headers_is_dispatched() -> None:
    parsed = transport().read_body(modern_headers("tools/call", "get_session"), modern_call())
    assert isinstance(parsed, Dispatch)
    assert (parsed.era, parsed.version, parsed.request.id) == ("modern", MODERN, 7)
    assert parsed.client_capabilities == {}


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (modern_headers("tools/list", "get_session"), "mcp-method"),
        (modern_headers("tools/call", "fetch"), "mcp-name"),
        (modern_headers("tools/call"), "mcp-name"),
    ],
    ids=["method-mismatch", "name-mismatch", "name-missing"],
)
def test_modern_header_mismatch(headers: list[Any], why: str) -> None:
    answer = transport().read_body(headers, modern_call())
    assert isinstance(answer, HttpAnswer) and answer.status == 400
    error = body_of(answer)["error"]
    assert error["code"] == -32020 and why in error["message"].lower()
    assert body_of(answer)["id"] == 7


def test_modern_duplicated_routing_header() -> None:
    headers = [*modern_headers("tools/call", "get_session"), ("mcp-method", "tools/call")]
    answer = transport().read_body(headers, modern_call())
    assert isinstance(answer, HttpAnswer) and answer.status == 400
    assert error_code(answer) == -32020


def test_modern_request_without_the_meta_envelope() -> None:
    raw = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    answer = transport().read_body(modern_headers("tools/list"), raw)
    assert isinstance(answer, HttpAnswer) and answer.status == 400
    assert error_code(answer) == -32602


def test_modern_envelope_version_must_equal_the_header() -> None:
    meta = {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2025-11-25"}
    raw = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}
    ).encode()
    answer = transport().read_body(modern_headers("tools/list"), raw)
    assert isinstance(answer, HttpAnswer) and answer.status == 400
    assert error_code(answer) == -32020


# -------------------------------------------------------------------------------- reply


def _dispatch(era: str) -> Dispatch:
    raw = json.dumps({"jsonrpc": "2.0", "id": "r1", "method": "nope"}).encode()
    headers = BASE if era == "handshake" else modern_headers("nope")
    if era == "modern":
        raw = json.dumps(
            {"jsonrpc": "2.0", "id": "r1", "method": "nope", "params": {"_meta": ENVELOPE}}
        ).encode()
    parsed = transport().read_body(headers, raw)
    assert isinstance(parsed, Dispatch)
    return parsed


def test_method_not_found_is_404_in_2026_and_200_in_the_handshake_era() -> None:
    error = ErrorData(code=-32601, message="Method not found")
    modern = Transport.reply(_dispatch("modern"), error)
    legacy = Transport.reply(_dispatch("handshake"), error)
    assert (modern.status, legacy.status) == (404, 200)
    assert body_of(modern) == body_of(legacy)
    assert body_of(modern)["id"] == "r1" and body_of(modern)["error"]["code"] == -32601


def test_a_result_is_200_with_the_request_id() -> None:
    answer = Transport.reply(_dispatch("modern"), {"tools": []})
    assert answer.status == 200
    assert body_of(answer) == {"jsonrpc": "2.0", "id": "r1", "result": {"tools": []}}


def test_any_request_id_is_echoed_even_beyond_64_bits() -> None:
    raw = json.dumps({"jsonrpc": "2.0", "id": 2**70, "method": "tools/list"}).encode()
    parsed = transport().read_body(BASE, raw)
    assert isinstance(parsed, Dispatch)
    answer = Transport.reply(parsed, {"tools": []})
    assert body_of(answer)["id"] == 2**70


def test_valid_json_orjson_refuses_is_still_read() -> None:
    # A lone surrogate escape is valid JSON; the fast parser refuses it, the stdlib reads it.
    raw = b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search",' + (
        b'"arguments":{"query":"\\ud800"}}}'
    )
    parsed = transport().read_body(BASE, raw)
    assert isinstance(parsed, Dispatch)
    assert parsed.request.params == {"name": "search", "arguments": {"query": "\ud800"}}


@pytest.mark.parametrize("request_id", [5, 2**70], ids=["small-id", "id-beyond-64-bits"])
def test_an_answer_echoing_a_lone_surrogate_is_still_json(request_id: int) -> None:
    # orjson refuses the surrogate; the fallback must not trade it for an encoding error.
    raw = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "x\ud800"}).encode()
    parsed = transport().read_body(BASE, raw)
    assert isinstance(parsed, Dispatch)
    error = ErrorData(code=-32601, message="Method not found", data=parsed.request.method)
    answer = Transport.reply(parsed, error)
    assert body_of(answer) == {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": -32601, "message": "Method not found", "data": "x\ud800"},
    }
