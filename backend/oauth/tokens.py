"""Minting access tokens (RFC 9068 JWTs, ES256) and opaque refresh tokens.

Strategy: the access token is what the gateway checks without calling us: APISIX's ``jwt-auth``
verifies the ES256 signature with the public key from its consumer credential and picks the
consumer from ``sub`` (the consumer name); ``bearer`` checks ``iss``, ``aud`` and ``scope`` on the
request path. It lives at most 10 minutes (settings), because nothing on the request path can
ask whether it was revoked. Refresh tokens are random strings stored hashed (backend.oauth.store).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from bearer.verifier import ALGORITHM, TOKEN_TYPE


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    response: dict[str, Any]
    refresh_token: str | None


class TokenIssuer:
    def __init__(self, private_key_pem: str, issuer: str, access_seconds: int) -> None:
        self._key = ECKey.import_key(private_key_pem)
        if not self._key.is_private or self._key.curve_name != "P-256":
            raise ValueError("OAUTH_SIGNING_KEY must be an EC P-256 private key (PEM)")
        self.issuer = issuer
        self.access_seconds = access_seconds
        self.kid = self._key.thumbprint()

    def public_key_pem(self) -> str:
        return self._key.as_pem(private=False).decode()

    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self._key.as_dict(private=False))
        jwk.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return jwk

    def issue(
        self,
        *,
        client_id: str,
        consumer: str,
        scope: str,
        resource: str,
        family: str,
        now: int,
        with_refresh: bool,
    ) -> IssuedTokens:
        claims = {
            "iss": self.issuer,
            "sub": consumer,
            "aud": resource,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + self.access_seconds,
            "jti": secrets.token_urlsafe(16),
            # The token family: revoking this access token (RFC 7009) revokes its refresh tokens.
            "sid": family,
        }
        header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": self.kid}
        access = jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_seconds,
            "scope": scope,
        }
        refresh = secrets.token_urlsafe(32) if with_refresh else None
        if refresh is not None:
            response["refresh_token"] = refresh
        return IssuedTokens(response, refresh)

    def signed_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token WE signed (expired or not), or None for anything else."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError):
            return None
        return dict(decoded.claims)
