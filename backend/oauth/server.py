"""The Authlib authorization server, configured for OAuth 2.1 as MCP clients and GPT Actions use it.

Strategy: Authlib runs the protocol (request validation, client authentication, error
responses); this module supplies storage and the parts Authlib leaves to the application or
defaults differently from OAuth 2.1:

* PKCE is S256 only (Authlib accepts and even defaults to ``plain``), and required for every
  client but the pre-registered confidential one;
* ``none`` is a token-endpoint auth method (public clients), refresh tokens rotate
  (``INCLUDE_NEW_REFRESH_TOKEN``), and a rotated token presented again revokes its family;
* codes are single-use through an atomic update (a replay also revokes the family) and expire
  after ``OAUTH_CODE_SECONDS`` (<= 60 s);
* RFC 8707: the ``resource`` of the authorization request is validated, bound to the code, must
  match at the token endpoint and becomes the access token's ``aud``;
* RFC 9207: ``iss`` is added to every authorization response (Authlib's ``IssuerParameter``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Response, json
from flask import request as flask_request

from backend.oauth.cimd import (
    MetadataDocumentClients,
    MetadataDocumentError,
    is_metadata_document_id,
)
from backend.oauth.clients import OAuthClient, hash_secret
from backend.oauth.consumers import Consumer, consumer_named
from backend.oauth.settings import GPT_ACTIONS_CLIENT_ID, OAuthSettings
from backend.oauth.store import CodeRecord, OAuthStore, RefreshRecord
from backend.oauth.tokens import TokenIssuer

logger = logging.getLogger(__name__)

#: Client authentication accepted at the token and revocation endpoints.
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 section 2: the requested resource is unknown or not allowed."""

    error = "invalid_target"


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only; a public client without a challenge is refused."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if not challenge and not method:
            if grant.request.client.pkce_required:
                raise InvalidRequestError("PKCE is required: send code_challenge with S256.")
            return
        if challenge and method != "S256":
            # RFC 7636 would default to "plain"; OAuth 2.1 clients must say S256.
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class _Issuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self._issuer = issuer

    def get_issuer(self) -> str:
        return self._issuer


class PublicRequest(OAuth2Request):  # type: ignore[misc]
    """Authlib's Flask request, with the URL the CLIENT used (``PUBLIC_URL``), not the Host the
    gateway forwarded: TLS ends in front of the gateway, so the backend itself only sees http.
    Authlib refuses non-https URLs other than loopback, which keeps a misconfigured public http
    deployment closed."""

    def __init__(self, public_url: str) -> None:
        super().__init__(
            method=flask_request.method,
            uri=public_url + flask_request.full_path.rstrip("?"),
            headers=flask_request.headers,
        )
        self._request = flask_request
        self.payload = FlaskOAuth2Payload(flask_request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form


class ConferenceAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self,
        settings: OAuthSettings,
        store: OAuthStore,
        tokens: TokenIssuer,
        documents: MetadataDocumentClients,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.documents = documents
        self._clock = clock
        self.scopes_supported = ["conference:read", "conference:feedback"]
        self.issuer_parameter = _Issuer(settings.issuer)
        self.register_extension(self.issuer_parameter)
        self.register_grant(CodeGrant, [S256Only(required=True)])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)
        self._static: OAuthClient | None = None
        if settings.gpt_actions_secret:
            self._static = OAuthClient(
                client_id=GPT_ACTIONS_CLIENT_ID,
                client_name="ChatGPT (GPT Actions)",
                redirect_uris=settings.gpt_actions_redirect_uris,
                kind="static",
                secret_hash=hash_secret(settings.gpt_actions_secret),
            )

    def now(self) -> int:
        return int(self._clock().timestamp())

    # --- what Authlib asks of the application --------------------------------------------------

    def query_client(self, client_id: str) -> OAuthClient | None:
        if self._static is not None and client_id == self._static.client_id:
            return self._static
        if is_metadata_document_id(client_id):
            try:
                return self.documents.client(client_id)
            except MetadataDocumentError as exc:
                logger.info("client metadata document refused: %s", exc)
                return None
        if len(client_id) > 255:
            return None
        return self.store.dynamic_client(client_id)

    def create_oauth2_request(self, request: Any) -> PublicRequest:
        return PublicRequest(self.settings.issuer)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        # The grants store their refresh tokens themselves (they know the family).
        return None

    def handle_response(self, status: int, payload: Any, headers: Any) -> Response:
        if isinstance(payload, dict):
            if status >= 400 and "error" in payload:
                # OAuth's fields as the RFCs define them, plus the project's status/message.
                payload = {
                    **payload,
                    "status": status,
                    "message": payload.get("error_description") or payload["error"],
                }
            payload = json.dumps(payload)
        response = Response(payload, status=status, headers=headers)
        if isinstance(payload, str) and payload:
            response.headers["Content-Type"] = "application/json"
        return response

    def resource_for(self, request: Any) -> str:
        """The RFC 8707 ``resource`` of a request (default: the API), or InvalidTargetError."""
        values = request.payload.datalist.get("resource") or []
        if len(values) > 1:
            raise InvalidTargetError(description="Send at most one resource.")
        if not values:
            return self.settings.api_resource
        resource = values[0].rstrip("/") if values[0] != "/" else values[0]
        if resource not in self.settings.resources:
            raise InvalidTargetError(description="The resource is not served by this issuer.")
        return str(resource)

    def consumer(self, name: str) -> Consumer | None:
        return consumer_named(self.settings.consumers, name)


