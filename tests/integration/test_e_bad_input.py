"""Bad input gives clean JSON 4xx, and the stack keeps serving afterwards."""

from __future__ import annotations

import os
import socket
import time
import urllib.parse

import httpx
import pytest

from tests.integration.conftest import assert_error_shape


@pytest.mark.parametrize(
    "path", ["/speaker/abc", "/speaker/0", "/session/1e3", "/topic/%00", "/speaker/99999999999999"]
)
def test_invalid_ids(chatgpt: httpx.Client, path: str) -> None:
    assert_error_shape(chatgpt.get(path), (400, 404))


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/speakers/x/y/z",
        "/admin",
        "/apisix/admin/routes",
        # config.yaml's error pages are internal locations: not reachable from outside.
        "/_json_error/400",
        "/_json_error/503",
    ],
)
def test_unknown_paths(chatgpt: httpx.Client, path: str) -> None:
    assert_error_shape(chatgpt.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/speakers"),
        ("PUT", "/speaker/1"),
        ("PATCH", "/session/101"),
        ("POST", "/speakers"),
    ],
)
def test_wrong_methods(chatgpt: httpx.Client, method: str, path: str) -> None:
    assert_error_shape(chatgpt.request(method, path), (404, 405))


def test_bad_query_values(chatgpt: httpx.Client) -> None:
    assert_error_shape(chatgpt.get("/speakers", params={"limit": "lots"}), 400)
    assert_error_shape(chatgpt.get("/speakers", params={"limit": "-5"}), 400)


def test_huge_query_string(chatgpt: httpx.Client) -> None:
    # The request line itself is too long: nginx answers before any URI exists (no HTML 500).
    response = chatgpt.get("/speakers", params={"q": "x" * 20000})
    assert_error_shape(response, (400, 413, 414, 431))


def test_nul_in_the_path_is_a_json_error(client: httpx.Client) -> None:
    # A bad request line for nginx: it answers 400 before the URI is parsed.
    assert_error_shape(client.get("/topic/%00"), (400, 404))


def test_huge_header(chatgpt: httpx.Client) -> None:
    response = chatgpt.get("/speakers", headers={"X-Padding": "y" * 40000})
    assert_error_shape(response, (400, 413, 431, 494))


def test_huge_body(chatgpt: httpx.Client) -> None:
    response = chatgpt.post(
        "/session/101/feedback",
        content=b'{"rating": 5, "comment": "' + b"z" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error_shape(response, (400, 413))


def test_malformed_json_body(chatgpt: httpx.Client) -> None:
    response = chatgpt.post(
        "/session/101/feedback", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error_shape(response, 400)


def test_still_serving_after_bad_input(chatgpt: httpx.Client) -> None:
    assert chatgpt.get("/speakers", params={"limit": 1}).status_code == 200
    assert chatgpt.get("/speaker/3/context").status_code == 200


def test_head_of_a_context_answers_like_get(chatgpt: httpx.Client) -> None:
    # HEAD must not fall through to the plain read route (whose backend has no such path).
    response = chatgpt.head("/speaker/1/context")
    assert response.status_code == 200
    assert response.headers["X-Context-Complete"] == "true"
    assert response.content == b""


@pytest.mark.parametrize("name", ["a\x00b", "ma\nria", "x\x7f"])
def test_context_name_with_control_characters_is_400(chatgpt: httpx.Client, name: str) -> None:
    response = chatgpt.get("/speakers/context", params={"speakername": name})
    assert_error_shape(response, 400)
    assert "speakername" in response.json()["details"]


@pytest.mark.parametrize(
    ("headers", "speaker_id"),
    [
        # Never test_y_backend_fault.COLD_IDS: those must stay uncached.
        ({"X-Request-Id": "é-rid".encode()}, 47),
        ({"traceparent": b"\xe9"}, 48),
        ({"tracestate": "日本".encode()}, 49),
    ],
)
def test_context_with_non_ascii_correlation_headers(
    chatgpt: httpx.Client, headers: dict[str, bytes], speaker_id: int
) -> None:
    # An id no other test asks for (the runner caches for 30 s), so the runner really calls
    # the backend with the propagated headers.
    raw = {name.encode(): value for name, value in headers.items()}  # the bytes httpx sends
    response = chatgpt.get(f"/speaker/{speaker_id}/context", headers=raw)
    assert response.status_code == 200, response.text
    assert response.json()["speaker"]["id"] == speaker_id


def test_api_key_that_is_not_utf8_is_401(chatgpt: httpx.Client) -> None:
    response = chatgpt.get("/speakers", headers={b"apikey": b"\xe9\xff"})
    assert_error_shape(response, 401)


@pytest.mark.parametrize(
    "raw", [rb'{"rating": 5, "comment": "\ud800"}', rb'{"rating": 5, "\udfff": 1}']
)
def test_feedback_with_lone_surrogate_escape_is_400(chatgpt: httpx.Client, raw: bytes) -> None:
    response = chatgpt.post(
        "/session/101/feedback", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error_shape(response, 400)


def test_a_client_dripping_its_header_is_cut_off_without_an_answer(gateway_url: str) -> None:
    # client_header_timeout (apisix/config.yaml): one timer for the whole header; nginx closes
    # the connection without sending anything (the 408 is only in its access log).
    limit = float(os.environ.get("GATEWAY_CLIENT_HEADER_TIMEOUT", "10"))
    address = urllib.parse.urlsplit(gateway_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    header = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Drip: {'d' * 200}"
    received = b""
    with socket.create_connection((host, port), timeout=limit + 10) as sock:
        sock.settimeout(0.5)
        deadline = time.monotonic() + limit + 10
        for byte in header.encode():
            if time.monotonic() > deadline:
                pytest.fail(f"the connection was still open {limit + 10:g} s into the header")
            try:
                sock.sendall(bytes([byte]))
                received += sock.recv(65536)
            except TimeoutError:
                continue  # nothing to read yet: keep dripping
            except OSError:
                break  # reset or broken pipe: the gateway closed it
            if received == b"":
                break  # orderly close
        else:
            pytest.fail(f"the whole {len(header)}-byte header was accepted at ~2 bytes/s")
    assert received == b""


def test_a_client_stalling_its_body_is_cut_off_without_an_answer(
    gateway_url: str, chatgpt_key: str
) -> None:
    # client_body_timeout (apisix/config.yaml) bounds the wait between two body reads; nginx
    # terminates the request without an answer, as for a slow header (408 in its log only).
    limit = float(os.environ.get("GATEWAY_CLIENT_BODY_TIMEOUT", "10"))
    address = urllib.parse.urlsplit(gateway_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    head = (
        f"POST /session/101/feedback HTTP/1.1\r\nHost: {host}\r\napikey: {chatgpt_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    received = b""
    with socket.create_connection((host, port), timeout=limit + 10) as sock:
        sock.sendall(head.encode() + b'{"rating":')
        started = time.monotonic()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # reset instead of an orderly close: still no answer
        except TimeoutError:
            pytest.fail(f"the connection was still open {limit + 10:g} s into a stalled body")
        waited = time.monotonic() - started
    assert received == b""
    assert waited >= limit - 1, f"closed after {waited:.1f} s, before the {limit:g} s timeout"
