"""APISIX's ``jwt-auth`` (route side and consumer credential) and ``multi-auth``, as in 3.18.

Strategy: the subset this project's ``apisix.yaml`` uses, everything else refused by the schema.
``jwt-auth`` takes the token from the ``Authorization`` header (``Bearer `` stripped), then the
``jwt`` query argument, then the ``jwt`` cookie; reads the claim ``key_claim_name`` without
verifying; finds the consumer whose credential ``key`` equals it; requires the token's ``alg``
to equal the credential's ``algorithm`` and verifies the signature with its ``public_key``
(ES256/RS256 only here); checks ``exp``/``nbf`` when present, or always when listed in
``claims_to_verify``. Like APISIX it checks nothing else: issuer, audience and scope are the
resource server's job (package ``bearer``). Replies and messages are APISIX's. Verification results
are cached per (token, consumer) in a small bounded map because the same token arrives many
times; expiry is still checked on every request.

``multi-auth`` tries its ``auth_plugins`` in order and the first success wins; when all fail it
answers 401 ``{"message":"Authorization Failed"}`` (APISIX logs each reason, sends none).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from multidict import CIMultiDict

from gateway.errors import ConfigError, Exit, json_exit
from gateway.plugins.auth import KeyAuth
from gateway.plugins.base import GatewayPlugin

if TYPE_CHECKING:
    from gateway.context import Consumer, RequestContext

logger = logging.getLogger(__name__)

_STRING = {"type": "string"}
_CACHE_ENTRIES = 4096


class JwtAuthCredential(GatewayPlugin):
    """``jwt-auth`` on a consumer: the key the token's claim must name, and the public key."""

    name = "jwt-auth"
    priority = 2510
    phase = "credential"
    schema = {
        "type": "object",
        "properties": {
            "key": {"type": "string", "minLength": 1},
            # HS*/PS*/ES384+/EdDSA exist in APISIX; only what this project uses is implemented.
            "algorithm": {"enum": ["ES256", "RS256"]},
            "public_key": {"type": "string", "minLength": 1},
        },
        "required": ["key", "algorithm", "public_key"],
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        self.key: str = conf["key"]
        self.algorithm: str = conf["algorithm"]
        try:
            if self.algorithm == "ES256":
                self.public_key: ECKey | RSAKey = ECKey.import_key(conf["public_key"])
            else:
                self.public_key = RSAKey.import_key(conf["public_key"])
        except (JoseError, ValueError, TypeError) as exc:
            raise ConfigError(f"plugin 'jwt-auth': public_key is not a valid key: {exc}") from None
        if self.public_key.is_private:
            raise ConfigError("plugin 'jwt-auth': public_key holds a PRIVATE key")


class JwtAuth(GatewayPlugin):
    name = "jwt-auth"
    priority = 2510
    phase = "rewrite"
    schema = {
        "type": "object",
        "properties": {
            "header": _STRING,
            "query": _STRING,
            "cookie": _STRING,
            "hide_credentials": {"type": "boolean"},
            "key_claim_name": _STRING,
            "claims_to_verify": {
                "type": "array",
                "items": {"enum": ["exp", "nbf"]},
                "uniqueItems": True,
            },
        },
    }
    _CHALLENGE = ("WWW-Authenticate", 'Bearer realm="jwt"')

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        self._header = conf.get("header", "authorization")
        self._query = conf.get("query", "jwt")
        self._cookie = conf.get("cookie", "jwt")
        self._claim = conf.get("key_claim_name", "key")
        self._required = frozenset(conf.get("claims_to_verify", ()))
        #: token -> (consumer, claims) for tokens whose signature verified (time not included).
        self._verified: OrderedDict[str, tuple[Consumer, Mapping[str, Any]]] = OrderedDict()

    def _fail(self, message: str) -> Exit:
        return json_exit(401, {"message": message}, [self._CHALLENGE])

    def _token(self, ctx: RequestContext) -> tuple[str | None, str]:
        value = ctx.headers.get(self._header)
        if value is not None:
            if value[:7] in ("Bearer ", "bearer "):
                return value[7:], "header"
            return value, "header"
        value = ctx.args.get(self._query)
        if value is not None:
            return value, "query"
        return _cookie(ctx.headers, self._cookie), "cookie"

    async def run(self, ctx: RequestContext) -> Exit | None:
        token, source = self._token(ctx)
        if not token:
            return self._fail("Missing JWT token in request")
        verified = self._verified.get(token)
        if verified is None:
            result = self._verify(ctx, token)
            if isinstance(result, Exit):
                return result
            verified = result
            self._verified[token] = verified
            while len(self._verified) > _CACHE_ENTRIES:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)
        consumer, payload = verified
        if not _times_ok(payload, self._required, time.time()):
            logger.warning("failed to verify jwt: exp/nbf")
            return self._fail("failed to verify jwt")
        if self.conf.get("hide_credentials", False):
            _hide(ctx, source, self._header, self._query)
        ctx.consumer = consumer
        ctx.headers["X-Consumer-Username"] = consumer.username
        return None

    def _verify(self, ctx: RequestContext, token: str) -> tuple[Consumer, Mapping[str, Any]] | Exit:
        """Everything that does not depend on the time: parse, consumer, algorithm, signature."""
        unverified = _unverified(token)
        if unverified is None:
            return self._fail("JWT token invalid")
        header, payload = unverified
        key = payload.get(self._claim)
        if not isinstance(key, str) or not key:
            return self._fail("missing user key in JWT token")
        consumer, credential = None, None
        for candidate in ctx.services.consumers:
            found = candidate.plugins.get("jwt-auth")
            if isinstance(found, JwtAuthCredential) and found.key == key:
                consumer, credential = candidate, found
        if consumer is None or credential is None:
            return self._fail("Invalid user key in JWT token")
        if header.get("alg") != credential.algorithm:
            logger.warning("failed to verify jwt: algorithm %r", header.get("alg"))
            return self._fail("failed to verify jwt")
        try:
            jws.deserialize_compact(token, credential.public_key, algorithms=[credential.algorithm])
        except (JoseError, ValueError, TypeError):
            logger.warning("failed to verify jwt: bad signature")
            return self._fail("failed to verify jwt")
        return consumer, payload


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def _unverified(token: str) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, payload = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return header, payload


