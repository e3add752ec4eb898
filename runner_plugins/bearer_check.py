"""``oauth-bearer``: the issuer, audience and scope check of bearer tokens on runner routes.

Strategy: APISIX's ``jwt-auth`` has verified the token's signature and expiry and picked the
consumer before the runner is called (ext-plugin-post-req runs after authentication); it cannot
check what the token is FOR. This plugin runs first in the route's conf list and applies the
project's one rule (package ``bearer``): a token issued for another resource, by another issuer,
or without the needed scope is answered 401/403 with the RFC 6750 challenge and the project's
JSON error, and the next plugin (``conference-context``) never sees it. A request without a
bearer token was authenticated by API key and passes unchanged.

Conf (JSON): ``{"issuer": URL, "audience": resource URL, "public_key": PEM,
"resource_metadata": URL, "scope": "conference:read"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bearer import BearerError, BearerVerifier
from bearer.verifier import bearer_token
from errorshape import error_body
from runner_plugins.plugin import ConfError, Plugin, Request, Stop

__all__ = ["BearerCheck", "plugins"]

_FIELDS = ("issuer", "audience", "public_key", "resource_metadata", "scope")


@dataclass(frozen=True, slots=True)
class BearerConf:
    verifier: BearerVerifier
    resource_metadata: str
    scope: str


class BearerCheck(Plugin[BearerConf]):
    name = "oauth-bearer"

    def parse_conf(self, raw: str) -> BearerConf:
        try:
            conf = json.loads(raw or "{}")
        except ValueError as exc:
            raise ConfError(f"conf is not JSON: {exc}") from None
        if not isinstance(conf, dict) or set(conf) != set(_FIELDS):
            raise ConfError(f"expected exactly the string fields {', '.join(_FIELDS)}")
        if not all(isinstance(conf[name], str) and conf[name] for name in _FIELDS):
            raise ConfError(f"{', '.join(_FIELDS)} must be non-empty strings")
        try:
            verifier = BearerVerifier(
                issuer=conf["issuer"], audience=conf["audience"], public_key_pem=conf["public_key"]
            )
        except Exception as exc:  # noqa: BLE001 - joserfc raises several types for a bad key
            raise ConfError(f"public_key is not a usable EC public key: {exc}") from None
        return BearerConf(verifier, conf["resource_metadata"], conf["scope"])

    async def request_filter(self, conf: BearerConf, request: Request) -> Stop | None:
        authorization = request.header("authorization")
        if bearer_token(authorization) is None:
            return None
        try:
            conf.verifier.verify(authorization, conf.scope)
        except BearerError as exc:
            body = error_body(exc.status, exc.description)
            return Stop(
                status=exc.status,
                headers=(
                    ("content-type", "application/json"),
                    ("www-authenticate", exc.www_authenticate(conf.resource_metadata)),
                ),
                body=json.dumps(body).encode(),
            )
        return None


def plugins() -> list[Plugin[Any]]:
    return [BearerCheck()]