def _server(grant: Any) -> ConferenceAuthorizationServer:
    server = grant.server
    assert isinstance(server, ConferenceAuthorizationServer)
    return server


class _FamilyIssuer:
    """Issues tokens in the family, and for the resource, of the code or refresh token granted.

    Put before the Authlib grant class, whose generate_token and save_token it overrides.
    """

    def granted(self) -> CodeRecord | RefreshRecord:
        raise NotImplementedError

    def generate_token(
        self,
        user: Consumer | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        record = self.granted()
        assert user is not None
        return _issue(
            self, user, scope or "", record.resource, record.family, include_refresh_token
        )

    def save_token(self, token: dict[str, Any]) -> None:
        _save_refresh(self, token)


class CodeGrant(_FamilyIssuer, AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        try:
            self.request.conference_resource = _server(self).resource_for(self.request)
        except InvalidTargetError as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        server = _server(self)
        consumer: Consumer = request.user
        data = request.payload.data
        scope = " ".join(s for s in request.scope.split() if s in consumer.scopes)
        now = server.now()
        server.store.save_code(
            code,
            {
                "client_id": request.client.client_id,
                "consumer": consumer.name,
                "redirect_uri": request.payload.redirect_uri,
                "scope": scope,
                "resource": request.conference_resource,
                "code_challenge": data.get("code_challenge"),
                "code_challenge_method": data.get("code_challenge_method"),
                "family": secrets.token_urlsafe(24),
                "expires_at": now + server.settings.code_seconds,
            },
            now,
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> CodeRecord | None:
        server = _server(self)
        record = server.store.find_code(code)
        if record is None or record.client_id != client.client_id:
            return None
        if record.used:
            # OAuth 2.1 4.1.2: deny, and revoke what the code already issued.
            server.store.revoke_family(record.family)
            logger.warning("authorization code replayed by %s: family revoked", client.client_id)
            return None
        if record.expires_at <= server.now():
            return None
        return record

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        # Already consumed atomically in create_token_response; the row stays for replays.
        return None

    def authenticate_user(self, authorization_code: CodeRecord) -> Consumer | None:
        return _server(self).consumer(authorization_code.consumer)

    def create_token_response(self) -> Any:
        server = _server(self)
        record: CodeRecord = self.request.authorization_code
        _check_resource(self.request, record.resource)
        if not server.store.consume_code(record.code_hash, server.now()):
            server.store.revoke_family(record.family)
            raise InvalidGrantError("The authorization code was already used.")
        if self.request.client.kind == "dynamic":
            server.store.touch_client(self.request.client.client_id, server.now())
        return super().create_token_response()

    def granted(self) -> CodeRecord:
        record: CodeRecord = self.request.authorization_code
        return record


class RefreshGrant(_FamilyIssuer, RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        server = _server(self)
        record = server.store.find_refresh(refresh_token)
        if record is None or record.revoked or record.expires_at <= server.now():
            return None
        if record.used:
            server.store.revoke_family(record.family)
            logger.warning("refresh token reused by %s: family revoked", record.client_id)
            return None
        return record

    def authenticate_user(self, refresh_token: RefreshRecord) -> Consumer | None:
        return _server(self).consumer(refresh_token.consumer)

    def create_token_response(self) -> Any:
        server = _server(self)
        record: RefreshRecord = self.request.refresh_token
        _check_resource(self.request, record.resource)
        if not server.store.consume_refresh(record.token_hash, server.now()):
            # Lost a race with another use of the same token: that is a reuse too.
            server.store.revoke_family(record.family)
            raise InvalidGrantError("The refresh token was already used.")
        return super().create_token_response()

    def granted(self) -> RefreshRecord:
        record: RefreshRecord = self.request.refresh_token
        return record

    def revoke_old_credential(self, refresh_token: RefreshRecord) -> None:
        # Already consumed atomically in create_token_response.
        return None


def _check_resource(request: Any, bound: str) -> None:
    values = request.payload.datalist.get("resource") or []
    if values and [v.rstrip("/") for v in values] != [bound.rstrip("/")]:
        raise InvalidTargetError(description="The resource differs from the one authorized.")


def _issue(
    grant: Any, user: Consumer, scope: str, resource: str, family: str, refresh: bool
) -> dict[str, Any]:
    server = _server(grant)
    # A consumer whose permissions shrank since the code was issued gets no more than it has now.
    allowed = " ".join(s for s in scope.split() if s in user.scopes)
    issued = server.tokens.issue(
        client_id=grant.request.client.client_id,
        consumer=user.name,
        scope=allowed,
        resource=resource,
        family=family,
        now=server.now(),
        with_refresh=refresh,
    )
    grant.request.conference_family = family
    grant.request.conference_resource = resource
    return issued.response


def _save_refresh(grant: Any, token: dict[str, Any]) -> None:
    refresh = token.get("refresh_token")
    if not refresh:
        return
    server = _server(grant)
    now = server.now()
    server.store.save_refresh(
        refresh,
        {
            "family": grant.request.conference_family,
            "client_id": grant.request.client.client_id,
            "consumer": grant.request.user.name,
            "scope": token["scope"],
            "resource": grant.request.conference_resource,
            "expires_at": now + server.settings.refresh_token_seconds,
        },
        now,
    )


class AccessTokenRef:
    """An access token presented for revocation: it names its family and client."""

    def __init__(self, family: str, client_id: str) -> None:
        self.family = family
        self.client_id = client_id

    def check_client(self, client: OAuthClient) -> bool:
        return bool(client.client_id == self.client_id)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking either token revokes the family's refresh tokens; an access token
    itself stays valid until it expires (<= 10 min): the gateway checks it offline."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        server = _server(self)
        if token_type_hint != "access_token":
            record = server.store.find_refresh(token_string)
            if record is not None:
                return record
        claims = server.tokens.signed_claims(token_string)
        if (
            claims
            and isinstance(claims.get("sid"), str)
            and isinstance(claims.get("client_id"), str)
        ):
            return AccessTokenRef(claims["sid"], claims["client_id"])
        return None

    def revoke_token(self, token: Any, request: Any) -> None:
        _server(self).store.revoke_family(token.family)