def _times_ok(payload: Mapping[str, Any], required: frozenset[str], now: float) -> bool:
    for claim in ("exp", "nbf"):
        value = payload.get(claim)
        if value is None:
            if claim in required:
                return False
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if claim == "exp" and value <= now:
            return False
        if claim == "nbf" and value > now:
            return False
    return True


def _cookie(headers: CIMultiDict[str], name: str) -> str | None:
    for raw in headers.getall("Cookie", []):
        for part in raw.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value
    return None


def _hide(ctx: RequestContext, source: str, header: str, query: str) -> None:
    if source == "header":
        ctx.headers.popall(header, None)
    elif source == "query":
        del ctx.args[query]
        ctx.args_changed = True


class MultiAuth(GatewayPlugin):
    name = "multi-auth"
    priority = 2600
    phase = "rewrite"
    schema = {
        "type": "object",
        "properties": {
            "auth_plugins": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    # Only the auth plugins the stand-in implements.
                    "propertyNames": {"enum": ["key-auth", "jwt-auth"]},
                },
            },
        },
        "required": ["auth_plugins"],
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        # The schema's propertyNames already limit the names to these two.
        parts: dict[str, type[KeyAuth | JwtAuth]] = {"key-auth": KeyAuth, "jwt-auth": JwtAuth}
        self.inner: tuple[GatewayPlugin, ...] = tuple(
            parts[name].from_conf(inner_conf, "multi-auth")
            for entry in conf["auth_plugins"]
            for name, inner_conf in entry.items()
        )
        for plugin in self.inner:
            if not isinstance(plugin, KeyAuth | JwtAuth) or plugin.error_response is not None:
                raise ConfigError("plugin 'multi-auth': auth_plugins entries take no _meta")

    async def run(self, ctx: RequestContext) -> Exit | None:
        failures = []
        for plugin in self.inner:
            result = await plugin.run(ctx)
            if result is None:
                return None
            failures.append((plugin.name, result.body[:100]))
        # Logged only when every plugin failed (a bearer request always "fails" key-auth first).
        logger.warning("multi-auth: all auth plugins failed: %r", failures)
        return json_exit(401, {"message": "Authorization Failed"})
