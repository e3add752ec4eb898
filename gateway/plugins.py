"""The APISIX plugins the local gateway implements, with APISIX's priorities, phases and replies.

Strategy: each plugin is a small class built once from its YAML conf. The conf is validated
against a JSON schema that lists ONLY the fields implemented here (``additionalProperties:
false``), so a field the stand-in would ignore is a startup error naming plugin, field and value.
A plugin has a phase (``rewrite`` / ``access``; ``before_proxy`` for ext-plugin-post-resp), a
priority (APISIX's numbers: the pipeline sorts by them), ``run`` for its phase, and
``header_filter`` for the response. Replies copy APISIX 3.x: statuses, JSON bodies and header
names are those of ``apisix/plugins/*.lua`` as observed (see docs/local-stack.md).

The rate-limit window uses the ``limits`` library (fixed window starting at the first hit, as
APISIX's local ``limit-count`` policy does). CORS is written out here: APISIX's rules (exact
origin match against a comma list, ``Vary: Origin`` always, OPTIONS answered 200 by the plugin
whatever the origin) are not what general-purpose CORS middlewares do.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
from limits import RateLimitItemPerSecond
from multidict import CIMultiDict

from gateway.errors import ConfigError, Exit, json_exit, status_exit, table_body
from gateway.external import call_request
from gateway.uri import safe_encode

if TYPE_CHECKING:
    from gateway.context import RequestContext

logger = logging.getLogger(__name__)

_STRING = {"type": "string"}
_BOOL = {"type": "boolean"}


class GatewayPlugin:
    """A configured plugin instance; subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    priority: ClassVar[int]
    #: "rewrite", "access", "before_proxy" or "credential" (consumer-side data only).
    phase: ClassVar[str]
    schema: ClassVar[dict[str, Any]]

    def __init__(self, conf: Mapping[str, Any]) -> None:
        self.conf = conf
        #: ``_meta.error_response``: replaces the body of any exit >= 400 of this plugin.
        self.error_response: Any = None

    async def run(self, ctx: RequestContext) -> Exit | None:
        """Run the plugin's phase; an :class:`Exit` ends the request."""
        return None

    def header_filter(self, ctx: RequestContext, headers: CIMultiDict[str]) -> None:
        """Edit the client response headers (runs on every response, exits included)."""

    def body_filter(self, ctx: RequestContext, body: bytes) -> bytes:
        """Edit the whole client response body (after every header filter has run)."""
        return body


class RequestId(GatewayPlugin):
    name = "request-id"
    priority = 12015
    phase = "rewrite"
    schema = {
        "type": "object",
        "properties": {
            "header_name": _STRING,
            "include_in_response": _BOOL,
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
            "allow_origins": _STRING,
            "allow_methods": _STRING,
            "allow_headers": _STRING,
            "expose_headers": _STRING,
            "max_age": {"type": "integer"},
            "allow_credential": _BOOL,
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
        "properties": {"header": _STRING, "query": _STRING, "hide_credentials": _BOOL},
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
            "whitelist": {"type": "array", "items": _STRING, "minItems": 1},
            "blacklist": {"type": "array", "items": _STRING, "minItems": 1},
            "rejected_code": {"type": "integer", "minimum": 200},
            "rejected_msg": _STRING,
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


class LimitCount(GatewayPlugin):
    name = "limit-count"
    priority = 1002
    phase = "access"
    schema = {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "exclusiveMinimum": 0},
            "time_window": {"type": "integer", "exclusiveMinimum": 0},
            # var_combination and the redis policies are not implemented.
            "key_type": {"enum": ["var", "constant"]},
            "key": _STRING,
            "group": _STRING,
            "rejected_code": {"type": "integer", "minimum": 200, "maximum": 599},
            "rejected_msg": {"type": "string", "minLength": 1},
            "policy": {"enum": ["local"]},
            # Read by APISIX only with a redis policy; accepted (and unused) with "local".
            "redis_host": _STRING,
            "redis_port": {"type": "integer"},
            "redis_password": _STRING,
            "redis_database": {"type": "integer"},
            "redis_timeout": {"type": "integer"},
            "show_limit_quota_header": _BOOL,
            "allow_degradation": _BOOL,
        },
        "required": ["count", "time_window"],
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        self._item = RateLimitItemPerSecond(conf["count"], conf["time_window"])
        key_type = conf.get("key_type", "var")
        key = conf.get("key", "remote_addr")
        if key_type == "var" and not (
            key in ("remote_addr", "consumer_name", "route_id") or key.startswith("http_")
        ):
            raise ConfigError(f"plugin 'limit-count': var key {key!r} is not implemented")
        # Without a group APISIX keys the counter by the plugin instance, so keep one per object.
        self._scope = conf.get("group") or f"instance-{id(self)}"

    def _key(self, ctx: RequestContext) -> str:
        key = str(self.conf.get("key", "remote_addr"))
        if self.conf.get("key_type", "var") == "var":
            # APISIX falls back to remote_addr when the variable is empty.
            return ctx.variable(key) or ctx.src_ip
        return key

    async def run(self, ctx: RequestContext) -> Exit | None:
        limiter = ctx.services.limiter
        ident = (self._scope, self._key(ctx))
        allowed = await limiter.hit(self._item, *ident)
        stats = await limiter.get_window_stats(self._item, *ident)
        headers: list[tuple[str, str]] = []
        if self.conf.get("show_limit_quota_header", True):
            headers = [
                ("X-RateLimit-Limit", str(self.conf["count"])),
                ("X-RateLimit-Remaining", str(max(0, stats.remaining))),
                ("X-RateLimit-Reset", _seconds(stats.reset_time - time.time())),
            ]
        if allowed:
            ctx.resp_headers.extend(headers)
            return None
        if "rejected_msg" in self.conf:
            return json_exit(
                self.conf.get("rejected_code", 503),
                {"error_msg": self.conf["rejected_msg"]},
                headers,
            )
        result = status_exit(self.conf.get("rejected_code", 503))
        result.headers.extend(headers)
        return result


def _seconds(value: float) -> str:
    """Format seconds like APISIX's Reset header: ``60``, ``59.98``."""
    text = f"{max(0.0, value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


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
                            "remove": {"type": "array", "items": _STRING},
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


class ExtPlugin(GatewayPlugin):
    """Common conf of the three ext-plugin-* plugins; the pipeline talks to the runner."""

    schema = {
        "type": "object",
        "properties": {
            "conf": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 128},
                        "value": _STRING,
                    },
                    "required": ["name", "value"],
                    "additionalProperties": False,
                },
            },
            "allow_degradation": _BOOL,
        },
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        self.entries: tuple[tuple[str, str], ...] = tuple(
            (item["name"], item["value"]) for item in conf.get("conf", ())
        )
        self.allow_degradation: bool = conf.get("allow_degradation", False)

    async def run(self, ctx: RequestContext) -> Exit | None:
        return await call_request(self, ctx)


