"""The REST API as an OAuth protected resource: issuer, audience and scope of bearer tokens.

Strategy: the gateway already verified the token's signature and expiry (``jwt-auth``) and
forwarded the ``Authorization`` header (it does not hide it); what it cannot check is checked
here, before any view runs, with the same :mod:`bearer` rule the runner applies on the context
route: issuer, audience (this API's resource identifier, so a token minted for ``/mcp`` is
refused), and scope (``conference:feedback`` for the feedback POST, ``conference:read`` for
everything else). A request without a bearer token came in with an API key (key-auth) and passes
unchanged. Failures answer the project's JSON error with RFC 6750's ``WWW-Authenticate``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask, Response, current_app, jsonify, request

from backend.oauth.settings import OAuthSettings
from bearer import FEEDBACK_SCOPE, READ_SCOPE, BearerError, BearerVerifier
from bearer.verifier import bearer_token
from errorshape import error_body

#: Blueprints that serve the protected REST API.
API_BLUEPRINTS = frozenset({"speakers", "sessions", "topics"})


def init_app(
    app: Flask, settings: OAuthSettings, public_key_pem: str, clock: Callable[[], datetime]
) -> None:
    app.extensions["bearer_verifier"] = BearerVerifier(
        issuer=settings.issuer,
        audience=settings.api_resource,
        public_key_pem=public_key_pem,
        clock=lambda: clock().timestamp(),
    )
    app.extensions["resource_metadata_url"] = settings.resource_metadata_url(settings.api_resource)
    app.before_request(_check_bearer)


def required_scope(method: str, path: str) -> str:
    if method == "POST" and path.startswith("/session/") and path.endswith("/feedback"):
        return FEEDBACK_SCOPE
    return READ_SCOPE


def _check_bearer() -> Response | None:
    if request.blueprint not in API_BLUEPRINTS:
        return None
    authorization = request.headers.get("Authorization")
    if bearer_token(authorization) is None:
        return None
    verifier: BearerVerifier = current_app.extensions["bearer_verifier"]
    try:
        verifier.verify(authorization, required_scope(request.method, request.path))
    except BearerError as exc:
        response = jsonify(error_body(exc.status, exc.description))
        response.status_code = exc.status
        response.headers["WWW-Authenticate"] = exc.www_authenticate(
            current_app.extensions["resource_metadata_url"]
        )
        return response
    return None
