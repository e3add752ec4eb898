"""A black-box OAuth client for the integration suite: what an MCP client and a browser do.

It discovers everything from the gateway's metadata documents, registers (RFC 7591), opens the
consent page, submits its form like a browser (cookies kept, hidden fields sent back), and
exchanges the code. Endpoint URLs in the metadata carry the PUBLIC URL, which need not be
reachable from the test machine, so only their paths are used, against ``GATEWAY_URL``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REDIRECT_URI = "http://127.0.0.1:47123/callback"


class FormParser(HTMLParser):
    """The consent page's form: its action and every named input with its value."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.inputs: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input":
            self.inputs.append(values)
            if values.get("type") == "hidden" and "name" in values:
                self.fields[values["name"]] = values.get("value", "")


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def path_of(url: str) -> str:
    return urlsplit(url).path


@dataclass
class Discovery:
    resource: str
    metadata: dict[str, Any]

    def path(self, name: str) -> str:
        return path_of(self.metadata[name])


def discover(http: httpx.Client) -> Discovery:
    prm = http.get("/.well-known/oauth-protected-resource")
    assert prm.status_code == 200, prm.text
    metadata = http.get("/.well-known/oauth-authorization-server")
    assert metadata.status_code == 200, metadata.text
    return Discovery(prm.json()["resource"], metadata.json())


def register(http: httpx.Client, found: Discovery, name: str = "integration test") -> str:
    response = http.post(
        found.path("registration_endpoint"),
        json={
            "client_name": name,
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    assert isinstance(client_id, str)
    return client_id


@dataclass
class Authorization:
    code: str
    state: str
    iss: str
    verifier: str


def authorize(
    gateway_url: str,
    found: Discovery,
    client_id: str,
    api_key: str,
    scope: str = "conference:read conference:feedback",
) -> Authorization:
    """Open the consent page and allow, as a browser would; returns the redirect's parameters."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": found.resource,
    }
    # A browser: cookies kept between the page and its form, redirects not followed (the
    # redirect target is the client's, which is not running here).
    with httpx.Client(base_url=gateway_url, timeout=30.0) as browser:
        page = browser.get(found.path("authorization_endpoint"), params=query)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        form = parse_form(page.text)
        assert form.action
        data = {**form.fields, "api_key": api_key, "decision": "allow"}
        answer = browser.post(path_of(form.action), data=data)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert "code" in params, params
    return Authorization(params["code"], params["state"], params["iss"], verifier)


def exchange(
    http: httpx.Client, found: Discovery, client_id: str, grant: Authorization
) -> httpx.Response:
    return http.post(
        found.path("token_endpoint"),
        data={
            "grant_type": "authorization_code",
            "code": grant.code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": grant.verifier,
            "resource": found.resource,
        },
    )


def refresh(
    http: httpx.Client, found: Discovery, client_id: str, refresh_token: str
) -> httpx.Response:
    return http.post(
        found.path("token_endpoint"),
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "resource": found.resource,
        },
    )
