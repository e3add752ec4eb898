"""HTTP endpoints of the authorization server and the discovery documents.

Strategy: thin views over :mod:`backend.oauth.server`. Discovery (RFC 8414 authorization-server
metadata, RFC 9728 protected-resource metadata, the JWKS) is built from the settings once per
request, from ``PUBLIC_URL``, never from the Host header. Every endpoint path is public on the
gateway (clients reach them before they have a token).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request

from backend.oauth import consent
from backend.oauth.clients import RegistrationError, validate_registration
from backend.oauth.consumers import find_consumer
from backend.oauth.server import ConferenceAuthorizationServer
from backend.oauth.settings import OAuthSettings
from backend.oauth.store import ClientCapacityError

logger = logging.getLogger(__name__)

bp = Blueprint("oauth", __name__)

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
REGISTER_PATH = "/oauth/register"
REVOKE_PATH = "/oauth/revoke"
JWKS_PATH = "/.well-known/jwks.json"
#: RFC 7591 bodies above this are refused before parsing (a real one is a few hundred bytes).
MAX_REGISTRATION_BYTES = 16384


def _server() -> ConferenceAuthorizationServer:
    server = current_app.extensions["oauth_server"]
    assert isinstance(server, ConferenceAuthorizationServer)
    return server


def _settings() -> OAuthSettings:
    return _server().settings


def server_metadata(settings: OAuthSettings) -> dict[str, Any]:
    issuer = settings.issuer
    methods = ["none", "client_secret_basic", "client_secret_post"]
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "registration_endpoint": issuer + REGISTER_PATH,
        "revocation_endpoint": issuer + REVOKE_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "scopes_supported": ["conference:read", "conference:feedback"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True,
    }


def resource_metadata(settings: OAuthSettings, resource: str) -> dict[str, Any]:
    return {
        "resource": resource,
        "authorization_servers": [settings.issuer],
        "scopes_supported": ["conference:read", "conference:feedback"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Conference API",
    }


def _public_json(document: dict[str, Any]) -> Response:
    response = jsonify(document)
    response.cache_control.max_age = 300
    return response


@bp.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata() -> Response:
    return _public_json(server_metadata(_settings()))


@bp.get("/.well-known/oauth-protected-resource")
def protected_resource_metadata() -> Response:
    settings = _settings()
    return _public_json(resource_metadata(settings, settings.api_resource))


@bp.get("/.well-known/oauth-protected-resource/mcp")
def mcp_protected_resource_metadata() -> Response:
    """RFC 9728 section 3.1: the metadata of ``<public URL>/mcp`` sits at this path."""
    settings = _settings()
    return _public_json(resource_metadata(settings, settings.mcp_resource))


@bp.get(JWKS_PATH)
def jwks() -> Response:
    return _public_json({"keys": [_server().tokens.public_jwk()]})


def _consent_error(error: OAuth2Error) -> Response:
    """An authorization error: redirect to the client when its redirect URI was validated, else
    answer here (never redirect to an unverified URI)."""
    response: Response = _server().handle_error_response(None, error)
    if response.status_code == 302:
        _server().issuer_parameter.add_issuer_parameter(_server(), response)
    return response


def _page(grant: Any, *, error: str | None = None, status: int = 200) -> Response:
    client = grant.request.client
    return consent.render(
        key=current_app.extensions["oauth_csrf_key"],
        secure=_settings().issuer.startswith("https://"),
        values=request.values,
        client_id=client.client_id,
        client_name=client.client_name,
        scopes=grant.request.scope.split(),
        action=AUTHORIZE_PATH,
        error=error,
        status=status,
    )


@bp.get(AUTHORIZE_PATH)
def authorize_page() -> Response:
    try:
        grant = _server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _consent_error(error)
    return _page(grant)


@bp.post(AUTHORIZE_PATH)
def authorize_decision() -> Response:
    server = _server()
    try:
        grant = server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _consent_error(error)
    form = request.form
    if not consent.csrf_valid(
        current_app.extensions["oauth_csrf_key"],
        request.cookies.get(consent.COOKIE),
        form.get("csrf_token"),
        request.values,
    ):
        return _page(
            grant, error="This form expired or was not sent from this page. Try again.", status=400
        )
    if form.get("decision") != "allow":
        response: Response = server.create_authorization_response(grant=grant, grant_user=None)
        return response
    consumer = find_consumer(server.settings.consumers, form.get("api_key", ""))
    if consumer is None:
        return _page(grant, error="That API key is not valid.", status=401)
    granted = [s for s in grant.request.scope.split() if s in consumer.scopes]
    if not granted:
        # e.g. the read-only key asked only for conference:feedback.
        response = server.create_authorization_response(grant=grant, grant_user=None)
        return response
    response = server.create_authorization_response(grant=grant, grant_user=consumer)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(TOKEN_PATH)
def token() -> Response:
    response: Response = _server().create_token_response()
    return response


@bp.post(REVOKE_PATH)
def revoke() -> Response:
    response: Response = _server().create_endpoint_response("revocation")
    return response


def _registration_error(status: int, error: str, description: str) -> Response:
    response = jsonify(
        {"error": error, "error_description": description, "status": status, "message": description}
    )
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(REGISTER_PATH)
def register() -> Response:
    """RFC 7591 dynamic registration of PUBLIC clients (no secret, PKCE required)."""
    server = _server()
    if request.mimetype != "application/json":
        return _registration_error(400, "invalid_client_metadata", "Send application/json.")
    if (request.content_length or 0) > MAX_REGISTRATION_BYTES:
        return _registration_error(
            400, "invalid_client_metadata", "The registration body is larger than 16 KiB."
        )
    raw = request.get_data(cache=False)
    if len(raw) > MAX_REGISTRATION_BYTES:
        return _registration_error(
            400, "invalid_client_metadata", "The registration body is larger than 16 KiB."
        )
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _registration_error(400, "invalid_client_metadata", "The body is not valid JSON.")
    try:
        name, uris = validate_registration(document)
    except RegistrationError as exc:
        return _registration_error(400, exc.error, exc.description)
    settings = server.settings
    try:
        client = server.store.add_dynamic_client(
            name, uris, server.now(), cap=settings.max_clients, idle=settings.client_idle_seconds
        )
    except ClientCapacityError:
        logger.warning(
            "dynamic client registration refused: %d clients stored", settings.max_clients
        )
        return _registration_error(
            503, "temporarily_unavailable", "Too many registered clients; try again later."
        )
    body = {
        "client_id": client.client_id,
        "client_id_issued_at": server.now(),
        "client_name": client.client_name,
        "redirect_uris": list(client.redirect_uris),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": " ".join(server.scopes_supported),
    }
    response = jsonify(body)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response
