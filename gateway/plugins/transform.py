"""Plugins that edit what goes upstream and back: request-id, cors, proxy-rewrite.

CORS is written out here: APISIX's rules (exact origin match against a comma list, ``Vary:
Origin`` always, OPTIONS answered 200 by the plugin whatever the origin) are not what
general-purpose CORS middlewares do.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from gateway.errors import ConfigError, Exit
from gateway.plugins.base import BOOL, STRING, GatewayPlugin
from gateway.uri import safe_encode

if TYPE_CHECKING:
    from gateway.context import RequestContext

logger = logging.getLogger(__name__)

__all__ = ["Cors", "ProxyRewrite", "RequestId"]


class RequestId(GatewayPlugin):
    name = "request-id"
    priority = 12015
    phase = "rewrite"
    schema = {
        "type": "object",
        "properties": {
            "header_name": STRING,
            "include_in_response": BOOL,
            # nanoid / range_id / ksuid exist in APISIX but are not implemented here.
            "algorithm": {"enum": ["uuid"]},
        },
    }

    async def run(self, ctx: RequestContext) -> Exit | None:
        header = self.conf.get("header_name", "X-Request-Id")
        value = ctx.headers.get(header)
        if not value:
            value = str(uuid.uuid4())
            ctx.headers[header] = value
        ctx.vars["request_id"] = value
        return None

    def header_filter(self, ctx: RequestContext, headers: CIMultiDict[str]) -> None:
        header = self.conf.get("header_name", "X-Request-Id")
        value = ctx.vars.get("request_id")
        # APISIX keeps an X-Request-Id the upstream already sent.
        if self.conf.get("include_in_response", True) and value and header not in headers:
            headers[header] = value


class Cors(GatewayPlugin):
    name = "cors"
    priority = 4000
    phase = "rewrite"
    schema = {
        "type": "object",
        "properties": {
            "allow_origins": STRING,
            "allow_methods": STRING,
            "allow_headers": STRING,
            "expose_headers": STRING,
            "max_age": {"type": "integer"},
            "allow_credential": BOOL,
        },
    }
    _ALL_METHODS = "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE"

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        origins = conf.get("allow_origins", "*")
        if conf.get("allow_credential") and "*" in (
            origins,
            conf.get("allow_methods"),
            conf.get("allow_headers"),
        ):
            raise ConfigError("plugin 'cors': allow_credential true cannot be used with '*'")
        self._origins = frozenset(o.strip() for o in origins.split(","))

    async def run(self, ctx: RequestContext) -> Exit | None:
        origin = ctx.headers.get("Origin")
        if origin is not None:
            ctx.vars["cors_origin"] = origin
        # APISIX answers every OPTIONS here, before auth, whatever the origin.
        if ctx.method == "OPTIONS":
            return Exit(200)
        return None

    def _allowed_origin(self, origin: str | None) -> str | None:
        allow = self.conf.get("allow_origins", "*")
        if allow == "*":
            return "*"
        if origin is None:
            return None
        if allow == "**" or origin in self._origins:
            return origin
        return None

    def header_filter(self, ctx: RequestContext, headers: CIMultiDict[str]) -> None:
        allow = self.conf.get("allow_origins", "*")
        if allow != "*":
            headers.add("Vary", "Origin")
        origin = self._allowed_origin(ctx.vars.get("cors_origin"))
        if origin is None:
            return
        methods = self.conf.get("allow_methods", "*")
        allow_headers = self.conf.get("allow_headers", "*")
        if allow_headers == "**":
            allow_headers = ctx.headers.get("Access-Control-Request-Headers", "")
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Methods"] = self._ALL_METHODS if methods == "**" else methods
        headers["Access-Control-Max-Age"] = str(self.conf.get("max_age", 5))
        if self.conf.get("expose_headers"):
            headers["Access-Control-Expose-Headers"] = self.conf["expose_headers"]
        if allow_headers:
            headers["Access-Control-Allow-Headers"] = allow_headers
        if self.conf.get("allow_credential"):
            headers["Access-Control-Allow-Credentials"] = "true"


class ProxyRewrite(GatewayPlugin):
    name = "proxy-rewrite"
    priority = 1008
    phase = "rewrite"
    _VALUE = {"type": "string", "pattern": r"^[^$]*$"}
    schema = {
        "type": "object",
        "properties": {
            # Values may not use nginx variables ($name): the stand-in does not expand them;
            # nor a query in uri (APISIX splits it off and merges the client's args).
            "uri": {"type": "string", "pattern": r"^/[^$?]*$"},
            "host": {"type": "string", "pattern": r"^[^$/]+$"},
            "method": {
                "enum": ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "TRACE"]
            },
            "headers": {
                "type": "object",
                "anyOf": [
                    {
                        "properties": {
                            "add": {"type": "object", "additionalProperties": _VALUE},
                            "set": {"type": "object", "additionalProperties": _VALUE},
                            "remove": {"type": "array", "items": STRING},
                        },
                        "additionalProperties": False,
                    },
                    {
                        "not": {
                            "anyOf": [
                                {"required": ["add"]},
                                {"required": ["set"]},
                                {"required": ["remove"]},
                            ]
                        },
                        "additionalProperties": _VALUE,
                    },
                ],
            },
        },
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        headers = conf.get("headers", {})
        if not any(verb in headers for verb in ("add", "set", "remove")):
            headers = {"set": headers}  # the old flat form means "set"
        self._add: dict[str, str] = dict(headers.get("add", {}))
        self._set: dict[str, str] = dict(headers.get("set", {}))
        self._remove: list[str] = list(headers.get("remove", []))

    async def run(self, ctx: RequestContext) -> Exit | None:
        if "uri" in self.conf:
            ctx.upstream_path = safe_encode(self.conf["uri"])
        else:
            # proxy-rewrite.lua always sets upstream_uri, to uri_safe_encode($uri).
            ctx.upstream_path = safe_encode(ctx.path)
        if "host" in self.conf:
            ctx.upstream_host = self.conf["host"]
        if "method" in self.conf:
            ctx.upstream_method = self.conf["method"]
        # APISIX's documented order: add, then remove, then set.
        for name, value in self._add.items():
            ctx.headers.add(name, value)
        for name in self._remove:
            ctx.headers.popall(name, None)
        for name, value in self._set.items():
            ctx.headers[name] = value
        return None
