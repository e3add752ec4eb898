"""Verification of the OAuth access tokens this project issues, shared by every resource server.

The gateway (APISIX ``jwt-auth``, or the local stand-in's copy of it) only checks the signature,
``exp`` and ``nbf`` and picks the consumer from ``sub``. Issuer, audience and scope are checked
here, on the request path, by the backend for the REST routes and by the runner for the context
route, so one rule decides everywhere (docs/deployment.md, "OAuth bearer tokens").
"""

from bearer.verifier import (
    FEEDBACK_SCOPE,
    READ_SCOPE,
    SCOPES,
    BearerError,
    BearerVerifier,
    TokenGrant,
    challenge,
    token_scopes,
)

__all__ = [
    "FEEDBACK_SCOPE",
    "READ_SCOPE",
    "SCOPES",
    "BearerError",
    "BearerVerifier",
    "TokenGrant",
    "challenge",
    "token_scopes",
]
