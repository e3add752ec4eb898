"""OAuth 2.1 through the gateway, as MCP connectors, GPT Actions and browsers do it.

Black-box: discovery from the metadata documents, registration, the consent form submitted
like a browser, tokens, then the API with ``Authorization: Bearer``. Optional variables:
``GPT_ACTIONS_CLIENT_SECRET`` and ``GPT_ACTIONS_REDIRECT_URI`` (the pre-registered client's
secret and one of its redirect URIs; ``python -m stack test`` sets both) for the GPT Actions
test, skipped without them.
"""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.integration.conftest import assert_error_shape, json_body
from tests.integration.oauth_client import (
    REDIRECT_URI,
    Discovery,
    authorize,
    discover,
    exchange,
    parse_form,
    path_of,
    refresh,
    register,
)


def _segment(document: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


#: An unsigned token (alg none) naming a real consumer, far from expiry.
UNSIGNED = (
    f"{_segment({'alg': 'none', 'typ': 'at+jwt'})}.{_segment({'sub': 'chatgpt', 'exp': 2**31})}."
)


@pytest.fixture(scope="module")
def found(client: httpx.Client) -> Discovery:
    return discover(client)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_discovery_documents_are_public(client: httpx.Client, found: Discovery) -> None:
    prm = json_body(client.get("/.well-known/oauth-protected-resource"))
    assert prm["authorization_servers"] == [found.metadata["issuer"]]
    assert set(prm["scopes_supported"]) == {"conference:read", "conference:feedback"}
    assert found.metadata["code_challenge_methods_supported"] == ["S256"]
    assert "none" in found.metadata["token_endpoint_auth_methods_supported"]
    keys = json_body(client.get(path_of(found.metadata["jwks_uri"])))["keys"]
    assert keys and all("d" not in key for key in keys)


def test_sign_in_token_context_refresh_end_to_end(
    client: httpx.Client, gateway_url: str, chatgpt_key: str, found: Discovery
) -> None:
    client_id = register(client, found)
    grant = authorize(gateway_url, found, client_id, chatgpt_key)
    assert grant.iss == found.metadata["issuer"]  # RFC 9207
    issued = exchange(client, found, client_id, grant)
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    assert tokens["token_type"] == "Bearer" and 0 < tokens["expires_in"] <= 600
    assert tokens["scope"] == "conference:read conference:feedback"

    context = client.get("/speaker/1/context", headers=_bearer(tokens["access_token"]))
    assert context.status_code == 200, context.text
    assert json_body(context)["speaker"]["id"] == 1
    assert client.get("/speakers", headers=_bearer(tokens["access_token"])).status_code == 200

    renewed = refresh(client, found, client_id, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    again = client.get(
        "/speakers/context",
        params={"speakername": "Amelia"},
        headers=_bearer(fresh["access_token"]),
    )
    assert again.status_code == 200

    replay = refresh(client, found, client_id, tokens["refresh_token"])
    assert replay.status_code == 400
    assert json_body(replay)["error"] == "invalid_grant"
    # The reuse revoked the whole family, the rotated token included.
    assert refresh(client, found, client_id, fresh["refresh_token"]).status_code == 400


def test_code_is_single_use(
    client: httpx.Client, gateway_url: str, chatgpt_key: str, found: Discovery
) -> None:
    client_id = register(client, found)
    grant = authorize(gateway_url, found, client_id, chatgpt_key, scope="conference:read")
    first = exchange(client, found, client_id, grant)
    assert first.status_code == 200
    # A read-only token cannot post feedback: 403 with RFC 6750's insufficient_scope.
    posted = client.post(
        "/session/101/feedback",
        json={"rating": 4},
        headers=_bearer(first.json()["access_token"]),
    )
    assert_error_shape(posted, 403)
    assert 'error="insufficient_scope"' in posted.headers["www-authenticate"]
    second = exchange(client, found, client_id, grant)
    assert second.status_code == 400
    assert json_body(second)["error"] == "invalid_grant"


def test_readonly_key_signs_in_for_reading_only(
    client: httpx.Client, gateway_url: str, readonly_key: str, found: Discovery
) -> None:
    client_id = register(client, found)
    grant = authorize(gateway_url, found, client_id, readonly_key)
    tokens = exchange(client, found, client_id, grant).json()
    assert tokens["scope"] == "conference:read"
    bearer = _bearer(tokens["access_token"])
    assert client.get("/speaker/1", headers=bearer).status_code == 200
    posted = client.post("/session/101/feedback", json={"rating": 4}, headers=bearer)
    assert_error_shape(posted, 403)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer not-a-token", id="garbage"),
        pytest.param(f"Bearer {UNSIGNED}", id="alg-none"),
    ],
)
def test_bad_bearer_is_401_json(client: httpx.Client, authorization: str) -> None:
    response = client.get("/speaker/1/context", headers={"Authorization": authorization})
    assert_error_shape(response, 401)


