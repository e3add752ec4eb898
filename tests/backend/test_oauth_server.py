"""The authorization server on the real Flask app: discovery, the code flow, and every bad input.

Each bad input gets the RFC's error and nothing is issued (issue 12, item 6): one test each.
The clock is injected and moved (code expiry, client expiry) instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.backend.oauth_helpers import (
    BOTH,
    CHATGPT_KEY,
    GPT_REDIRECT,
    GPT_SECRET,
    PUBLIC_URL,
    READONLY_KEY,
    REDIRECT,
    SIGNING_KEY,
    Clock,
    Flow,
    authorize_query,
    code_for,
    exchange,
    hidden_fields,
    oauth_config,
    pkce,
    redirect_params,
    refresh,
    register,
    submit,
    tokens_for,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def oauth_app(make_app: Callable[..., Flask], clock: Clock) -> Iterator[Flask]:
    application = make_app(**oauth_config(clock))
    yield application
    application.extensions["store"].engine.dispose()


@pytest.fixture
def oauth(oauth_app: Flask) -> FlaskClient:
    return oauth_app.test_client()


def _claims(token: str) -> dict[str, Any]:
    key = ECKey.import_key(SIGNING_KEY)
    return dict(jwt.decode(token, key, algorithms=["ES256"]).claims)


def _oauth_error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    assert body["error"] == error, body
    assert body["status"] == status and isinstance(body["message"], str)
    assert "access_token" not in body and "refresh_token" not in body
    return dict(body)


# --- discovery -------------------------------------------------------------------------------


def test_authorization_server_metadata_is_valid_rfc8414(oauth: FlaskClient) -> None:
    document = oauth.get("/.well-known/oauth-authorization-server").get_json()
    AuthorizationServerMetadata(document).validate()
    assert document["issuer"] == PUBLIC_URL
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "none" in document["token_endpoint_auth_methods_supported"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["client_id_metadata_document_supported"] is True
    assert document["token_endpoint"] == f"{PUBLIC_URL}/oauth/token"


def test_protected_resource_metadata_names_the_api_and_issuer(oauth: FlaskClient) -> None:
    document = oauth.get("/.well-known/oauth-protected-resource").get_json()
    assert document["resource"] == PUBLIC_URL
    assert document["authorization_servers"] == [PUBLIC_URL]
    assert document["scopes_supported"] == ["conference:read", "conference:feedback"]


def test_mcp_has_its_own_path_suffixed_resource_metadata(oauth: FlaskClient) -> None:
    # RFC 9728 section 3.1: <public>/mcp -> <public>/.well-known/oauth-protected-resource/mcp.
    document = oauth.get("/.well-known/oauth-protected-resource/mcp").get_json()
    assert document["resource"] == f"{PUBLIC_URL}/mcp"
    assert document["authorization_servers"] == [PUBLIC_URL]


def test_a_token_for_mcp_has_the_mcp_audience(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    verifier, challenge = pkce()
    query = authorize_query(client_id, challenge, resource=f"{PUBLIC_URL}/mcp")
    code = redirect_params(submit(oauth, query, CHATGPT_KEY))["code"]
    flow = Flow(client_id, verifier, code)
    response = exchange(oauth, flow, resource=f"{PUBLIC_URL}/mcp")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _claims(response.get_json()["access_token"])["aud"] == f"{PUBLIC_URL}/mcp"
    # ... which the REST API refuses (its audience is the public URL itself).
    refused = oauth.get(
        "/speaker/1", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"}
    )
    assert refused.status_code == 401


def test_jwks_publishes_the_public_key_only(oauth: FlaskClient) -> None:
    (key,) = oauth.get("/.well-known/jwks.json").get_json()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256"
    assert "d" not in key


def test_without_a_signing_key_oauth_is_not_served(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert app.test_client().get("/.well-known/oauth-authorization-server").status_code == 404


# --- the happy path ----------------------------------------------------------------------------


def test_code_flow_issues_a_short_lived_token_for_the_consumer(
    oauth: FlaskClient, clock: Clock
) -> None:
    flow, body = tokens_for(oauth)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] <= 600
    assert body["scope"] == BOTH
    claims = _claims(body["access_token"])
    assert claims["sub"] == "chatgpt"
    assert claims["aud"] == PUBLIC_URL  # RFC 8707: the requested resource
    assert claims["iss"] == PUBLIC_URL
    assert claims["client_id"] == flow.client_id
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["iat"] == int(clock.now.timestamp())


def test_authorization_response_carries_iss_and_state(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    params = redirect_params(submit(oauth, authorize_query(client_id, challenge), CHATGPT_KEY))
    assert params["iss"] == PUBLIC_URL
    assert params["state"] == "state-1"
    assert len(params["code"]) >= 40


def test_bearer_token_reads_the_rest_api(oauth: FlaskClient) -> None:
    _, body = tokens_for(oauth)
    response = oauth.get("/speaker/1", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 200


def test_readonly_key_gets_read_scope_only(oauth: FlaskClient) -> None:
    _, body = tokens_for(oauth, READONLY_KEY)
    assert body["scope"] == "conference:read"
    assert _claims(body["access_token"])["sub"] == "readonly"


def test_readonly_key_asking_only_for_feedback_is_denied(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge, scope="conference:feedback")
    params = redirect_params(submit(oauth, query, READONLY_KEY))
    assert params["error"] == "access_denied" and "code" not in params


def test_deny_redirects_access_denied(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    params = redirect_params(
        submit(oauth, authorize_query(client_id, challenge), CHATGPT_KEY, "deny")
    )
    assert (params["error"], params["state"], params["iss"]) == (
        "access_denied",
        "state-1",
        PUBLIC_URL,
    )
    assert "code" not in params


def test_gpt_actions_confidential_client_without_pkce(oauth: FlaskClient) -> None:
    query = authorize_query("gpt-actions", None, redirect_uri=GPT_REDIRECT, resource=None)
    code = redirect_params(submit(oauth, query, CHATGPT_KEY))["code"]
    response = oauth.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": GPT_REDIRECT},
        auth=("gpt-actions", GPT_SECRET),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _claims(response.get_json()["access_token"])["aud"] == PUBLIC_URL


def test_gpt_actions_wrong_secret_is_invalid_client(oauth: FlaskClient) -> None:
    query = authorize_query("gpt-actions", None, redirect_uri=GPT_REDIRECT)
    code = redirect_params(submit(oauth, query, CHATGPT_KEY))["code"]
    response = oauth.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": GPT_REDIRECT},
        auth=("gpt-actions", "wrong"),
    )
    _oauth_error(response, 401, "invalid_client")


def test_refresh_rotates_and_the_old_token_is_refused(oauth: FlaskClient) -> None:
    flow, body = tokens_for(oauth)
    first = refresh(oauth, flow.client_id, body["refresh_token"])
    assert first.status_code == 200
    rotated = first.get_json()["refresh_token"]
    assert rotated != body["refresh_token"]
    _oauth_error(refresh(oauth, flow.client_id, body["refresh_token"]), 400, "invalid_grant")
    # Reuse detection: the reuse revoked the whole family, the rotated token included.
    _oauth_error(refresh(oauth, flow.client_id, rotated), 400, "invalid_grant")


# --- bad input: authorization endpoint ----------------------------------------------------------


def test_unregistered_redirect_uri_is_refused_without_redirect(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge, redirect_uri="https://evil.example/cb")
    response = oauth.get("/oauth/authorize", query_string=query)
    _oauth_error(response, 400, "invalid_request")
    assert "Location" not in response.headers


def test_mismatched_redirect_path_is_refused_without_redirect(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge, redirect_uri="http://127.0.0.1:8765/other")
    response = oauth.get("/oauth/authorize", query_string=query)
    _oauth_error(response, 400, "invalid_request")
    assert "Location" not in response.headers


def test_unknown_client_is_refused(oauth: FlaskClient) -> None:
    _, challenge = pkce()
    response = oauth.get("/oauth/authorize", query_string=authorize_query("dyn-nope", challenge))
    _oauth_error(response, 400, "invalid_client")


def test_missing_pkce_for_a_public_client_is_refused(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    response = oauth.get("/oauth/authorize", query_string=authorize_query(client_id, None))
    params = redirect_params(response)
    assert params["error"] == "invalid_request" and "code" not in params
    assert params["iss"] == PUBLIC_URL


def test_plain_pkce_is_refused(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    verifier, _ = pkce()
    query = authorize_query(client_id, verifier, code_challenge_method="plain")
    assert redirect_params(oauth.get("/oauth/authorize", query_string=query))["error"] == (
        "invalid_request"
    )


def test_challenge_without_method_is_refused(oauth: FlaskClient) -> None:
    # RFC 7636 would default to plain; only S256 is accepted.
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge, code_challenge_method=None)
    assert redirect_params(oauth.get("/oauth/authorize", query_string=query))["error"] == (
        "invalid_request"
    )


def test_unknown_scope_is_refused(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge, scope="conference:read admin")
    assert redirect_params(oauth.get("/oauth/authorize", query_string=query))["error"] == (
        "invalid_scope"
    )


def test_unknown_resource_is_invalid_target(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge, resource="https://other.example/api")
    assert redirect_params(oauth.get("/oauth/authorize", query_string=query))["error"] == (
        "invalid_target"
    )


def test_wrong_api_key_issues_nothing(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    response = submit(oauth, authorize_query(client_id, challenge), "not-a-key")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "That API key is not valid." in html
    assert "not-a-key" not in html  # never echoed back
    assert "Location" not in response.headers


def test_consent_post_without_the_cookie_is_refused(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge)
    form = hidden_fields(oauth.get("/oauth/authorize", query_string=query).get_data(as_text=True))
    other = oauth.application.test_client()  # another browser: no cookie
    response = other.post(
        "/oauth/authorize", data={**form, "api_key": CHATGPT_KEY, "decision": "allow"}
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_consent_post_with_changed_parameters_is_refused(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    query = authorize_query(client_id, challenge, scope="conference:read")
    form = hidden_fields(oauth.get("/oauth/authorize", query_string=query).get_data(as_text=True))
    form["scope"] = BOTH  # escalate after the page was shown
    response = oauth.post(
        "/oauth/authorize", data={**form, "api_key": CHATGPT_KEY, "decision": "allow"}
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_consent_page_is_not_cached_framed_or_scripted(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    _, challenge = pkce()
    page = oauth.get("/oauth/authorize", query_string=authorize_query(client_id, challenge))
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none'
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert "<script" not in page.get_data(as_text=True)


# --- bad input: token endpoint ------------------------------------------------------------------


def test_missing_code_verifier_is_refused(oauth: FlaskClient) -> None:
    flow = code_for(oauth)
    _oauth_error(exchange(oauth, flow, code_verifier=None), 400, "invalid_request")


def test_wrong_code_verifier_is_refused(oauth: FlaskClient) -> None:
    flow = code_for(oauth)
    wrong, _ = pkce()
    _oauth_error(exchange(oauth, flow, code_verifier=wrong), 400, "invalid_grant")


def test_replayed_code_is_refused_and_revokes_what_it_issued(oauth: FlaskClient) -> None:
    flow = code_for(oauth)
    first = exchange(oauth, flow)
    assert first.status_code == 200
    _oauth_error(exchange(oauth, flow), 400, "invalid_grant")
    _oauth_error(
        refresh(oauth, flow.client_id, first.get_json()["refresh_token"]), 400, "invalid_grant"
    )


def test_expired_code_is_refused(oauth: FlaskClient, clock: Clock) -> None:
    flow = code_for(oauth)
    clock.advance(61)
    _oauth_error(exchange(oauth, flow), 400, "invalid_grant")


def test_code_of_another_client_is_refused(oauth: FlaskClient) -> None:
    flow = code_for(oauth)
    other = register(oauth)
    _oauth_error(exchange(oauth, flow, client_id=other), 400, "invalid_grant")


def test_token_redirect_uri_must_match_the_authorization(oauth: FlaskClient) -> None:
    flow = code_for(oauth)
    response = exchange(oauth, flow, redirect_uri="http://127.0.0.1:9999/callback")
    _oauth_error(response, 400, "invalid_grant")


def test_token_resource_must_match_the_authorization(oauth: FlaskClient) -> None:
    flow = code_for(oauth)
    response = exchange(oauth, flow, resource=f"{PUBLIC_URL}/mcp")
    _oauth_error(response, 400, "invalid_target")


def test_public_client_cannot_use_a_secret(oauth: FlaskClient) -> None:
    flow = code_for(oauth)
    response = oauth.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": flow.code,
            "redirect_uri": REDIRECT,
            "code_verifier": flow.verifier,
        },
        auth=(flow.client_id, "made-up"),
    )
    _oauth_error(response, 401, "invalid_client")


def test_refresh_scope_escalation_is_refused(oauth: FlaskClient) -> None:
    flow, body = tokens_for(oauth, scope="conference:read")
    response = refresh(oauth, flow.client_id, body["refresh_token"], scope=BOTH)
    _oauth_error(response, 400, "invalid_scope")


def test_revoked_refresh_token_is_refused(oauth: FlaskClient) -> None:
    flow, body = tokens_for(oauth)
    revoked = oauth.post(
        "/oauth/revoke",
        data={"token": body["refresh_token"], "client_id": flow.client_id},
    )
    assert revoked.status_code == 200
    _oauth_error(refresh(oauth, flow.client_id, body["refresh_token"]), 400, "invalid_grant")


def test_revoking_the_access_token_revokes_its_refresh_tokens(oauth: FlaskClient) -> None:
    flow, body = tokens_for(oauth)
    response = oauth.post(
        "/oauth/revoke",
        data={
            "token": body["access_token"],
            "token_type_hint": "access_token",
            "client_id": flow.client_id,
        },
    )
    assert response.status_code == 200
    _oauth_error(refresh(oauth, flow.client_id, body["refresh_token"]), 400, "invalid_grant")


def test_revoking_an_unknown_token_answers_200(oauth: FlaskClient) -> None:
    client_id = register(oauth)
    response = oauth.post("/oauth/revoke", data={"token": "nonsense", "client_id": client_id})
    assert response.status_code == 200


# --- bad input: registration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            {"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri", id="http"
        ),
        pytest.param(
            {"redirect_uris": ["https://a.example/cb#x"]}, "invalid_redirect_uri", id="frag"
        ),
        pytest.param({"redirect_uris": []}, "invalid_redirect_uri", id="empty"),
        pytest.param({"client_name": "x"}, "invalid_redirect_uri", id="no-redirects"),
        pytest.param(
            {
                "redirect_uris": ["https://a.example/cb"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
            "invalid_client_metadata",
            id="confidential",
        ),
        pytest.param(
            {"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]},
            "invalid_client_metadata",
            id="password-grant",
        ),
        pytest.param(["https://a.example/cb"], "invalid_client_metadata", id="not-an-object"),
    ],
)
def test_bad_registration_metadata_is_refused(oauth: FlaskClient, body: Any, error: str) -> None:
    _oauth_error(oauth.post("/oauth/register", json=body), 400, error)


def test_malformed_registration_body_is_refused(oauth: FlaskClient) -> None:
    response = oauth.post(
        "/oauth/register", data=b'{"redirect_uris": [', content_type="application/json"
    )
    _oauth_error(response, 400, "invalid_client_metadata")


def test_oversized_registration_body_is_refused(oauth: FlaskClient) -> None:
    body = {"redirect_uris": ["https://a.example/cb"], "client_name": "x", "pad": "y" * 20000}
    _oauth_error(oauth.post("/oauth/register", json=body), 400, "invalid_client_metadata")


def test_registration_cap_is_enforced(make_app: Callable[..., Flask], clock: Clock) -> None:
    app = make_app(**oauth_config(clock, OAUTH_MAX_CLIENTS=2))
    client = app.test_client()
    register(client)
    register(client)
    response = client.post("/oauth/register", json={"redirect_uris": ["https://a.example/cb"]})
    _oauth_error(response, 503, "temporarily_unavailable")
    # Unused clients expire, which frees room again.
    clock.advance(31 * 24 * 3600)
    assert register(client)


# --- the REST API as a protected resource --------------------------------------------------------


def test_token_for_another_resource_is_refused_by_the_api(oauth: FlaskClient, clock: Clock) -> None:
    key = ECKey.import_key(SIGNING_KEY)
    now = int(clock.now.timestamp())
    claims = {
        "iss": PUBLIC_URL,
        "aud": f"{PUBLIC_URL}/mcp",
        "sub": "chatgpt",
        "client_id": "x",
        "scope": BOTH,
        "iat": now,
        "exp": now + 300,
    }
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt"}, claims, key, algorithms=["ES256"])
    response = oauth.get("/speaker/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["status"] == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(
        f'Bearer resource_metadata="{PUBLIC_URL}/.well-known/oauth-protected-resource"'
    )
    assert 'error="invalid_token"' in challenge


def test_read_only_token_cannot_post_feedback(oauth: FlaskClient) -> None:
    _, body = tokens_for(oauth, CHATGPT_KEY, scope="conference:read")
    response = oauth.post(
        "/session/1/feedback",
        json={"rating": 5},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="conference:feedback"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_refused_by_the_api(oauth: FlaskClient, clock: Clock) -> None:
    _, body = tokens_for(oauth)
    clock.advance(body["expires_in"])
    response = oauth.get("/speaker/1", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 401
