"""Bad input gives clean JSON 4xx, and the stack keeps serving afterwards."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import assert_error_shape


@pytest.mark.parametrize(
    "path", ["/speaker/abc", "/speaker/0", "/session/1e3", "/topic/%00", "/speaker/99999999999999"]
)
def test_invalid_ids(chatgpt: httpx.Client, path: str) -> None:
    assert_error_shape(chatgpt.get(path), (400, 404))


@pytest.mark.parametrize("path", ["/nope", "/speakers/x/y/z", "/admin", "/apisix/admin/routes"])
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
    response = chatgpt.get("/speakers", params={"q": "x" * 20000})
    assert_error_shape(response, (400, 413, 414, 431))


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