def test_unregistered_redirect_uri_is_never_redirected_to(
    client: httpx.Client, found: Discovery
) -> None:
    client_id = register(client, found)
    response = client.get(
        found.path("authorization_endpoint"),
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "https://evil.example/callback",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert_error_shape(response, 400)
    assert "location" not in response.headers


async def test_mcp_client_signs_in_from_the_401_and_calls_tools(
    client: httpx.Client, gateway_url: str, chatgpt_key: str, found: Discovery
) -> None:
    """What an MCP client does: POST /mcp, follow the 401's resource_metadata, sign in for THAT
    resource, then use the bearer with the official SDK client."""
    refused = client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert_error_shape(refused, 401)
    challenges = refused.headers.get_list("www-authenticate")
    metadata_urls = [
        c.split('"')[1] for c in challenges if c.startswith("Bearer resource_metadata=")
    ]
    assert metadata_urls and metadata_urls[0].endswith("/.well-known/oauth-protected-resource/mcp")
    prm = json_body(client.get(path_of(metadata_urls[0])))
    assert prm["resource"].endswith("/mcp")
    assert prm["authorization_servers"] == [found.metadata["issuer"]]
    mcp = Discovery(prm["resource"], found.metadata)

    client_id = register(client, mcp, "MCP test client")
    grant = authorize(gateway_url, mcp, client_id, chatgpt_key, scope="conference:read")
    tokens = exchange(client, mcp, client_id, grant).json()
    headers = _bearer(tokens["access_token"])
    async with httpx2.AsyncClient(headers=headers, timeout=30.0) as http:
        async with streamable_http_client(f"{gateway_url}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                context = await session.call_tool("get_speaker_context", {"id": 1})
                assert context.is_error is False
                # Consumer chatgpt may post, but this sign-in granted reading only.
                write_call = await session.call_tool(
                    "submit_session_feedback", {"session_id": 104, "rating": 5}
                )
    assert write_call.is_error is True
    assert "conference:feedback" in write_call.content[0].text  # type: ignore[union-attr]

    # Audiences do not mix: the MCP token is refused by the REST API, and vice versa.
    assert_error_shape(client.get("/speaker/1/context", headers=headers), 401)
    api_grant = authorize(gateway_url, found, client_id, chatgpt_key)
    api_token = exchange(client, found, client_id, api_grant).json()["access_token"]
    wrong = client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={**_bearer(api_token), "Accept": "application/json, text/event-stream"},
    )
    assert_error_shape(wrong, 401)
    assert any('error="invalid_token"' in c for c in wrong.headers.get_list("www-authenticate"))

    renewed = refresh(client, mcp, client_id, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert refresh(client, mcp, client_id, tokens["refresh_token"]).status_code == 400


def test_gpt_actions_client_as_the_gpt_editor_configures_it(
    client: httpx.Client, gateway_url: str, chatgpt_key: str
) -> None:
    """GPT Actions: Authorization URL + Token URL from the manifest, client id/secret in the POST
    body (the editor's default token exchange), no PKCE, then the API with the bearer."""
    secret = os.environ.get("GPT_ACTIONS_CLIENT_SECRET")
    redirect = os.environ.get("GPT_ACTIONS_REDIRECT_URI")
    if not secret or not redirect:
        pytest.skip("GPT_ACTIONS_CLIENT_SECRET / GPT_ACTIONS_REDIRECT_URI are not set")
    manifest = json_body(client.get("/.well-known/ai-plugin.json"))["auth"]
    assert manifest["type"] == "oauth"
    with httpx.Client(base_url=gateway_url, timeout=30.0) as browser:
        page = browser.get(
            path_of(manifest["client_url"]),
            params={
                "response_type": "code",
                "client_id": "gpt-actions",
                "redirect_uri": redirect,
                "scope": manifest["scope"],
                "state": "gpt-state",
            },
        )
        assert page.status_code == 200, page.text
        form = parse_form(page.text)
        assert form.action
        answer = browser.post(
            path_of(form.action), data={**form.fields, "api_key": chatgpt_key, "decision": "allow"}
        )
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = client.post(
        path_of(manifest["authorization_url"]),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": "gpt-actions",
            "client_secret": secret,
        },
        headers={"Content-Type": manifest["authorization_content_type"]},
    )
    assert token.status_code == 200, token.text
    response = client.get("/speaker/1", headers=_bearer(token.json()["access_token"]))
    assert response.status_code == 200


def test_registration_is_rate_limited_per_address(client: httpx.Client, found: Discovery) -> None:
    # Last in the file: it spends this address's registration budget for the window.
    body = {"client_name": "flood", "redirect_uris": [REDIRECT_URI]}
    statuses = []
    for _ in range(40):
        response = client.post(found.path("registration_endpoint"), json=body)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) <= {201}
    assert_error_shape(response, 429)