class ExtPluginPreReq(ExtPlugin):
    name = "ext-plugin-pre-req"
    priority = 12000
    phase = "rewrite"


class ExtPluginPostReq(ExtPlugin):
    name = "ext-plugin-post-req"
    priority = -3000
    phase = "access"


class ExtPluginPostResp(ExtPlugin):
    name = "ext-plugin-post-resp"
    priority = -4000
    phase = "before_proxy"

    async def run(self, ctx: RequestContext) -> Exit | None:
        # The pipeline sends the upstream request itself and then calls the runner.
        return None


_ROUTE_PLUGINS: dict[str, type[GatewayPlugin]] = {
    cls.name: cls
    for cls in (
        RequestId,
        Cors,
        KeyAuth,
        ConsumerRestriction,
        LimitCount,
        ProxyRewrite,
        ExtPluginPreReq,
        ExtPluginPostReq,
        ExtPluginPostResp,
    )
}
#: What a consumer may carry: its credential, and plugins merged into the route (as APISIX does).
_CONSUMER_PLUGINS: dict[str, type[GatewayPlugin]] = {
    "key-auth": KeyAuthCredential,
    "limit-count": LimitCount,
    "consumer-restriction": ConsumerRestriction,
    "proxy-rewrite": ProxyRewrite,
    "request-id": RequestId,
}


def _plugin_class(name: str, where: str) -> type[GatewayPlugin] | None:
    if where.startswith("consumer"):
        return _CONSUMER_PLUGINS.get(name)
    if name == "conference-errors":
        # The project's own plugin lives in its own module, which imports this one.
        from gateway.conference_errors import ConferenceErrors

        return ConferenceErrors
    return _ROUTE_PLUGINS.get(name)


def build_plugin(name: str, raw: Any, where: str) -> GatewayPlugin:
    """Validate a plugin conf and build the plugin (``where`` names the route or consumer)."""
    cls = _plugin_class(name, where)
    if cls is None:
        raise ConfigError(f"{where}: plugin {name!r} is not implemented by the local gateway")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: plugin {name!r} conf must be an object, got {raw!r}")
    conf = dict(raw)
    meta = conf.pop("_meta", None)
    schema = {**cls.schema, "additionalProperties": False}
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(conf)
    )
    if error is not None:
        field = "/".join(str(p) for p in error.absolute_path) or "(conf)"
        raise ConfigError(f"{where}: plugin {name!r} field {field}: {error.message}")
    plugin = cls(conf)
    if meta is not None:
        if not isinstance(meta, Mapping) or set(meta) - {"error_response"}:
            raise ConfigError(
                f"{where}: plugin {name!r} _meta {meta!r}: only 'error_response' is implemented"
            )
        response = meta.get("error_response")
        if not isinstance(response, str | Mapping):
            raise ConfigError(
                f"{where}: plugin {name!r} _meta.error_response must be a string or an object"
            )
        plugin.error_response = response
    return plugin


def error_response_body(plugin: GatewayPlugin) -> bytes | None:
    """The configured ``_meta.error_response`` as the bytes APISIX sends, or None."""
    response = plugin.error_response
    if response is None:
        return None
    if isinstance(response, str):
        return response.encode()
    return table_body(response)
