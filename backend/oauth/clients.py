"""OAuth clients: what Authlib asks of a client, the redirect-URI rule, and DCR validation.

Strategy: one immutable :class:`OAuthClient` for the three kinds (pre-registered GPT Actions
client, RFC 7591 dynamic clients, Client ID Metadata Documents). Redirect URIs match exactly,
with OAuth 2.1's single exception: a loopback IP literal registered with ``http`` matches on any
port (native apps bind an ephemeral port). Only the pre-registered client is confidential; every
other client authenticates with ``none`` and must use PKCE.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bearer import SCOPES

GRANT_TYPES = ("authorization_code", "refresh_token")
MAX_REDIRECT_URIS = 10
MAX_URI_CHARS = 500
MAX_CLIENT_NAME = 200


def _loopback_host(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_matches(registered: str, given: str) -> bool:
    """Exact string match, except that an http loopback IP literal may differ in port."""
    if hmac.compare_digest(registered.encode(), given.encode()):
        return True
    a, b = urlsplit(registered), urlsplit(given)
    if a.scheme != "http" or b.scheme != "http" or not _loopback_host(a.hostname):
        return False
    try:
        b.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    return (a.hostname, a.path, a.query) == (b.hostname, b.path, b.query) and not b.fragment


def redirect_uri_problem(uri: Any) -> str | None:
    """Why ``uri`` cannot be registered (https, or http on a loopback IP literal), or None."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_CHARS:
        return "must be a non-empty string of at most 500 characters"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018
    except ValueError:
        return "is not a valid URI"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and _loopback_host(parts.hostname):
        return None
    return "must be https, or http on a loopback IP literal (127.0.0.1 or [::1])"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """A registered client, shaped as Authlib's ``ClientMixin`` expects."""

    client_id: str
    client_name: str
    redirect_uris: tuple[str, ...]
    #: "static" (confidential, pre-registered), "dynamic" (RFC 7591), "metadata-document".
    kind: str
    secret_hash: str | None = None

    @property
    def confidential(self) -> bool:
        return self.secret_hash is not None

    @property
    def pkce_required(self) -> bool:
        # GPT Actions may not send PKCE (it authenticates with its secret instead).
        return not self.confidential

    # --- Authlib's ClientMixin -----------------------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Always require redirect_uri in the request: never guess where to send a code.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(SCOPES)
        return " ".join(s for s in SCOPES if s in scope.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(redirect_matches(r, redirect_uri) for r in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(hash_secret(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.confidential:
            return method in ("client_secret_basic", "client_secret_post")
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class RegistrationError(ValueError):
    """RFC 7591 ``invalid_redirect_uri`` / ``invalid_client_metadata``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def validate_registration(document: Any) -> tuple[str, tuple[str, ...]]:
    """Check an RFC 7591 request for a public client; return (client_name, redirect_uris)."""
    if not isinstance(document, Mapping):
        raise RegistrationError("invalid_client_metadata", "The body must be a JSON object.")
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
        raise RegistrationError(
            "invalid_redirect_uri", "redirect_uris must be a list of 1 to 10 URIs."
        )
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem:
            raise RegistrationError("invalid_redirect_uri", f"redirect_uri {problem}.")
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise RegistrationError(
            "invalid_client_metadata",
            "Only public clients can register: token_endpoint_auth_method must be 'none'.",
        )
    grants = document.get("grant_types", ["authorization_code"])
    if not isinstance(grants, list) or not set(grants) <= set(GRANT_TYPES):
        raise RegistrationError(
            "invalid_client_metadata", "grant_types may only be authorization_code, refresh_token."
        )
    responses = document.get("response_types", ["code"])
    if responses != ["code"]:
        raise RegistrationError("invalid_client_metadata", "response_types must be ['code'].")
    name = document.get("client_name", "")
    if not isinstance(name, str) or len(name) > MAX_CLIENT_NAME:
        raise RegistrationError(
            "invalid_client_metadata", "client_name must be a string of at most 200 characters."
        )
    scope = document.get("scope")
    if scope is not None and (not isinstance(scope, str) or not set(scope.split()) <= set(SCOPES)):
        raise RegistrationError(
            "invalid_client_metadata", f"scope may only contain {' '.join(SCOPES)}."
        )
    return name.strip() or "Unnamed client", tuple(uris)
