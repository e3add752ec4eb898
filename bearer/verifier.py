"""Check an access token (RFC 9068 JWT, ES256) for one protected resource.

Strategy: sans-IO. A :class:`BearerVerifier` is built once per resource from the issuer URL, the
resource identifier (the token's required audience) and the issuer's public key; ``verify`` takes
the ``Authorization`` header value and the scope the operation needs and returns who the token
acts for, or raises :class:`BearerError` carrying the RFC 6750 status and error code (401
``invalid_token`` / 403 ``insufficient_scope``). The signature check is the costly part (an ECDSA
verification), and a client repeats the same token for minutes, so verified headers and claims
are kept in a small bounded cache keyed by the exact token text; the time-dependent checks
(``exp``, ``nbf``) and the audience, issuer and scope checks run on every call. The clock is
injected (tests move it instead of sleeping).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

READ_SCOPE = "conference:read"
FEEDBACK_SCOPE = "conference:feedback"
#: Every scope the authorization server issues, in the order the metadata lists them.
SCOPES = (READ_SCOPE, FEEDBACK_SCOPE)

#: The one signing algorithm; a token naming any other (``none`` included) is refused.
ALGORITHM = "ES256"
#: RFC 9068's media type for JWT access tokens: an ID token or any other JWT signed by the same
#: key is not accepted as an access token.
TOKEN_TYPE = "at+jwt"
#: A token longer than this is refused before any parsing (ours are about 600 bytes).
MAX_TOKEN_CHARS = 4096


class BearerError(Exception):
    """The request's token is missing, invalid, or lacks the needed scope."""

    def __init__(self, status: int, error: str | None, description: str, scope: str = "") -> None:
        super().__init__(description)
        self.status = status
        #: RFC 6750 code: ``invalid_request``, ``invalid_token``, ``insufficient_scope``, or None
        #: when no token was sent (the challenge then carries no error, RFC 6750 section 3.1).
        self.error = error
        self.description = description
        self.scope = scope

    def www_authenticate(self, resource_metadata: str) -> str:
        return challenge(resource_metadata, self.error, self.description, self.scope)


def challenge(
    resource_metadata: str,
    error: str | None = None,
    description: str | None = None,
    scope: str = "",
) -> str:
    """The ``WWW-Authenticate`` value of a 401/403 (RFC 6750, RFC 9728 ``resource_metadata``)."""
    parts = [f'resource_metadata="{_quoted(resource_metadata)}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quoted(description)}"')
    if scope:
        parts.append(f'scope="{_quoted(scope)}"')
    return "Bearer " + ", ".join(parts)


def _quoted(text: str) -> str:
    # A quoted-string may not hold '"' or '\' unescaped; our values never need them.
    return text.replace("\\", "").replace('"', "'")


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a valid token grants: the consumer it acts for, its client and scopes."""

    consumer: str
    client_id: str
    scopes: frozenset[str]
    expires_at: int


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None for any other header."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def token_scopes(authorization: str | None) -> frozenset[str] | None:
    """The ``scope`` of the bearer token in ``authorization``, read WITHOUT verification; None
    when the request carries no bearer token (it came in with an API key).

    Only for a request path where the token was already verified in full: on the runner's
    routes, ``oauth-bearer`` runs first and stops any request whose bearer token fails
    :meth:`BearerVerifier.verify`. A token that cannot be read grants nothing (empty set).
    """
    token = bearer_token(authorization)
    if token is None:
        return None
    parts = token.split(".")
    if len(parts) != 3 or len(token) > MAX_TOKEN_CHARS:
        return frozenset()
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return frozenset()
    scope = payload.get("scope") if isinstance(payload, dict) else None
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()


class BearerVerifier:
    """Verifies tokens for one resource (one audience)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: str,
        clock: Callable[[], float] = time.time,
        cache_size: int = 4096,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = ECKey.import_key(public_key_pem)
        if self._key.is_private:
            # Resource servers get the public half only; refuse to be handed the signing key.
            raise ValueError("BearerVerifier needs the issuer's PUBLIC key, not the private key")
        self._clock = clock
        self._cache_size = cache_size
        self._cache: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, authorization: str | None, required_scope: str) -> TokenGrant:
        """Return the grant of the header's token or raise :class:`BearerError`."""
        token = bearer_token(authorization)
        if token is None:
            raise BearerError(401, None, "A bearer token is required.", required_scope)
        claims = self._claims(token)
        now = self._clock()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            raise BearerError(401, "invalid_token", "The access token has expired.")
        nbf = claims.get("nbf")
        if nbf is not None and (not _is_number(nbf) or nbf > now):
            raise BearerError(401, "invalid_token", "The access token is not valid yet.")
        if claims.get("iss") != self.issuer:
            raise BearerError(401, "invalid_token", "The access token has another issuer.")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise BearerError(
                401, "invalid_token", "The access token was issued for another resource."
            )
        subject, client_id, scope = claims.get("sub"), claims.get("client_id"), claims.get("scope")
        if not (isinstance(subject, str) and isinstance(client_id, str) and isinstance(scope, str)):
            raise BearerError(401, "invalid_token", "The access token lacks sub/client_id/scope.")
        scopes = frozenset(scope.split())
        if required_scope and required_scope not in scopes:
            raise BearerError(
                403,
                "insufficient_scope",
                f"This operation needs the {required_scope} scope.",
                required_scope,
            )
        return TokenGrant(subject, client_id, scopes, int(exp))

    def _claims(self, token: str) -> Mapping[str, Any]:
        with self._lock:
            cached = self._cache.get(token)
            if cached is not None:
                self._cache.move_to_end(token)
                return cached
        if len(token) > MAX_TOKEN_CHARS:
            raise BearerError(401, "invalid_token", "The access token is too long.")
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError):
            # Bad signature, other algorithm (alg none included), malformed: one answer.
            raise BearerError(401, "invalid_token", "The access token is not valid.") from None
        if decoded.header.get("typ") != TOKEN_TYPE:
            raise BearerError(401, "invalid_token", "The token is not an access token.")
        claims = dict(decoded.claims)
        with self._lock:
            self._cache[token] = claims
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return claims


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
