"""X-Request-Id: generated when absent, kept when sent, on every kind of answer."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.conftest import json_body


@pytest.mark.parametrize(
    "path", ["/openapi.yaml", "/speakers", "/speaker/1/context", "/no/such/path"]
)
def test_generated(chatgpt: httpx.Client, path: str) -> None:
    response = chatgpt.get(path)
    value = response.headers.get("X-Request-Id")
    assert value, f"no X-Request-Id on {path}"
    assert uuid.UUID(value)


def test_generated_on_auth_errors(client: httpx.Client) -> None:
    assert client.get("/speakers").headers.get("X-Request-Id")


def test_propagated_to_the_api_answer(chatgpt: httpx.Client) -> None:
    mine = str(uuid.uuid4())
    response = chatgpt.get("/speakers", headers={"X-Request-Id": mine})
    assert response.headers["X-Request-Id"] == mine


def test_propagated_into_the_context_document(chatgpt: httpx.Client) -> None:
    mine = str(uuid.uuid4())
    response = chatgpt.get("/speaker/2/context", headers={"X-Request-Id": mine})
    assert response.headers["X-Request-Id"] == mine
    assert json_body(response)["meta"]["request_id"] == mine
