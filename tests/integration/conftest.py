"""Black-box suite: speaks only HTTP to ``GATEWAY_URL`` with the keys from the environment.

It runs unchanged against the local stack, the Docker stack or any real APISIX deployment:

* ``GATEWAY_URL`` (required), ``CHATGPT_API_KEY`` and ``READONLY_API_KEY`` (required);
* ``BACKEND_URL``: the backend's own address, for the direct-request refusal test (skipped
  without it);
* ``QUOTA_STORE_CONTROL``: a command that takes ``stop`` / ``start`` / ``pause`` / ``unpause``
  for the Redis of a scaled-out deployment (test_x_quota_store.py, skipped without it);
* ``STACK_BACKEND_CONTROL``: a command that takes ``stop`` / ``start`` and stops/starts the
  backend (the local stack's ``python -m stack backend``); the fault test is skipped without it.

Every test here is marked ``e2e`` (deselected by default; ``make test-integration`` and
``make test`` select it). Tests that stop part of the stack (marker ``disrupts``) run after the
others and tests that spend a quota (``exhausts_quota``) run last, whatever their file names or
the order pytest was given: the collection hook below sorts them, so the others never see an
outage or an exhausted quota.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

HERE = os.path.dirname(__file__)


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("exhausts_quota") is not None:
        return 2
    return 1 if item.get_closest_marker("disrupts") is not None else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(pytest.mark.e2e)
    # Stable: within a rank the collection order stays.
    items.sort(key=lambda item: _rank(item) if str(item.path).startswith(HERE) else 0)


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: the integration suite needs a running gateway")
    return value


@pytest.fixture(scope="session")
def gateway_url() -> str:
    return _required("GATEWAY_URL").rstrip("/")


@pytest.fixture(scope="session")
def chatgpt_key() -> str:
    return _required("CHATGPT_API_KEY")


@pytest.fixture(scope="session")
def readonly_key() -> str:
    return _required("READONLY_API_KEY")


@pytest.fixture(scope="session")
def client(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30.0) as http:
        yield http


@pytest.fixture(scope="session")
def chatgpt(gateway_url: str, chatgpt_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30.0, headers={"apikey": chatgpt_key}) as http:
        yield http


@pytest.fixture(scope="session")
def readonly(gateway_url: str, readonly_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30.0, headers={"apikey": readonly_key}) as http:
        yield http


def json_body(response: httpx.Response) -> Any:
    """The body as JSON (its Content-Type is checked by :func:`assert_error_shape`)."""
    try:
        return json.loads(response.content)
    except ValueError:
        pytest.fail(
            f"{response.request.method} {response.request.url.path} -> {response.status_code} "
            f"is not JSON: {response.text[:200]!r}"
        )


def assert_error_shape(response: httpx.Response, status: int | tuple[int, ...]) -> Any:
    """A JSON error body; our shapes carry the status they are sent with."""
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, response.text[:300]
    # Every error says so, the gateway's own included (APISIX's untyped plugin bodies are made
    # JSON by the conference-errors plugin; nginx's bare pages by config.yaml's error pages).
    content_type = response.headers.get("Content-Type", "")
    assert content_type.split(";")[0].strip() == "application/json", (
        response.request.url.path,
        response.status_code,
        content_type,
    )
    body = json_body(response)
    assert isinstance(body, dict)
    if "status" in body:
        # {"status", "error", "message"}: the status inside must agree with the HTTP status.
        assert body["status"] == response.status_code, body
        assert isinstance(body.get("message"), str)
    else:
        # APISIX's own shapes: {"message": ...} or {"error_msg": ...}.
        assert isinstance(body.get("message", body.get("error_msg")), str), body
    return body
