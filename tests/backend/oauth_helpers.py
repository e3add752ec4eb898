"""Shared pieces of the authorization-server tests: keys, a movable clock, a browser-like flow."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

PUBLIC_URL = "https://conference.example.test"
CHATGPT_KEY = "chatgpt-test-key"
READONLY_KEY = "readonly-test-key"
GPT_SECRET = "gpt-actions-test-secret"
GPT_REDIRECT = "https://chat.openai.com/aip/g-test/oauth/callback"
REDIRECT = "http://127.0.0.1:8765/callback"
BOTH = "conference:read conference:feedback"


def signing_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


SIGNING_KEY = signing_key_pem()


class Clock:
    """The app's clock, moved by the tests instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 9, 12, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def oauth_config(clock: Clock, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "PUBLIC_URL": PUBLIC_URL,
        "CLOCK": clock,
        # One line with literal \n, as .env holds it.
        "OAUTH_SIGNING_KEY": SIGNING_KEY.replace("\n", "\\n"),
        "OAUTH_GPT_ACTIONS_SECRET": GPT_SECRET,
        "OAUTH_GPT_ACTIONS_REDIRECT_URIS": GPT_REDIRECT,
        "CHATGPT_API_KEY": CHATGPT_KEY,
        "READONLY_API_KEY": READONLY_KEY,
    }
    config.update(overrides)
    return config


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def register(client: FlaskClient, redirect: str = "http://127.0.0.1/callback") -> str:
    response = client.post(
        "/oauth/register", json={"client_name": "Test client", "redirect_uris": [redirect]}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    client_id = response.get_json()["client_id"]
    assert isinstance(client_id, str)
    return client_id


def authorize_query(client_id: str, challenge: str | None, **changes: Any) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": BOTH,
        "state": "state-1",
        "resource": PUBLIC_URL,
    }
    if challenge is not None:
        query.update(code_challenge=challenge, code_challenge_method="S256")
    query.update(changes)
    return {k: v for k, v in query.items() if v is not None}


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def submit(
    client: FlaskClient, query: dict[str, str], api_key: str, decision: str = "allow"
) -> TestResponse:
    """GET the consent page, then POST its form back as a browser would (cookie included)."""
    page = client.get("/oauth/authorize", query_string=query)
    assert page.status_code == 200, page.get_data(as_text=True)
    form = hidden_fields(page.get_data(as_text=True))
    return client.post("/oauth/authorize", data={**form, "api_key": api_key, "decision": decision})


def redirect_params(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    return {k: v[0] for k, v in parse_qs(location.query).items()}


@dataclass
class Flow:
    client_id: str
    verifier: str
    code: str


def code_for(client: FlaskClient, api_key: str = CHATGPT_KEY, scope: str = BOTH) -> Flow:
    client_id = register(client, "http://127.0.0.1/callback")
    verifier, challenge = pkce()
    params = redirect_params(
        submit(client, authorize_query(client_id, challenge, scope=scope), api_key)
    )
    return Flow(client_id, verifier, params["code"])


def exchange(client: FlaskClient, flow: Flow, **changes: Any) -> TestResponse:
    data = {
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": REDIRECT,
        "client_id": flow.client_id,
        "code_verifier": flow.verifier,
    }
    data.update(changes)
    return client.post("/oauth/token", data={k: v for k, v in data.items() if v is not None})


def tokens_for(
    client: FlaskClient, api_key: str = CHATGPT_KEY, scope: str = BOTH
) -> tuple[Flow, dict[str, Any]]:
    flow = code_for(client, api_key, scope)
    response = exchange(client, flow)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    return flow, body


def refresh(client: FlaskClient, client_id: str, token: str, **changes: Any) -> TestResponse:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id}
    data.update(changes)
    return client.post("/oauth/token", data=data)
