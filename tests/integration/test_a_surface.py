"""The ChatGPT surface: public files and CORS for ChatGPT's origins."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.integration.conftest import json_body

ORIGINS = ["https://chat.openai.com", "https://chatgpt.com"]


def test_manifest_without_key(client: httpx.Client, gateway_url: str) -> None:
    response = client.get("/.well-known/ai-plugin.json")
    assert response.status_code == 200
    manifest = json_body(response)
    assert manifest["schema_version"] == "v1"
    assert manifest["auth"]["type"] in ("oauth", "service_http", "user_http", "none")
    assert manifest["api"]["url"].endswith("/openapi.yaml")


def test_openapi_without_key(client: httpx.Client) -> None:
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    document = yaml.safe_load(response.text)
    assert str(document["openapi"]).startswith("3.")
    assert "/speaker/{id}/context" in document["paths"] or any(
        "context" in path for path in document["paths"]
    )


def test_logo_without_key(client: httpx.Client) -> None:
    response = client.get("/logo.png")
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG")


@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("path", ["/speaker/1/context", "/speakers", "/openapi.yaml"])
def test_cors_preflight(client: httpx.Client, origin: str, path: str) -> None:
    response = client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "apikey",
        },
    )
    # Answered by the gateway before key-auth, so no key is needed.
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    allowed = [
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    ]
    assert "apikey" in allowed
    assert "Origin" in response.headers.get("Vary", "")


@pytest.mark.parametrize("origin", ORIGINS)
def test_cors_headers_on_answers(chatgpt: httpx.Client, origin: str) -> None:
    response = chatgpt.get("/speakers", params={"limit": 1}, headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert "x-request-id" in exposed and "x-ratelimit-remaining" in exposed


def test_cors_other_origin_not_allowed(client: httpx.Client) -> None:
    response = client.options(
        "/speakers",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers
