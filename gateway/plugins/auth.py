"""Who may call: key-auth (with its consumer credential), consumer-restriction."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.errors import Exit, json_exit
from gateway.plugins.base import BOOL, STRING, GatewayPlugin

if TYPE_CHECKING:
    from gateway.context import RequestContext

logger = logging.getLogger(__name__)

__all__ = ["ConsumerRestriction", "KeyAuth", "KeyAuthCredential"]


class KeyAuthCredential(GatewayPlugin):
    """``key-auth`` as declared on a consumer: the consumer's key, nothing that runs."""

    name = "key-auth"
    priority = 2500
    phase = "credential"
    schema = {
        "type": "object",
        "properties": {"key": {"type": "string", "minLength": 1}},
        "required": ["key"],
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        #: Encoded once here: KeyAuth compares it on every request.
        self.key: bytes = conf["key"].encode()


class KeyAuth(GatewayPlugin):
    name = "key-auth"
    priority = 2500
    phase = "rewrite"
    schema = {
        "type": "object",
        "properties": {"header": STRING, "query": STRING, "hide_credentials": BOOL},
    }
    _CHALLENGE = ("WWW-Authenticate", 'apikey realm="key"')

    async def run(self, ctx: RequestContext) -> Exit | None:
        header = self.conf.get("header", "apikey")
        query = self.conf.get("query", "apikey")
        key = ctx.headers.get(header)
        from_header = key is not None
        if key is None:
            key = ctx.args.get(query)
        # Lua's "if not key": an empty key is still a key, looked up and found invalid.
        if key is None:
            return json_exit(401, {"message": "Missing API key in request"}, [self._CHALLENGE])
        consumer = None
        # aiohttp keeps header bytes that are not UTF-8 as surrogate escapes: give them back.
        wanted = key.encode("utf-8", "surrogateescape")
        # Compare against every consumer, without early exit, in constant time per key.
        for candidate in ctx.services.consumers:
            credential = candidate.plugins.get("key-auth")
            if isinstance(credential, KeyAuthCredential) and hmac.compare_digest(
                wanted, credential.key
            ):
                consumer = candidate
        if consumer is None:
            logger.warning("failed to find consumer: invalid api key")
            return json_exit(401, {"message": "Invalid API key in request"}, [self._CHALLENGE])
        if self.conf.get("hide_credentials", False):
            if from_header:
                del ctx.headers[header]
            else:
                del ctx.args[query]
                ctx.args_changed = True
        ctx.consumer = consumer
        ctx.headers["X-Consumer-Username"] = consumer.username
        return None


class ConsumerRestriction(GatewayPlugin):
    name = "consumer-restriction"
    priority = 2400
    phase = "access"
    schema = {
        "type": "object",
        "properties": {
            # consumer_group_id / service_id / route_id are not implemented.
            "type": {"enum": ["consumer_name"]},
            "whitelist": {"type": "array", "items": STRING, "minItems": 1},
            "blacklist": {"type": "array", "items": STRING, "minItems": 1},
            "rejected_code": {"type": "integer", "minimum": 200},
            "rejected_msg": STRING,
        },
        "oneOf": [{"required": ["whitelist"]}, {"required": ["blacklist"]}],
    }

    async def run(self, ctx: RequestContext) -> Exit | None:
        if ctx.consumer is None:
            return json_exit(401, {"message": "Missing authentication or identity verification."})
        name = ctx.consumer.username
        if "whitelist" in self.conf:
            allowed = name in self.conf["whitelist"]
        else:
            allowed = name not in self.conf["blacklist"]
        if allowed:
            return None
        message = self.conf.get("rejected_msg", "The consumer_name is forbidden.")
        return json_exit(self.conf.get("rejected_code", 403), {"message": message})
